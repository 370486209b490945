"""Backup and restore of an installation: the database and the instance folder in one verified file."""
