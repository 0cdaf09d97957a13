"""Stored attachments copied out for a user (`emails show --save-attachments DIR`): under safe,
distinct names (SEC-1), readable by their owner only (SEC-3)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from ..errors import NotFound, StorageIOError
from ..records import StoredAttachment

_UNSAFE = re.compile(r"[^\w.\- ()\[\]+,@=]+")


def save_attachments(
    attachments: Iterable[StoredAttachment], read: Callable[[str], bytes | None], target: Path
) -> list[Path]:
    """Copy the stored ones of `attachments` (their contents from `read`, by SHA-256) into
    `target`: the files 0600, `target` 0700 where crmlog creates it (an existing directory
    keeps its mode). A name taken already gets a number; nothing in `target` is overwritten
    or followed."""
    try:
        target.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise StorageIOError(f"cannot create {target}: {exc.strerror}") from None
    saved: list[Path] = []
    for a in attachments:
        if not a.stored:
            continue
        data = read(a.sha256)
        if data is None:
            raise NotFound(f"attachment {a.sha256} is missing from the attachment store")
        name = safe_filename(a.filename, f"attachment-{a.sha256[:12]}")
        saved.append(_write_private(data, target, name))
    return saved


def safe_filename(name: str, fallback: str) -> str:
    """A file name from a message made harmless: no directories, no dot files, no control
    characters, at most 200 characters (SEC-1)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("_", base).strip(" ._")[:200]
    return base or fallback


def _write_private(data: bytes, target: Path, name: str) -> Path:
    """Write `data` to a new file `target/name` (or `name-2`, `name-3`, ...), created 0600 with
    O_EXCL, so that an existing file or a planted symbolic link is never written through."""
    stem, dot, ext = name.rpartition(".")
    if not (dot and stem):
        stem, ext = name, ""
    n = 1
    while True:
        path = target / name
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            n += 1
            name = f"{stem}-{n}.{ext}" if ext else f"{stem}-{n}"
            continue
        except OSError as exc:
            raise StorageIOError(f"cannot write {path}: {exc.strerror}") from None
        try:
            with os.fdopen(fd, "wb") as out:
                os.fchmod(out.fileno(), 0o600)  # whatever the umask
                out.write(data)
        except OSError as exc:
            path.unlink(missing_ok=True)
            raise StorageIOError(f"cannot write {path}: {exc.strerror}") from None
        return path
