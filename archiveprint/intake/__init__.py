"""回收归档: scanned stacks of returned form pages, each page read by its re-filing mark and listed for its folder."""
