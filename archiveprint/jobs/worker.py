"""The RQ worker archiveprint's workers run: it loads the app and what every print reuses once, before it forks."""

from __future__ import annotations

import logging
import sys
import time

from rq import Worker

log = logging.getLogger(__name__)

COMMAND_POLL_SECONDS = 1.0  # how long a stopped worker may wait for its command thread (see PrintWorker.subscribe)


class PrintWorker(Worker):
    """`rq worker --worker-class archiveprint.jobs.worker.PrintWorker`: RQ's forking worker, warmed up.

    RQ forks a work horse per job and throws it away after: whatever a job loads (the app's modules, the form
    catalogue, the font's metrics, the blank layouts read from the cache folder) a plain worker loads again for
    the next job, about 2 s a job on 2 cores. Loaded here, in the worker itself, each horse inherits it (the pages
    are shared until written). The blank layouts are only read from the shared cache folder, never laid out here:
    the first job that needs a form lays it out once, for every worker (forms/layout.py).
    """

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]  # rq's own signature
        super().__init__(*args, **kwargs)
        log_to_stderr()
        warm_up()

    def wait_for_horse(self):  # type: ignore[no-untyped-def]  # rq's own signature
        """RQ's wait for the work horse, then its peak memory and CPU time logged (what a county sizes its print
        machines by: memory stays flat however many pages a job prints)."""
        pid, status, usage = super().wait_for_horse()
        if pid and usage is not None:
            log.info("work horse %s ended: peak memory %.0f MiB, CPU %.2f s", pid, usage.ru_maxrss / 1024,
                     usage.ru_utime + usage.ru_stime)  # ru_maxrss is in KiB on Linux
        return pid, status, usage

    def subscribe(self):  # type: ignore[no-untyped-def]  # rq's own signature
        """RQ's command channel (stop, kill a job), its thread polling every second instead of every 60 s.

        RQ 3 unsubscribes before it stops that thread, and redis-py 8's stop() waits for the thread: a thread that
        has read the unsubscribe reply waits for a new subscription as long as it polls, so a warm shutdown (systemd
        stop, SIGTERM) sometimes took 60 s (about 1 in 40 stops; the stack smoke test's worker was killed at 30 s).
        """
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=COMMAND_POLL_SECONDS, daemon=True, exception_handler=self._pubsub_exception_handler)


def log_to_stderr() -> None:
    """archiveprint's own log lines (a form laid out, a job that failed) beside RQ's in the worker's log (the
    journal under systemd), unless logging was set up already."""
    logger = logging.getLogger("archiveprint")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def warm_up() -> dict[str, float]:
    """Load the job runner and the caches every print reads; the seconds each took (logged)."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    from archiveprint import models  # noqa: F401  # lazy: the worker's parent imports the app once, here
    from archiveprint.config import Settings  # lazy: as above
    from archiveprint.forms.catalog import load_catalog  # lazy: as above
    from archiveprint.forms.layout import engine, layout_cache_dir, use_cache_dir  # lazy: as above
    from archiveprint.jobs import runners  # noqa: F401  # lazy: as above
    from archiveprint.pdf.fonts import font_path, load_metrics, preload_subsetter  # lazy: as above

    timings["import"] = time.perf_counter() - started
    settings = Settings.from_env()
    use_cache_dir(layout_cache_dir(settings.instance_dir))
    mark = time.perf_counter()
    catalog = load_catalog()
    load_metrics(font_path())
    preload_subsetter()
    timings["catalog_and_font"] = time.perf_counter() - mark
    mark = time.perf_counter()
    loaded = engine().preload(catalog.forms.values())
    timings["layouts"] = time.perf_counter() - mark
    log.info("archiveprint worker warmed up: %s; %d blank layouts read from the cache",
             ", ".join(f"{name} {seconds:.2f} s" for name, seconds in timings.items()), loaded)
    return timings
