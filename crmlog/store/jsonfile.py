"""The embedded engine: TinyDB files, a root and the parts it names (parts.py, tables.py),
under the writer's lock (lock.py), its bodies and attachments beside them (blobs.py).

- What a run costs follows what is new: a lookup reads the index shard of its key, a record
  the part of its id, and a write rewrites the parts it changed and the small root. Every
  count, the newest e-mails and a period of them are answered from the root's stats first.
- All or nothing (ONCE-3): a batch's parts go to new files, then the root that names them
  replaces the old one atomically. A crash leaves the previous root or the new one.
- One writer (ONCE-4): a lock file beside the database (an OS lock, gone with its process).
- The few lookups over what grows with the team rather than the history (deals, deletions,
  erasures) are built from their tables when first asked for, and built again after a write
  that changed them.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import filelock

from ..errors import DataError, NoDatabase, StorageIOError
from ..records import Contact, Deal, Doc, Email, R, Record, doc_value
from . import indexes, journal, schema
from .blobs import FileBlobs
from .engine import Changes, RunProgress
from .files import remove_stale_temp_files
from .lock import take_lock
from .parts import Manifest, Parts, folder_of, write_root
from .tables import Tables

LOCK_TIMEOUT = 60.0  # seconds a writer waits for another run's lock
_LOOKUPS = {  # table -> the lookup built over it (JsonEngine._forget)
    "deals": "_deals",
    "deleted": "_deleted",
    "forgotten": "_forgotten",
}


class JsonEngine:
    """Open with `JsonEngine(path, write=..., ...)`; `write=False` never takes the lock."""

    def __init__(
        self,
        path: Path,
        *,
        write: bool,
        lock_timeout: float = LOCK_TIMEOUT,
        dry_run: bool = False,
        create: bool = True,
    ):
        self.path = Path(path)
        if not create and not self.path.exists():  # a mistyped --db must not look like an empty CRM
            raise NoDatabase(
                f"no database at {self.path} (`crmlog ingest` and `crmlog users add` create one; "
                "check --db or CRMLOG_DB)"
            )
        self.writing = write and not dry_run
        self._lock: filelock.FileLock | None = None
        self.blobs = FileBlobs(self.path, next_pack=0, writing=self.writing)
        if self.writing:
            self._lock = take_lock(self.path, lock_timeout)
            remove_stale_temp_files(
                self.path, self.blobs.attachments_dir, self.blobs.bodies_dir, self.blobs.runs_dir, folder_of(self.path)
            )
        try:
            self._open(write)
        except OSError as exc:
            self.close()
            raise StorageIOError(f"cannot write the database {self.path}: {exc.strerror}") from None
        except BaseException:
            self.close()
            raise
        self.blobs.next = self._meta.get("packs", 0)
        self._deals: dict[str, list[Deal]] | None = None
        self._deleted: set[str] | None = None
        self._forgotten: set[str] | None = None
        self._failed = False
        self.taken: tuple[int, ...] = ()  # one writer at a time: nothing is logged meanwhile

    def _open(self, write: bool) -> None:
        """The root, and the parts as they are; an older single file (or none yet) split
        into parts in memory, and written so at once by a writer (a crash-safe upgrade: the
        parts first, then the root that names them)."""
        data = schema.load(self.path)
        self._meta: Doc = schema.meta_of(data)
        if schema.is_split(data):
            parts = Parts(self.path, schema.manifest_of(data))
            if self.writing:
                parts.sweep()
            self._tables = Tables(parts)
            self._root_dirty = False
            return
        new = not self.path.exists()
        self._meta, split, manifest = schema.split(data)
        if not self.writing or new:  # a new database is written by its first commit, even empty
            self._tables = Tables(Parts(self.path, manifest), resident=split)
            self._root_dirty = write and new
            return
        parts = Parts(self.path, Manifest())
        parts.sweep()  # what an upgrade killed before its root was written left
        written = parts.write(split, manifest)
        write_root(self.path, self._meta, written)
        parts.manifest = written
        self._tables = Tables(parts)
        self._root_dirty = False

    def close(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    # ------------------------------------------------------------ reading

    def read(
        self,
        kind: type[R],
        *,
        where: Mapping[str, object] | None = None,
        newest_first: bool = False,
        limit: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[R]:
        table, where = kind.TABLE, dict(where or {})
        period = kind is Email and bool(since or until)
        items: Iterable[tuple[int, Doc]]
        indexed = next(((f, v) for f, v in where.items() if (table, f) in indexes.INDEXES), None)
        if indexed is not None:
            field, wanted = indexed
            del where[field]
            found = self._tables.lookup(indexes.INDEXES[table, field], wanted) if isinstance(wanted, str) else []
            items = [(i, doc) for i in found if (doc := self._tables.doc(table, i)) is not None]
        elif period:
            items = self._tables.docs(table, self._parts_within(since, until))
        elif newest_first and limit and not where:
            items = self._newest(table, limit)
        else:
            items = self._tables.docs(table)
        for field, wanted in where.items():
            value = doc_value(kind, field)
            items = [(i, d) for i, d in items if _matches(value(d), wanted)]
        if period:
            items = [(i, d) for i, d in items if _within(Email.doc_time(d), since, until)]
        if newest_first:
            items = heapq.nlargest(limit, items, key=_newest) if limit else sorted(items, key=_newest, reverse=True)
        elif limit:
            items = list(items)[:limit]
        return self._records(kind, items)

    def _newest(self, table: str, limit: int) -> list[tuple[int, Doc]]:
        """The `limit` newest documents, reading the parts from the one with the newest
        document on, until no part left can hold a newer one than those found."""
        best: list[tuple[tuple[str, int], int, Doc]] = []
        for n, s in sorted(self._tables.manifest.parts_of(table), key=lambda p: p[1].newest, reverse=True):
            if len(best) >= limit and s.newest < best[0][0]:
                break
            for i, doc in self._tables.docs(table, [n]):
                entry = ((doc.get("date") or "", i), i, doc)
                if len(best) < limit:
                    heapq.heappush(best, entry)
                elif entry[0] > best[0][0]:
                    heapq.heapreplace(best, entry)
        return [(i, doc) for _, i, doc in best]

    def _parts_within(self, since: datetime | None, until: datetime | None) -> list[int]:
        """The e-mail parts that may hold an e-mail of the period [since, until)."""
        low = since.astimezone(UTC).isoformat() if since else None
        high = until.astimezone(UTC).isoformat() if until else None
        return [
            n
            for n, s in self._tables.manifest.parts_of(Email.TABLE)
            if s.period is not None and not (low and s.period[1] < low) and not (high and s.period[0] >= high)
        ]

    def _records(self, kind: type[R], items: Iterable[tuple[int, Doc]]) -> Iterator[R]:
        from_doc = kind.from_doc
        try:
            for doc_id, doc in items:
                yield from_doc(doc, doc_id)
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(
                f"the database {self.path} has a record crmlog cannot read ({type(exc).__name__}: {exc}); "
                "it was left untouched"
            ) from None

    def get(self, kind: type[R], id: int) -> R | None:
        doc = self._tables.doc(kind.TABLE, id)
        return next(self._records(kind, [(id, doc)])) if doc is not None else None

    def count(self, kind: type[Record]) -> int:
        return self._tables.count(kind.TABLE)

    def tally(self, kind: type[Record], field: str | tuple[str, ...]) -> Counter[Any]:
        counts: Counter[Any] = Counter()
        index = indexes.INDEXES.get((kind.TABLE, field)) if isinstance(field, str) else None
        if index is not None and not index.unique:
            counts.update(self._tables.tally(index))
            return counts
        docs = (doc for _, doc in self._tables.docs(kind.TABLE))
        if isinstance(field, tuple):
            values = [doc_value(kind, f) for f in field]
            counts.update(tuple(value(doc) for value in values) for doc in docs)
            return counts
        value_of = doc_value(kind, field)
        for doc in docs:
            value = value_of(doc)
            if isinstance(value, list):
                counts.update(value)
            else:
                counts[value] += 1
        return counts

    def meta(self) -> Mapping[str, Any]:
        return self._meta

    def source_states(self) -> list[Doc]:
        return [doc for _, doc in self._tables.docs("sources")]

    def source_state(self, source: str) -> Doc | None:
        return self._source(source)

    def _source(self, source: str) -> Doc | None:
        doc_id = self._tables.manifest.sources.get(source)
        return self._tables.doc("sources", doc_id) if doc_id is not None else None

    # ------------------------------------------------------------ the rules' lookups

    def contact(self, email: str) -> Contact | None:
        """By its address, or by the address of a contact merged into it (LIFE-4)."""
        for field in ("email", "aliases"):
            for doc_id in self._tables.lookup(indexes.INDEXES["contacts", field], email):
                return self.get(Contact, doc_id)
        return None

    def has_company(self, domain: str) -> bool:
        return bool(self._tables.lookup(indexes.INDEXES["companies", "domain"], domain))

    def deals_of(self, email: str) -> tuple[Deal, ...]:
        if self._deals is None:
            self._deals = {}
            for deal in self.read(Deal):
                for c in deal.contacts:
                    self._deals.setdefault(c, []).append(deal)
        return tuple(self._deals.get(email, ()))

    def is_logged(self, identity: str) -> bool:
        if self._deleted is None:
            self._deleted = {d["identity"] for _, d in self._tables.docs("deleted")}
        return self.email_id(identity) is not None or identity in self._deleted

    def email_id(self, identity: str) -> int | None:
        return next(iter(self._tables.lookup(indexes.INDEXES["emails", "identity"], identity)), None)

    def is_forgotten(self, hashed: str) -> bool:
        if self._forgotten is None:
            self._forgotten = {d["hash"] for _, d in self._tables.docs("forgotten")}
        return hashed in self._forgotten

    def next_id(self, kind: type[Record]) -> int:
        return self._tables.next_id(kind.TABLE)

    def document(self, table: str, id: int) -> Doc | None:
        return self._tables.doc(table, id)

    def rejection_id(self, identity: str) -> int | None:
        return next(iter(self._tables.lookup(indexes.INDEXES["rejections", "identity"], identity)), None)

    # ------------------------------------------------------------ writing

    def write(self, changes: Changes) -> list[int]:
        """Apply one batch to the parts in memory, then, unless this is a dry run, write the
        parts it changed and the root. After a write that failed, the parts in memory hold a
        batch the files do not: the engine refuses to go on."""
        if self._failed:
            raise StorageIOError(f"an earlier write of the database {self.path} failed; open it again")
        tables = self._tables
        undo = self._journal(changes)
        if changes.removed or changes.replaced or changes.restored or changes.dropped_sources:
            tables.took_out = True  # no copy of what it changes stays behind (LIFE-3)
        for table, doc_id in changes.removed:
            tables.pop(table, doc_id)
            self._forget(table)
        for table, doc_id, doc in changes.restored:
            tables.put(table, doc_id, doc)
            self._forget(table)
        for record in changes.replaced:  # whole: a field left out is gone, not kept
            if tables.doc(record.TABLE, record.id) is None:
                raise KeyError(f"no record {record.id} in {record.TABLE} to replace")
            tables.put(record.TABLE, record.id, record.to_doc())
            self._forget(record.TABLE)
        ids: list[int] = []
        next_ids: dict[str, int] = {}
        for record in changes.added:
            doc_id = next_ids.get(record.TABLE) or tables.next_id(record.TABLE)
            next_ids[record.TABLE] = doc_id + 1
            tables.put(record.TABLE, doc_id, record.to_doc())
            ids.append(doc_id)
            self._forget(record.TABLE)
        for doc in changes.sources:
            self._put_source(doc)
        for source in changes.dropped_sources:
            dropped = tables.manifest.sources.pop(source, None)
            if dropped is not None:
                tables.pop("sources", dropped)
        if undo is not None:
            assert changes.run is not None
            for n, record in enumerate(changes.added):
                journal.note_added(undo, record.TABLE, [ids[n]])
            self._put_run(changes.run, undo)
        self._meta.update(changes.meta)
        self._root_dirty = self._root_dirty or bool(changes.meta)
        if self.writing and (tables.changed or self._root_dirty):
            try:
                tables.commit(self.path, self._meta)
            except OSError as exc:
                self._failed = True
                raise StorageIOError(
                    f"cannot write the database {self.path}: {exc.strerror}; the previous version is intact"
                ) from None
            self._root_dirty = False
        else:
            tables.settle()
        return ids

    def _journal(self, changes: Changes) -> Doc | None:
        """The undo journal of the run this batch belongs to (journal.py)."""
        if changes.run is None:
            return None
        return journal.for_batch(self.document("runs", changes.run.id), changes, self.document, self._source)

    def _put_run(self, progress: RunProgress, undo: Doc) -> None:
        self._tables.put("runs", progress.id, journal.run_document(self.document("runs", progress.id), progress, undo))

    def _forget(self, table: str) -> None:
        """A lookup over `table` is built again when next asked for."""
        lookup = _LOOKUPS.get(table)
        if lookup is not None:
            setattr(self, lookup, None)

    def _put_source(self, doc: Doc) -> None:
        sources = self._tables.manifest.sources
        doc_id = sources.get(doc["source"])
        if doc_id is None:
            doc_id = sources[doc["source"]] = self._tables.next_id("sources")
        self._tables.put("sources", doc_id, doc)


def _newest(item: tuple[int, Doc]) -> tuple[str, int]:
    return (item[1].get("date") or "", item[0])


def _within(when: datetime | None, since: datetime | None, until: datetime | None) -> bool:
    return when is not None and not (since and when < since) and not (until and when >= until)


def _matches(value: object, wanted: object) -> bool:
    return value == wanted or (isinstance(value, list) and wanted in value)
