"""The files under a CRM database, written so that a crash never leaves half of one (ONCE-3,
SEC-3): the atomic write (temp file, fsync, rename, fsync of the directory), and the sweep of
the temp files a killed run left. (TinyDB's own JSONStorage rewrites its file in place, so a
crash mid-write would leave half a file: the engine writes its TinyDB files through this.)"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file_atomically(path: Path, data: bytes, *, sync_dir: bool = True) -> None:
    """Temp file beside the target (owner-only), fsync, rename over, fsync the directory."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if sync_dir:
        fsync_dir(path.parent)


def remove_stale_temp_files(db: Path, *folders: Path) -> None:
    """Temp files of a run that was killed while writing (ONCE-3): never renamed into place,
    so nothing points to them. Only the lock holder may remove them. Beside the database, only
    the database's own (other programs' files may share its directory); in the folders that
    are crmlog's alone, every one."""
    for folder, prefix in ((db.parent, f".{db.name}."), *((f, ".") for f in folders)):
        try:
            stale = [p for p in folder.iterdir() if p.name.startswith(prefix) and p.name.endswith(".tmp")]
        except OSError:
            continue
        for p in stale:
            p.unlink(missing_ok=True)
