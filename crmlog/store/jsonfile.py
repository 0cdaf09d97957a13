"""The embedded engine: one JSON file (TinyDB over the atomic storage of files.py) under the
writer's lock (lock.py), its bodies and attachments beside it (blobs.py).

- Batched: TinyDB hands the storage the whole database on every insert; the data stays in
  memory, and `write` applies one batch (one insert per table) and writes the file once,
  atomically. A crash leaves the previous file or the new one (ONCE-3).
- One writer (ONCE-4): a lock file beside the database (an OS lock, gone with its process).
- The rules' lookups are indexes over the loaded data, built when first asked for and kept
  up to date by `write`.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import filelock
from tinydb import TinyDB

from ..errors import DataError, NoDatabase, StorageIOError
from ..records import Company, Contact, Deal, Deleted, Doc, Email, Forgotten, R, Record, Rejection, doc_value
from . import journal, schema
from .blobs import FileBlobs
from .engine import Changes, RunProgress
from .files import AtomicJSONStorage, remove_stale_temp_files
from .lock import take_lock

LOCK_TIMEOUT = 60.0  # seconds a writer waits for another run's lock
_INDEXES = {  # table -> the lookup built over it (JsonEngine._forget)
    "contacts": "_contacts",
    "companies": "_companies",
    "deals": "_deals",
    "emails": "_logged",
    "deleted": "_deleted",
    "forgotten": "_forgotten",
    "rejections": "_rejected",
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
            remove_stale_temp_files(self.path, self.blobs.attachments_dir, self.blobs.bodies_dir, self.blobs.runs_dir)
        try:
            data = schema.load(self.path)
            upgraded = write and schema.upgrade(data)
            self._storage = AtomicJSONStorage(str(self.path), data)
            # an upgrade is written by the first commit; so is a new database, even with
            # nothing in it yet (an ingest that found nothing has still made the CRM)
            self._storage.dirty = upgraded or (write and not self.path.exists())
        except BaseException:
            self.close()
            raise
        self._meta: Doc = next(iter(data["meta"].values()))
        self.blobs.next = self._meta.get("packs", 0)
        self._db = TinyDB(storage=lambda: self._storage)
        self._sources: dict[str, int] = {d["source"]: int(i) for i, d in self._table("sources").items()}
        self._contacts: dict[str, Contact] | None = None
        self._companies: set[str] | None = None
        self._deals: dict[str, list[Deal]] | None = None
        self._logged: dict[str, int] | None = None
        self._deleted: set[str] | None = None
        self._forgotten: set[str] | None = None
        self._rejected: dict[str, int] | None = None
        self._failed = False

    def close(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _table(self, name: str) -> dict[str, Doc]:
        table: dict[str, Doc] = self._storage.data.get(name, {})
        return table

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
        items: Iterable[tuple[str, Doc]] = self._table(kind.TABLE).items()
        if kind is Email and (since or until):
            items = [(i, d) for i, d in items if _within(Email.doc_time(d), since, until)]
        for field, wanted in (where or {}).items():
            value = doc_value(kind, field)
            items = [(i, d) for i, d in items if _matches(value(d), wanted)]
        if newest_first:

            def newest(item: tuple[str, Doc]) -> tuple[str, int]:
                return (item[1].get("date") or "", int(item[0]))

            items = heapq.nlargest(limit, items, key=newest) if limit else sorted(items, key=newest, reverse=True)
        elif limit:
            items = list(items)[:limit]
        return self._records(kind, items)

    def _records(self, kind: type[R], items: Iterable[tuple[str, Doc]]) -> Iterator[R]:
        from_doc = kind.from_doc
        try:
            for doc_id, doc in items:
                yield from_doc(doc, int(doc_id))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(
                f"the database {self.path} has a record crmlog cannot read ({type(exc).__name__}: {exc}); "
                "it was left untouched"
            ) from None

    def get(self, kind: type[R], id: int) -> R | None:
        doc = self._table(kind.TABLE).get(str(id))
        return next(self._records(kind, [(str(id), doc)])) if doc is not None else None

    def count(self, kind: type[Record]) -> int:
        return len(self._table(kind.TABLE))

    def tally(self, kind: type[Record], field: str | tuple[str, ...]) -> Counter[Any]:
        counts: Counter[Any] = Counter()
        docs = self._table(kind.TABLE).values()
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
        return list(self._table("sources").values())

    def source_state(self, source: str) -> Doc | None:
        doc_id = self._sources.get(source)
        return self._table("sources")[str(doc_id)] if doc_id is not None else None

    # ------------------------------------------------------------ the rules' lookups

    def contact(self, email: str) -> Contact | None:
        """By its address, or by the address of a contact merged into it (LIFE-4)."""
        if self._contacts is None:
            self._contacts = {}
            for c in self.read(Contact):
                self._contacts[c.email] = c
                for alias in c.aliases:
                    self._contacts.setdefault(alias, c)
        return self._contacts.get(email)

    def has_company(self, domain: str) -> bool:
        if self._companies is None:
            self._companies = {d["domain"] for d in self._table("companies").values()}
        return domain in self._companies

    def deals_of(self, email: str) -> tuple[Deal, ...]:
        if self._deals is None:
            self._deals = {}
            for deal in self.read(Deal):
                for c in deal.contacts:
                    self._deals.setdefault(c, []).append(deal)
        return tuple(self._deals.get(email, ()))

    def is_logged(self, identity: str) -> bool:
        if self._deleted is None:
            self._deleted = {d["identity"] for d in self._table("deleted").values()}
        return self.email_id(identity) is not None or identity in self._deleted

    def email_id(self, identity: str) -> int | None:
        if self._logged is None:
            self._logged = {str(d.get("identity") or d["message_id"]): int(i) for i, d in self._table("emails").items()}
        return self._logged.get(identity)

    def is_forgotten(self, hashed: str) -> bool:
        if self._forgotten is None:
            self._forgotten = {d["hash"] for d in self._table("forgotten").values()}
        return hashed in self._forgotten

    def next_id(self, kind: type[Record]) -> int:
        return max(map(int, self._table(kind.TABLE)), default=0) + 1

    def document(self, table: str, id: int) -> Doc | None:
        return self._table(table).get(str(id))

    def rejection_id(self, identity: str) -> int | None:
        if self._rejected is None:
            self._rejected = {d["identity"]: int(i) for i, d in self._table("rejections").items()}
        return self._rejected.get(identity)

    # ------------------------------------------------------------ writing

    def write(self, changes: Changes) -> list[int]:
        """Apply one batch to the data in memory (one removal and one insert per table), then,
        unless this is a dry run, write the file once, atomically. After a write that failed,
        the data in memory holds a batch the file does not: the engine refuses to go on."""
        if self._failed:
            raise StorageIOError(f"an earlier write of the database {self.path} failed; open it again")
        undo = self._journal(changes)
        by_table: dict[str, list[int]] = {}
        for table, doc_id in changes.removed:
            by_table.setdefault(table, []).append(doc_id)
        for table, doc_ids in by_table.items():
            if table == "rejections" and self._rejected is not None:
                gone = set(doc_ids)
                self._rejected = {k: v for k, v in self._rejected.items() if v not in gone}
            else:
                self._forget(table)
            self._db.table(table).remove(doc_ids=doc_ids)
        for table, doc_id, doc in changes.restored:
            self._storage.data.setdefault(table, {})[str(doc_id)] = doc
            self._storage.dirty = True
            self._forget(table)
        for table in {t for t, _, _ in changes.restored}:  # each in its place: a table is read in id order
            docs = self._storage.data[table]
            self._storage.data[table] = dict(sorted(docs.items(), key=lambda item: int(item[0])))
        for record in changes.replaced:  # whole: a field left out is gone, not kept
            docs = self._table(record.TABLE)
            if str(record.id) not in docs:
                raise KeyError(f"no record {record.id} in {record.TABLE} to replace")
            docs[str(record.id)] = record.to_doc()
            self._storage.dirty = True
            self._forget(record.TABLE)
        ids: list[int] = [0] * len(changes.added)
        grouped: dict[str, list[tuple[int, Record]]] = {}
        for n, record in enumerate(changes.added):
            grouped.setdefault(record.TABLE, []).append((n, record))
        for table, items in grouped.items():
            new_ids = self._db.table(table).insert_multiple([r.to_doc() for _, r in items])
            for (n, record), doc_id in zip(items, new_ids, strict=True):
                ids[n] = doc_id
                self._indexed(record, doc_id)
        for doc in changes.sources:
            self._put_source(doc)
        for source in changes.dropped_sources:
            dropped = self._sources.pop(source, None)
            if dropped is not None:
                del self._storage.data["sources"][str(dropped)]
                self._storage.dirty = True
        if undo is not None:
            assert changes.run is not None
            for n, record in enumerate(changes.added):
                journal.note_added(undo, record.TABLE, [ids[n]])
            self._put_run(changes.run, undo)
        if changes.meta:
            self._meta.update(changes.meta)
            self._storage.dirty = True
        if self.writing:
            try:
                self._storage.flush()
            except OSError as exc:
                self._failed = True
                raise StorageIOError(
                    f"cannot write the database {self.path}: {exc.strerror}; the previous version is intact"
                ) from None
        return ids

    def _journal(self, changes: Changes) -> Doc | None:
        """The undo journal of the run this batch belongs to, with what the batch is about to
        replace, remove and move on noted as it is now (journal.py)."""
        if changes.run is None:
            return None
        run = self._table("runs").get(str(changes.run.id))
        undo: Doc = dict(run["undo"]) if run and run.get("undo") else journal.empty()
        undo["changed"] = list(undo["changed"])
        journal.note_before(
            undo,
            [
                *((table, doc_id, self.document(table, doc_id)) for table, doc_id in changes.removed),
                *((r.TABLE, r.id, self.document(r.TABLE, r.id)) for r in changes.replaced),
            ],
        )
        for doc in changes.sources:
            source_id = self._sources.get(doc["source"])
            journal.note_source(undo, self.document("sources", source_id) if source_id else None, doc)
        undo["files"] = [*undo["files"], *changes.run.files]
        return undo

    def _put_run(self, progress: RunProgress, undo: Doc) -> None:
        runs = self._storage.data.setdefault("runs", {})
        doc = dict(runs.get(str(progress.id)) or {})
        doc.update(progress.fields)
        doc["undo"] = undo
        runs[str(progress.id)] = doc
        self._storage.dirty = True

    def _forget(self, table: str) -> None:
        """A lookup over `table` is built again when next asked for (after a replacement or a
        removal, which ingest never makes; rejections, which it does remove, are kept up to date)."""
        index = _INDEXES.get(table)
        if index is not None:
            setattr(self, index, None)

    def _indexed(self, record: Record, doc_id: int) -> None:
        if isinstance(record, Contact) and self._contacts is not None:
            self._contacts[record.email] = replace(record, id=doc_id)
        elif isinstance(record, Email) and self._logged is not None:
            self._logged[record.identity] = doc_id
        elif isinstance(record, (Deleted, Forgotten)):
            self._forget(record.TABLE)
        elif isinstance(record, Rejection) and self._rejected is not None:
            self._rejected[record.identity] = doc_id
        elif isinstance(record, Company) and self._companies is not None:
            self._companies.add(record.domain)
        elif isinstance(record, Deal):
            self._deals = None

    def _put_source(self, doc: Doc) -> None:
        doc_id = self._sources.get(doc["source"])
        if doc_id is None:
            self._sources[doc["source"]] = self._db.table("sources").insert(doc)
        else:
            self._storage.data["sources"][str(doc_id)] = doc
            self._storage.dirty = True


def _within(when: datetime | None, since: datetime | None, until: datetime | None) -> bool:
    return when is not None and not (since and when < since) and not (until and when >= until)


def _matches(value: object, wanted: object) -> bool:
    return value == wanted or (isinstance(value, list) and wanted in value)
