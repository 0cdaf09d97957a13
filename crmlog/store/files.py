"""The files under a CRM database, written so that a crash never leaves half of one (ONCE-3,
SEC-3): the atomic write (temp file, fsync, rename, fsync of the directory), TinyDB's storage
over it, and the body packs.

- TinyDB's own JSONStorage rewrites its file in place, so a crash mid-write leaves half a file.
  AtomicJSONStorage keeps the data in memory and writes only when flushed: a reader sees the
  old file or the new.
- Message bodies live in append-only pack files, one per batch, not in the JSON, so the
  database a view loads holds what it shows, and a batch rewrites metadata, not mail.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Any

from tinydb.storages import Storage

from .. import jsonio
from ..errors import DataError


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


def remove_stale_temp_files(*folders: Path) -> None:
    """Temp files of a run that was killed while writing (ONCE-3): never renamed into place,
    so nothing points to them. Only the lock holder may remove them."""
    for folder in folders:
        try:
            stale = [p for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]
        except OSError:
            continue
        for p in stale:
            p.unlink(missing_ok=True)


class AtomicJSONStorage(Storage):
    """TinyDB storage: reads the file once, keeps every change in memory, writes on flush()."""

    def __init__(self, path: str, data: dict[str, Any]):
        self.path = Path(path)
        self.data = data
        self.dirty = False

    def read(self) -> dict[str, Any]:
        return self.data

    def write(self, data: dict[str, Any]) -> None:
        self.data = data
        self.dirty = True

    def flush(self) -> None:
        if self.dirty:
            write_file_atomically(self.path, jsonio.dumps(self.data))
            self.dirty = False

    def close(self) -> None:
        pass


class BodyPacks:
    """Message bodies, one pack file per batch (`<db stem>.bodies/NNNNNN.pack`): each body a
    zlib-compressed JSON object {text, html, detail} at an offset (detail: the fields of the
    e-mail that no listing shows), found through the e-mail's
    `body: [pack, offset, length]`. A pack is written whole and durable before the database
    that points into it; a pack left by a run that died before its database write is
    overwritten by the next batch, which takes the same number."""

    def __init__(self, directory: Path, next_pack: int):
        self.dir = directory
        self.next = next_pack
        self._pending: list[bytes] = []
        self._size = 0

    @property
    def pending_bytes(self) -> int:
        return self._size

    def add(self, text: str, html: str, detail: dict) -> list[int]:
        blob = zlib.compress(jsonio.dumps({"text": text, "html": html, "detail": detail}), 1)
        ref = [self.next, self._size, len(blob)]
        self._pending.append(blob)
        self._size += len(blob)
        return ref

    def flush(self) -> bool:
        """Write the pending bodies as pack `next`; True when one was written."""
        if not self._pending:
            return False
        self.dir.mkdir(mode=0o700, exist_ok=True)
        write_file_atomically(self.dir / f"{self.next:06d}.pack", b"".join(self._pending))
        self._pending, self._size = [], 0
        self.next += 1
        return True

    def discard(self) -> None:
        self._pending, self._size = [], 0

    def read(self, ref: list[int]) -> dict:
        pack, offset, length = ref
        path = self.dir / f"{pack:06d}.pack"
        try:
            with open(path, "rb") as fh:
                fh.seek(offset)
                blob = fh.read(length)
            return jsonio.loads(zlib.decompress(blob))
        except (OSError, zlib.error, ValueError) as exc:
            raise DataError(f"the body of an e-mail is missing or damaged in {path}: {exc}") from None
