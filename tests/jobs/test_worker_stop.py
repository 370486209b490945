"""A stopped PrintWorker lets go of its command channel within about a second, whatever its thread was doing."""

from __future__ import annotations

import time
import uuid

import redis  # a hard dependency (pyproject.toml): this runs on the real Redis, never skips
from rq import Worker

from archiveprint.jobs.worker import COMMAND_POLL_SECONDS, PrintWorker
from tests.waiting import eventually

REDIS_URL = "redis://127.0.0.1:6379/0"


class UnwarmedWorker(PrintWorker):
    """PrintWorker's channel handling without its warm-up (the app's modules, the catalogue, the font)."""

    __init__ = Worker.__init__


def test_a_warm_shutdown_after_the_unsubscribe_reply_does_not_wait_a_minute():
    """The race the stack smoke test met 1 time in 40: the command thread reads the reply to RQ's UNSUBSCRIBE before
    RQ stops it, then waits for a subscription as long as it polls (RQ's own 60 s; redis-py 8's stop() waits for it).
    Here the reply is read first on purpose, every time."""
    connection = redis.Redis.from_url(REDIS_URL)
    queue = f"archiveprint-test-{uuid.uuid4().hex[:8]}"
    worker = UnwarmedWorker([queue], name=f"{queue}-1", connection=connection)
    worker.subscribe()
    try:
        eventually(lambda: worker.pubsub.subscribed, what="the worker's command channel subscribed")
        worker.pubsub.unsubscribe()
        eventually(lambda: not worker.pubsub.subscribed, what="the thread to read the unsubscribe reply")
        time.sleep(0.2)  # into its wait for a new subscription
        started = time.monotonic()
        worker.unsubscribe()
        took = time.monotonic() - started
        assert not worker.pubsub_thread.is_alive()
        assert took < COMMAND_POLL_SECONDS + 2, f"the command thread held the stop for {took:.1f} s"
    finally:
        if worker.pubsub_thread.is_alive():
            worker.pubsub_thread._running.clear()  # a failed run: let the daemon thread end at its next poll
