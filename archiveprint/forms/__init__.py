"""Health-record forms: definitions as data, blank pages laid out once, values stamped per resident."""
