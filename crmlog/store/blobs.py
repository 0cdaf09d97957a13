"""Bodies and attachments of the JSON-file engine, in files beside the database (SEC-1, SEC-3):

- Message bodies live in append-only pack files, one per batch (`<db stem>.bodies/NNNNNN.pack`),
  not in the JSON, so the database a view loads holds what it shows, and a batch rewrites
  metadata, not mail. Each body is a zlib-compressed JSON object {text, html, detail} at an
  offset, found through the e-mail's `body: [pack, offset, length]`. A pack is written whole
  and durable before the database that points into it; a pack left by a run that died before
  its database write is overwritten by the next batch, which takes the same number.
- Attachments are files named by their SHA-256 (`<db stem>.attachments/`), written as they
  come and made durable (their directory synced) before the database that names them.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import jsonio
from ..errors import DataError, StorageIOError
from ..records import BodyRef, Doc, EmailBody
from .files import fsync_dir, write_file_atomically


class FileBlobs:
    def __init__(self, db: Path, *, next_pack: int, writing: bool):
        self.bodies_dir = db.with_name(db.stem + ".bodies")
        self.attachments_dir = db.with_name(db.stem + ".attachments")
        self.runs_dir = db.with_name(db.stem + ".runs")
        self.next = next_pack
        self.writing = writing
        self._pending: list[bytes] = []
        self._size = 0
        self._attachments_unsynced = False
        self._new_attachments: list[str] = []
        self._written: list[str] = []

    @property
    def pending_bytes(self) -> int:
        """Bytes of bodies waiting for the next flush (the shell commits early past a bound)."""
        return self._size

    def add_body(self, body: EmailBody) -> BodyRef:
        blob = zlib.compress(jsonio.dumps(body.to_doc()), 1)
        ref = (self.next, self._size, len(blob))
        self._pending.append(blob)
        self._size += len(blob)
        return ref

    def body(self, ref: BodyRef) -> EmailBody:
        pack, offset, length = ref
        path = self.bodies_dir / f"{pack:06d}.pack"
        try:
            with open(path, "rb") as fh:
                fh.seek(offset)
                blob = fh.read(length)
            return EmailBody.from_doc(jsonio.loads(zlib.decompress(blob)))
        except (OSError, zlib.error, ValueError, AttributeError) as exc:
            raise DataError(f"the body of an e-mail is missing or damaged in {path}: {exc}") from None

    def _blobs(self, refs: Iterable[BodyRef]) -> Iterator[tuple[BodyRef, bytes]]:
        """Bodies as kept in their packs (compressed), each pack read once."""
        by_pack: dict[int, list[BodyRef]] = {}
        for ref in refs:
            by_pack.setdefault(ref[0], []).append(ref)
        for pack, in_pack in sorted(by_pack.items()):
            path = self.bodies_dir / f"{pack:06d}.pack"
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise DataError(f"the bodies in {path} are missing: {exc.strerror}") from None
            for ref in in_pack:
                yield ref, data[ref[1] : ref[1] + ref[2]]

    def _stored(self, refs: Iterable[BodyRef]) -> Iterator[tuple[BodyRef, bytes]]:
        """Bodies as stored (UTF-8 JSON)."""
        for ref, blob in self._blobs(refs):
            try:
                yield ref, zlib.decompress(blob)
            except zlib.error as exc:
                raise DataError(f"a body is damaged in pack {ref[0]:06d} of {self.bodies_dir}: {exc}") from None

    def copy_bodies(self, refs: Iterable[BodyRef]) -> dict[BodyRef, BodyRef]:
        copied = {}
        for ref, blob in self._blobs(refs):
            copied[ref] = (self.next, self._size, len(blob))
            self._pending.append(blob)
            self._size += len(blob)
        return copied

    def bodies_naming(self, refs: Iterable[BodyRef], texts: Sequence[Sequence[str]]) -> list[BodyRef]:
        """Searched as stored: UTF-8 JSON writes an address's characters as they are."""
        groups = [[t.lower().encode() for t in group] for group in texts]
        return [ref for ref, raw in self._stored(refs) if any(all(n in raw.lower() for n in g) for g in groups)]

    def add_attachment(self, sha256: str, data: bytes) -> None:
        if not self.writing:
            return
        target = self.attachments_dir / sha256
        if target.exists():
            return
        try:
            self.attachments_dir.mkdir(mode=0o700, exist_ok=True)
            write_file_atomically(target, data, sync_dir=False)  # the directory: once, at flush
            self._attachments_unsynced = True
            self._new_attachments.append(f"attachments/{sha256}")
        except OSError as exc:
            self._drop_new_attachments()
            raise StorageIOError(f"cannot store an attachment in {self.attachments_dir}: {exc.strerror}") from None

    def _drop_new_attachments(self) -> None:
        """The attachments this batch wrote, after it failed: no record points to them (on a
        full disk they would take the room the next run needs)."""
        try:
            self.remove(self._new_attachments)
        except StorageIOError:
            pass  # what cannot be removed now is only unused
        self._new_attachments = []

    def attachment(self, sha256: str) -> bytes | None:
        try:
            return (self.attachments_dir / sha256).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageIOError(f"cannot read the attachment {sha256}: {exc.strerror}") from None

    def flush(self) -> Mapping[str, Any]:
        """Sync the attachments written since the last flush, write the pending bodies as pack
        `next`; the pack counter to remember when one was written."""
        if not self.writing:
            self.discard()
            return {}
        try:
            if self._attachments_unsynced:
                fsync_dir(self.attachments_dir)
                self._attachments_unsynced = False
            if self._pending:
                self.bodies_dir.mkdir(mode=0o700, exist_ok=True)
                write_file_atomically(self.bodies_dir / f"{self.next:06d}.pack", b"".join(self._pending))
            self._written += self._new_attachments
            self._new_attachments = []
            if not self._pending:
                return {}
            self._written.append(f"bodies/{self.next:06d}.pack")
        except OSError as exc:
            self._drop_new_attachments()
            raise StorageIOError(
                f"cannot write the bodies and attachments beside the database ({exc.strerror}); "
                "the database was not written, the previous version is intact"
            ) from None
        self._pending, self._size = [], 0
        self.next += 1
        return {"packs": self.next}

    def discard(self) -> None:
        self._pending, self._size = [], 0

    def written(self) -> tuple[str, ...]:
        """The files made durable by the flushes since the last call (a run's undo journal)."""
        written, self._written = tuple(self._written), []
        return written

    def _listing_path(self, run: int, name: str = "") -> Path:
        return self.runs_dir / (name or f"{run:06d}.jsonl")

    def add_listing(self, run: int, rows: Sequence[Doc], committed: int) -> int:
        """A run's listing is a file of JSON lines (`<db stem>.runs/NNNNNN.jsonl`), appended to
        by each batch and synced before the database that counts its bytes is written."""
        if not self.writing or not rows:
            return committed
        data = b"".join(jsonio.dumps(row) + b"\n" for row in rows)
        try:
            self.runs_dir.mkdir(mode=0o700, exist_ok=True)
            fd = os.open(self._listing_path(run), os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                os.ftruncate(fd, committed)
                os.pwrite(fd, data, committed)
                os.fsync(fd)
            finally:
                os.close(fd)
            if committed == 0:
                fsync_dir(self.runs_dir)
        except OSError as exc:
            raise StorageIOError(f"cannot write a run's listing in {self.runs_dir}: {exc.strerror}") from None
        return committed + len(data)

    def cut_listing(self, run: int, length: int) -> int:
        """Back to `length` (a listing that had nothing counted yet: no file)."""
        if self.writing:
            path = self._listing_path(run)
            try:
                if length:
                    os.truncate(path, length)
                else:
                    path.unlink(missing_ok=True)
            except OSError:
                pass  # the next batch of the run cuts it back too; a new run, to nothing
        return length

    def listing(self, run: int, length: int, name: str = "") -> list[Doc]:
        if not length:
            return []
        path = self._listing_path(run, name)
        try:
            with open(path, "rb") as fh:
                data = fh.read(length)
            return [jsonio.loads(line) for line in data.splitlines() if line]
        except (OSError, ValueError) as exc:
            raise DataError(f"the listing of run {run} is missing or damaged in {path}: {exc}") from None

    def replace_listing(self, run: int, rows: Sequence[Doc]) -> tuple[str, int]:
        """Under a new name: the database write that names it is the switch to it."""
        data = b"".join(jsonio.dumps(row) + b"\n" for row in rows)
        name = f"{run:06d}.{os.urandom(4).hex()}.jsonl"
        if self.writing:
            try:
                self.runs_dir.mkdir(mode=0o700, exist_ok=True)
                write_file_atomically(self._listing_path(run, name), data)
            except OSError as exc:
                raise StorageIOError(f"cannot write a run's listing in {self.runs_dir}: {exc.strerror}") from None
        return name, len(data)

    def pack_of(self, ref: BodyRef) -> str:
        return f"bodies/{ref[0]:06d}.pack"

    def remove(self, names: Iterable[str]) -> None:
        """Delete files no record points to any more: an undone run's packs and attachments, a
        pack rewritten without a forgotten or deleted body. Only names this store makes."""
        if not self.writing:
            return
        dirs = {"bodies": self.bodies_dir, "attachments": self.attachments_dir, "runs": self.runs_dir}
        for name in names:
            kind, _, file = name.partition("/")
            if kind not in dirs or not file or "/" in file or file.startswith("."):
                continue
            try:
                (dirs[kind] / file).unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise StorageIOError(f"cannot remove {dirs[kind] / file}: {exc.strerror}") from None
        for folder in dirs.values():
            if folder.exists():
                fsync_dir(folder)
