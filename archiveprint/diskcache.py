"""Files an installation keeps to skip slow work on the next start: file fingerprints, whole-file writes, a lock."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import lru_cache
from pathlib import Path
from typing import IO

SAMPLE = 1 << 20  # bytes read from each end of a large file for its fingerprint
log = logging.getLogger(__name__)


def cache_dir(instance_dir: Path) -> Path:
    """<instance>/cache: everything in it can be deleted at any time and is rebuilt when needed."""
    return instance_dir / "cache"


def fingerprint(path: Path) -> str:
    """A large file's fingerprint: name, size, mtime and both ends (hashing the 58 MB of fonts whole costs 0.24 s)."""
    stat = path.stat()
    return _fingerprint(path, stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=32)
def _fingerprint(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256(f"{path.name}:{size}:{mtime_ns}".encode())
    with path.open("rb") as fp:
        digest.update(fp.read(SAMPLE))
        fp.seek(max(0, size - SAMPLE))
        digest.update(fp.read(SAMPLE))
    return digest.hexdigest()


def write_whole(path: Path, data: bytes) -> bool:
    """Write beside and rename into place, so a reader sees no file or a whole one; False (logged) if it failed."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("wb") as fp:
            fp.write(data)
            fp.flush()
            os.fsync(fp.fileno())
        os.replace(tmp, path)
        return True
    except OSError:
        log.warning("could not write cache file %s", path.name)
        with suppress(OSError):
            tmp.unlink()
        return False


def read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


@contextmanager
def exclusive(path: Path) -> Iterator[bool]:
    """Hold an exclusive lock on `path` (a lock file) so that a second process waits, then finds the first one's
    work on disk. Yields False when no lock could be taken (folder not writable, or no fcntl): go on without."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle: IO[str] = path.open("a")
    except OSError:
        yield False
        return
    with handle:
        try:
            import fcntl  # lazy: POSIX only; on Windows the lock is skipped (the ImportError below)
        except ImportError:  # pragma: no cover - Windows: both may work, the last whole write wins
            yield False
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
