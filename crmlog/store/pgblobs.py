"""Bodies, attachments and run listings of the PostgreSQL engine, in the database itself (the
mail hosts that ingest into one CRM share them), as rows where the embedded engine has files:

- A body is a row of `bodies` (zlib-compressed JSON {text, html, detail}, as in a pack file),
  keyed (pack, n): the bodies of one batch share a pack number, from a sequence, and a
  `BodyRef` is (pack, n, length). `pack_of`, `written` and `remove` name a pack as
  "bodies/NNNNNN", an attachment "attachments/<sha256>", a listing "runs/<name>".
- Attachments are rows of `attachments` by SHA-256; a run's listing, rows of `listings` by
  (name, n), its length counted in rows.

What `flush` makes durable is written by the engine's next `write`, in its transaction
(`insert`), so that a batch's records and the blobs they point to are committed together, or
neither is (ONCE-3): a run killed between the two leaves nothing behind.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from .. import jsonio
from ..errors import DataError
from ..records import BodyRef, Doc, EmailBody


def listing_name(run: int, name: str = "") -> str:
    """A run's listing's name: its own, or the one it was written anew under."""
    return name or f"{run:06d}.jsonl"


class PgBlobs:
    def __init__(self, conn: psycopg.Connection[Any], *, writing: bool):
        self._conn = conn
        self.writing = writing
        self._pack: int | None = None  # the pack of the bodies added since the last flush
        self._unwritten_pack: int | None = None  # the last pack number a reader gave out
        self._pending: list[bytes] = []
        self._size = 0
        self._attachments: dict[str, bytes] = {}  # added since the last flush
        self._new: list[str] = []  # attachments not stored before, added since the last flush
        # flushed: written by the engine's next write
        self._bodies: dict[tuple[int, int], bytes] = {}
        self._staged_attachments: dict[str, bytes] = {}
        self._listings: list[tuple[str, int, list[Doc]]] = []  # (name, from row, rows)
        self._written: list[str] = []

    @property
    def pending_bytes(self) -> int:
        return self._size

    # ------------------------------------------------------------ bodies

    def add_body(self, body: EmailBody) -> BodyRef:
        return self._add_blob(zlib.compress(jsonio.dumps(body.to_doc()), 1))

    def _add_blob(self, blob: bytes) -> BodyRef:
        if self._pack is None:
            self._pack = self._next_pack()
        ref = (self._pack, len(self._pending), len(blob))
        self._pending.append(blob)
        self._size += len(blob)
        return ref

    def _next_pack(self) -> int:
        """A pack number of its own; a reader or a dry run, which writes no pack (and cannot take
        from the sequence in a read-only transaction), numbers on from the sequence's next."""
        if self.writing:
            row = self._conn.execute("SELECT nextval('packs')").fetchone()
            assert row is not None
            return int(row[0])
        if self._unwritten_pack is None:
            row = self._conn.execute(
                "SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM packs"
            ).fetchone()
            assert row is not None
            self._unwritten_pack = int(row[0])
        else:
            self._unwritten_pack += 1
        return self._unwritten_pack

    def body(self, ref: BodyRef) -> EmailBody:
        [(_, blob)] = self._blobs([ref])
        try:
            return EmailBody.from_doc(jsonio.loads(zlib.decompress(blob)))
        except (zlib.error, ValueError, AttributeError) as exc:
            raise DataError(f"the body of an e-mail is missing or damaged in pack {ref[0]:06d}: {exc}") from None

    def _blobs(self, refs: Iterable[BodyRef]) -> list[tuple[BodyRef, bytes]]:
        """Bodies as stored (compressed), in one query; one that is not there is missing."""
        wanted = list(refs)
        if not wanted:
            return []
        found = dict(self._bodies)
        rows = self._conn.execute(
            "SELECT pack, n, data FROM bodies WHERE (pack, n) IN (SELECT * FROM unnest(%s::bigint[], %s::int[]))",
            ([r[0] for r in wanted], [r[1] for r in wanted]),
        )
        found.update(((int(pack), int(n)), bytes(data)) for pack, n, data in rows)
        out = []
        for ref in wanted:
            blob = found.get((ref[0], ref[1]))
            if blob is None or len(blob) != ref[2]:
                raise DataError(f"the body {ref[1]} of pack {ref[0]:06d} is missing from the database")
            out.append((ref, blob))
        return out

    def copy_bodies(self, refs: Iterable[BodyRef]) -> dict[BodyRef, BodyRef]:
        return {ref: self._add_blob(blob) for ref, blob in self._blobs(refs)}

    def bodies_naming(self, refs: Iterable[BodyRef], texts: Sequence[Sequence[str]]) -> list[BodyRef]:
        """Searched as stored: UTF-8 JSON writes an address's characters as they are."""
        groups = [[t.lower().encode() for t in group] for group in texts]
        return [ref for ref, raw in self._stored(refs) if any(all(n in raw.lower() for n in g) for g in groups)]

    def _stored(self, refs: Iterable[BodyRef]) -> Iterator[tuple[BodyRef, bytes]]:
        for ref, blob in self._blobs(refs):
            try:
                yield ref, zlib.decompress(blob)
            except zlib.error as exc:
                raise DataError(f"a body is damaged in pack {ref[0]:06d}: {exc}") from None

    def pack_of(self, ref: BodyRef) -> str:
        return f"bodies/{ref[0]:06d}"

    # ------------------------------------------------------------ attachments

    def add_attachment(self, sha256: str, data: bytes) -> None:
        if sha256 in self._attachments or sha256 in self._staged_attachments:
            return
        if self._conn.execute("SELECT 1 FROM attachments WHERE sha256 = %s", (sha256,)).fetchone() is None:
            self._attachments[sha256] = data
            self._new.append(f"attachments/{sha256}")

    def attachment(self, sha256: str) -> bytes | None:
        data = self._attachments.get(sha256) or self._staged_attachments.get(sha256)
        if data is not None:
            return data
        row = self._conn.execute("SELECT data FROM attachments WHERE sha256 = %s", (sha256,)).fetchone()
        return bytes(row[0]) if row else None

    # ------------------------------------------------------------ flush: staged for the engine's write

    def flush(self) -> Mapping[str, Any]:
        """What was added goes with the engine's next write; nothing for the database's meta
        (pack numbers come from a sequence)."""
        if self._pending:
            assert self._pack is not None
            self._bodies.update(((self._pack, n), blob) for n, blob in enumerate(self._pending))
            self._written.append(f"bodies/{self._pack:06d}")
        self._staged_attachments.update(self._attachments)
        self._written += self._new
        self._attachments, self._new = {}, []
        self._pending, self._size, self._pack = [], 0, None
        return {}

    def discard(self) -> None:
        self._pending, self._size, self._pack = [], 0, None

    def written(self) -> tuple[str, ...]:
        written, self._written = tuple(self._written), []
        return written

    def insert(self, conn: psycopg.Connection[Any], *, skipped: Iterable[BodyRef] = ()) -> None:
        """Write what was flushed, in the caller's transaction (the engine's write), but the
        bodies `skipped` (of e-mails another host logged first)."""
        for ref in skipped:
            self._bodies.pop((ref[0], ref[1]), None)
        with conn.cursor() as cur:
            if self._bodies:
                with cur.copy("COPY bodies (pack, n, data) FROM STDIN") as copy:
                    for (pack, n), blob in self._bodies.items():
                        copy.write_row((pack, n, blob))
            if self._staged_attachments:
                cur.executemany(
                    "INSERT INTO attachments (sha256, data) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                    list(self._staged_attachments.items()),
                )
            for name, start, rows in self._listings:
                cur.execute("DELETE FROM listings WHERE name = %s AND n >= %s", (name, start))
                with cur.copy("COPY listings (name, n, doc) FROM STDIN") as copy:
                    for n, row in enumerate(rows, start=start):
                        copy.write_row((name, n, Jsonb(row)))  # through pgtext.dumps

    def clear(self) -> None:
        """After the write that took what was flushed (or failed: its batch is gone)."""
        self._bodies, self._staged_attachments, self._listings = {}, {}, []

    # ------------------------------------------------------------ run listings

    def add_listing(self, run: int, rows: Sequence[Doc], committed: int) -> int:
        if not rows:
            return committed
        self._listings.append((listing_name(run), committed, list(rows)))
        return committed + len(rows)

    def cut_listing(self, run: int, length: int) -> int:
        name = listing_name(run)
        self._listings = [item for item in self._listings if item[0] != name]
        return length

    def listing(self, run: int, length: int, name: str = "") -> list[Doc]:
        if not length:
            return []
        found = listing_name(run, name)
        rows = self._conn.execute(
            "SELECT doc FROM listings WHERE name = %s AND n < %s ORDER BY n", (found, length)
        ).fetchall()
        if len(rows) != length:
            raise DataError(f"the listing of run {run} is missing or cut short in the database ({found})")
        return [row[0] for row in rows]

    def replace_listing(self, run: int, rows: Sequence[Doc]) -> tuple[str, int]:
        name = f"{run:06d}.{os.urandom(4).hex()}.jsonl"
        self._listings.append((name, 0, list(rows)))
        return name, len(rows)

    # ------------------------------------------------------------ removal

    def remove(self, names: Iterable[str]) -> None:
        """Delete rows no record points to any more, named as `written` names them."""
        if not self.writing:
            return
        packs, shas, listings = [], [], []
        for name in names:
            kind, _, key = name.partition("/")
            if kind == "bodies" and key.isdigit():
                packs.append(int(key))
            elif kind == "attachments" and key:
                shas.append(key)
            elif kind == "runs" and key:
                listings.append(key)
        with self._conn.transaction():
            if packs:
                self._conn.execute("DELETE FROM bodies WHERE pack = ANY(%s)", (packs,))
            if shas:
                self._conn.execute("DELETE FROM attachments WHERE sha256 = ANY(%s)", (shas,))
            if listings:
                self._conn.execute("DELETE FROM listings WHERE name = ANY(%s)", (listings,))
