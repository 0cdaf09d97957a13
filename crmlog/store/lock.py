"""One writer at a time (ONCE-4): an OS lock on a file beside the database, released when its
process ends, even by kill -9, so a stale lock file never blocks a run."""

from __future__ import annotations

from pathlib import Path

import filelock

from ..errors import LockBusy, StorageIOError


def take_lock(db: Path, timeout: float) -> filelock.FileLock:
    """The lock of the database `db` (its directory made, owner-only), waited for up to
    `timeout` seconds: LockBusy (75) after that, StorageIOError (74) where it cannot be taken."""
    try:
        db.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise StorageIOError(f"cannot create the data directory {db.parent}: {exc.strerror}") from None
    lock = filelock.FileLock(str(db) + ".lock", timeout=timeout, mode=0o600)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise LockBusy(f"another crmlog run holds the lock {db}.lock; gave up after {timeout:g}s") from None
    except OSError as exc:
        raise StorageIOError(f"cannot lock the database {db}: {exc.strerror}") from None
    return lock
