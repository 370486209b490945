"""One way for a test to wait for something another thread or process does: poll until it answers, or fail."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(check: Callable[[], T | None], *, what: str, seconds: float = 60, every: float = 0.1) -> T:
    """Call `check` until it returns something other than None (or False) and return that; fail naming `what`
    after `seconds` (measured on the monotonic clock). Exceptions from `check` are not swallowed."""
    deadline = time.monotonic() + seconds
    while True:
        answer = check()
        if answer is not None and answer is not False:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {seconds:g} s")
        time.sleep(every)
