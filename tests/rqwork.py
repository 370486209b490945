"""Run a real RQ worker in the test's process until its queues are empty (a burst), without RQ's pubsub thread."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def work_burst(queues: Sequence[Any], connection: Any) -> None:
    """`SimpleWorker(queues).work(burst=True)`, minus the channel a worker listens on for commands (stop, kill a
    job): a burst takes none, and RQ 3's pubsub thread, polling with a 60-second timeout, held the worker's close for
    up to a minute after the last job (two tests spent 60 s each waiting for it)."""
    from rq import SimpleWorker  # lazy: only the tests that run RQ import it

    class BurstWorker(SimpleWorker):
        def subscribe(self) -> None:  # no command channel: see above
            pass

    BurstWorker(list(queues), connection=connection).work(burst=True)
