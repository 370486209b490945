"""Background jobs (print runs, large register imports): models (the jobs table), queue (local thread or RQ on Redis,
progress, recovery), runners (what a job does), retention (removing old outputs). Importing the package imports
nothing."""
