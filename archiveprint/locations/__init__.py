"""Locations: the archive room as data — shelves, home positions, movement history, pick lists and re-layout."""
