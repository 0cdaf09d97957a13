"""The whole CRM copied from one store into another, empty one (`crmlog db migrate`), through
the `Engine` and `Blobs` protocols alone (engine.py), so any pair of engines will do.

- Every record goes in under its own id (`Changes.restored`, as undo puts documents back), so
  what points to an id (an e-mail's deals, a run's journal and listing) stays true, and the
  target gives later records ids past them. Then the mailboxes'
  states (ONCE-2), and the settings that matter: the LIFE-3 `secret` (without it an erased
  address's keyed hash no longer matches) and `summary_sent`; not an engine's own counters.
- A body is read from the source and added to the target anew: the e-mail's document, and
  every e-mail document a run's undo journal keeps, point to the new body. Each target pack
  holds the bodies of one source pack only (one flush per source pack), so that the files a
  journal names map to the target's packs one to several, and `runs undo` of the copy removes
  what it removes of the source. Attachments go by SHA-256, a run's listing under the run's
  own name.
- Batches of BATCH records (fewer past BATCH_BYTES of bodies, attachments and listing rows),
  each written all or nothing: the CRM is never held whole in memory.
- The source is only read. A target with any record or mailbox state is refused (InUse, 1)
  before anything is written. The first write marks the target `migration` (unfinished), the
  last one finished: a copy that failed midway is named so in its error, and a second attempt
  is refused (the target is not empty) with the advice to remove the partial copy first.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import CrmlogError, InUse, NoDatabase
from ..model import iso
from ..records import KINDS, BodyRef, Doc, Email, EmailBody, Record, Run
from .engine import Changes, Engine
from .open import is_url, open_engine

BATCH = 1000  # records per write
BATCH_BYTES = 64 << 20  # bodies, attachments and listing rows held for one write, at most
ROW_BYTES = 256  # what a listing row is counted as
COPIED_META = ("secret", "summary_sent")  # the CRM's settings; not the engine's own (packs, garbage)
MARK = "migration"  # the target's meta: {"from", "started", "finished"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Copied:
    """What a migration copied: records per table (`records.KINDS`), then the rest."""

    records: Mapping[str, int]
    sources: int  # mailbox states
    bodies: int
    attachments: int
    missing_attachments: int  # stored per their e-mail, not found in the source
    listing_rows: int
    seconds: float

    def counts(self) -> dict[str, int]:
        return {
            **self.records,
            "sources": self.sources,
            "bodies": self.bodies,
            "attachments": self.attachments,
            "missing_attachments": self.missing_attachments,
            "listing_rows": self.listing_rows,
        }


def named(db: Path | str) -> str:
    """A store as a message names it: a URL without its password."""
    if is_url(db):
        from .pgconnect import shown  # psycopg is loaded only for a server's CRM

        return shown(db)
    return str(db)


def migrate(source: Path | str, target: Path | str, *, now: datetime | None = None) -> Copied:
    """Copy the CRM at `source` into the empty store `target` (a path or a postgresql:// URL)."""
    started = time.perf_counter()
    if _same(source, target):
        raise InUse(f"{named(target)} is the database being copied; nothing was written")
    refuse_unless_empty(target, read_only=True)  # before the target is opened for writing at all
    reader = open_engine(source, write=False, create=False)
    try:
        writer = open_engine(target, write=True, create=True)
        try:
            refuse_unless_empty(writer)  # again, under the writer's own guarantee (ONCE-4)
            copy = _Copy(reader, writer)
            try:
                copy.run(named(source), iso(now or datetime.now(UTC)) or "")
            except CrmlogError as exc:
                raise type(exc)(_partial(exc.message, target, copy.wrote)) from exc
            except Exception as exc:
                raise CrmlogError(_partial(f"internal error: {type(exc).__name__}: {exc}", target, copy.wrote)) from exc
        finally:
            writer.close()
    finally:
        reader.close()
    return copy.copied(time.perf_counter() - started)


def refuse_unless_empty(target: Path | str | Engine, *, read_only: bool = False) -> None:
    """InUse (1) where `target` holds a record or a mailbox state; one that does not exist is empty."""
    if isinstance(target, (Path, str)):
        try:
            engine = open_engine(target, write=False, create=False)
        except NoDatabase:
            return
        try:
            refuse_unless_empty(engine)
        finally:
            engine.close()
        return
    held = [kind.TABLE for kind in KINDS if target.count(kind)]
    if target.source_states():
        held.append("mailbox states")
    if not held:
        return
    mark = target.meta().get(MARK)
    if isinstance(mark, dict) and not mark.get("finished"):
        raise InUse(
            f"the target holds a copy from {mark.get('from')} that did not finish (started {mark.get('started')}): "
            "remove or empty it and run again; nothing was written"
        )
    raise InUse(
        f"the target is not empty (it has {', '.join(held)}): migrate copies into an empty one only; nothing was written"
    )


def _same(a: Path | str, b: Path | str) -> bool:
    if is_url(a) or is_url(b):
        return a == b
    return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()


def _partial(message: str, target: Path | str, wrote: bool) -> str:
    if not wrote:
        return f"{message.rstrip('.')}; nothing was copied into {named(target)} (the source was not changed)"
    return (
        f"{message.rstrip('.')}; the copy stopped midway and {named(target)} holds part of the CRM: "
        "remove or empty it and run again (the source was not changed)"
    )


class _Copy:
    def __init__(self, source: Engine, target: Engine):
        self.source, self.target = source, target
        self.refs: dict[BodyRef, BodyRef] = {}  # source body -> target body
        self.packs: dict[str, set[str]] = {}  # source pack -> the target packs holding its bodies
        self.owner: dict[str, str] = {}  # target pack -> its source pack
        self.shas: set[str] = set()  # attachments copied
        self.records: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()
        self.wrote = False  # a write went into the target (files beside it may follow)
        self._reset()

    def _reset(self) -> None:
        self.docs: list[tuple[str, int, Doc]] = []
        self.bodies: dict[str, dict[BodyRef, EmailBody]] = {}  # by source pack, to add
        self.meta: dict[str, Any] = {}
        self.held = 0  # bytes held for the write

    def copied(self, seconds: float) -> Copied:
        return Copied(
            records={kind.TABLE: self.records[kind.TABLE] for kind in KINDS},
            sources=self.counts["sources"],
            bodies=self.counts["bodies"],
            attachments=self.counts["attachments"],
            missing_attachments=self.counts["missing_attachments"],
            listing_rows=self.counts["listing_rows"],
            seconds=round(seconds, 3),
        )

    def run(self, source_name: str, started: str) -> None:
        settings = self.source.meta()
        self.meta = {key: settings[key] for key in COPIED_META if key in settings}
        self.meta[MARK] = mark = {"from": source_name, "started": started, "finished": None}
        self._write()
        for kind in KINDS:
            for record in self.source.read(kind):
                self._queue(kind, record)
                if len(self.docs) >= BATCH or self.held >= BATCH_BYTES:
                    self._write()
            self._write()
        states = self.source.source_states()
        for start in range(0, len(states), BATCH):
            chunk = tuple(states[start : start + BATCH])
            self.target.write(Changes(sources=chunk))
            self.counts["sources"] += len(chunk)
        self.meta[MARK] = {**mark, "finished": iso(datetime.now(UTC))}
        self._write()

    # ------------------------------------------------------------ queued for the next write

    def _queue(self, kind: type[Record], record: Record) -> None:
        doc = record.to_doc()
        if isinstance(record, Email):
            self._email(doc)
        elif isinstance(record, Run):
            doc = self._run(record, doc)
        self.docs.append((kind.TABLE, record.id, doc))
        self.records[kind.TABLE] += 1

    def _email(self, doc: Doc) -> None:
        """An e-mail document's body and attachments, to be copied with it."""
        body = doc.get("body")
        if body:
            ref: BodyRef = (int(body[0]), int(body[1]), int(body[2]))
            queued = self.bodies.setdefault(self.source.blobs.pack_of(ref), {})
            if ref not in self.refs and ref not in queued:
                queued[ref] = found = self.source.blobs.body(ref)
                self.held += len(found.text) + len(found.html) + 512
        for a in doc.get("attachments") or ():
            if a.get("stored") and a["sha256"] not in self.shas:
                self.shas.add(a["sha256"])
                data = self.source.blobs.attachment(a["sha256"])
                if data is None:
                    self.counts["missing_attachments"] += 1
                    continue
                self.target.blobs.add_attachment(a["sha256"], data)
                self.counts["attachments"] += 1
                self.held += len(data)

    def _run(self, run: Run, doc: Doc) -> Doc:
        """A run's listing copied under the run's own name; its journal's e-mail documents'
        bodies and attachments with the run (their new refs are put in at the write)."""
        rows = self.source.blobs.listing(run.id, run.listing, run.listing_name)
        doc.pop("listing_name", None)
        doc["listing"] = self.target.blobs.add_listing(run.id, rows, 0)
        self.counts["listing_rows"] += len(rows)
        self.held += len(rows) * ROW_BYTES
        for table, _, before in (run.undo or {}).get("changed", ()):
            if table == Email.TABLE:
                self._email(before)
        return doc

    # ------------------------------------------------------------ the write

    def _write(self) -> None:
        """The batch's bodies, one flush per source pack, then its documents pointing to them,
        in one write."""
        meta = dict(self.meta)
        for pack, bodies in self.bodies.items():
            if not bodies:  # (only bodies copied before)
                continue
            added = {ref: self.target.blobs.add_body(body) for ref, body in bodies.items()}
            meta.update(self.target.blobs.flush())
            self._note_pack(pack, added.values())
            self.refs.update(added)
            self.counts["bodies"] += len(added)
        meta.update(self.target.blobs.flush())  # the attachments added since (and any listing)
        docs = tuple((table, id, self._pointing(table, doc)) for table, id, doc in self.docs)
        if docs or meta:
            self.target.write(Changes(restored=docs, meta=meta))
            self.wrote = True  # the first: the mark alone; blobs are added after it
        self.target.blobs.written()  # (a run's journal's business: nothing to note here)
        self._reset()

    def _note_pack(self, pack: str, refs: Iterable[BodyRef]) -> None:
        for ref in refs:
            name = self.target.blobs.pack_of(ref)
            if self.owner.setdefault(name, pack) != pack:
                raise CrmlogError(
                    f"the target keeps bodies of two flushes in one pack ({name}); "
                    "a run's undo on the copy could not remove one run's bodies alone"
                )
            self.packs.setdefault(pack, set()).add(name)

    def _pointing(self, table: str, doc: Doc) -> Doc:
        """A document as the target keeps it: its bodies' new refs; a run's journal too."""
        if table == Email.TABLE:
            return self._body_moved(doc)
        if table == Run.TABLE and doc.get("undo"):
            undo = doc["undo"]
            changed = [
                [t, i, self._body_moved(before) if t == Email.TABLE else before]
                for t, i, before in undo.get("changed", ())
            ]
            return {**doc, "undo": {**undo, "changed": changed, "files": self._files(undo.get("files", ()))}}
        return doc

    def _body_moved(self, doc: Doc) -> Doc:
        body = doc.get("body")
        if not body:
            return doc
        return {**doc, "body": list(self.refs[(int(body[0]), int(body[1]), int(body[2]))])}

    def _files(self, names: Iterable[str]) -> list[str]:
        """The files a run's journal names, as the target names them: a source pack, the
        target's packs of its bodies (none: no body of it is left to copy); an attachment,
        by its SHA-256 the same on either."""
        files: list[str] = []
        for name in names:
            if name in self.packs:
                files.extend(sorted(self.packs[name]))
            elif name.startswith("attachments/"):
                files.append(name)
        return files
