"""The CRM database a run or a view opens: TinyDB over the atomic storage (files.py), under
the writer's lock (lock.py), the in-memory indexes the rules consult, and the batch that one
commit writes (its documents made by records.py; the mailboxes' state by state.py).

- Batched: TinyDB hands the storage the whole database on every insert; we keep that in
  memory, queue each batch's records, and write once per batch (one insert per table, one
  file write), after what the records point to (attachments, the batch's body pack).
- One writer (ONCE-4): a lock file beside the database (an OS lock, gone with its process).
- Owner-only files (SEC-3); attachments stored under their SHA-256 (SEC-1).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tinydb import TinyDB

from ..errors import DataError, NoDatabase, NotFound, StorageIOError, UsageError
from ..model import (
    Accepted,
    Attachment,
    Contact,
    Deal,
    Decision,
    Duplicate,
    Message,
    RawMessage,
    Rejected,
    Seat,
    Skipped,
    TeamInbox,
    Unaddressed,
    User,
)
from . import records, schema
from .export import save_attachments
from .files import AtomicJSONStorage, BodyPacks, fsync_dir, remove_stale_temp_files, write_file_atomically
from .lock import take_lock
from .state import SourceStates


@dataclass(frozen=True, slots=True)
class _View:
    """The read-only CrmView the rules get: lookups over the store's in-memory indexes."""

    store: Store

    @property
    def users(self) -> tuple[User, ...]:
        return self.store._users

    @property
    def team_inboxes(self) -> tuple[TeamInbox, ...]:
        return self.store._team_inboxes

    def contact(self, email: str) -> Contact | None:
        return self.store._contacts.get(email)

    def open_deals(self, email: str) -> tuple[Deal, ...]:
        return tuple(d for d in self.store._deals_by_contact.get(email, ()) if d.is_open)

    def is_logged(self, identity: str) -> bool:
        return identity in self.store._logged


class Store:
    """Open with Store.reader(path) for views, Store.writer(path, ...) for anything that writes."""

    def __init__(
        self, path: Path, *, write: bool, lock_timeout: float = 60.0, dry_run: bool = False, create: bool = True
    ):
        self.path = Path(path)
        if not create and not self.path.exists():  # a mistyped --db must not look like an empty CRM
            raise NoDatabase(
                f"no database at {self.path} (`crmlog ingest` and `crmlog users add` create one; "
                "check --db or CRMLOG_DB)"
            )
        self.attachments_dir = self.path.with_name(self.path.stem + ".attachments")
        self.bodies_dir = self.path.with_name(self.path.stem + ".bodies")
        self.writing = write and not dry_run
        self._lock = None
        self._attachments_unsynced = False
        if self.writing:
            self._lock = take_lock(self.path, lock_timeout)
            remove_stale_temp_files(self.path.parent, self.attachments_dir, self.bodies_dir)
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
        self._meta = next(iter(data["meta"].values()))
        self.db = TinyDB(storage=lambda: self._storage)
        self.bodies = BodyPacks(self.bodies_dir, self._meta.get("packs", 0))
        try:
            self._index(full=write)
        except (KeyError, TypeError, ValueError) as exc:
            self.close()
            raise DataError(
                f"the database {self.path} has a record crmlog cannot read ({type(exc).__name__}: {exc}); "
                "it was left untouched"
            ) from None

    @classmethod
    def reader(cls, path: Path) -> Store:
        """For views: the database must exist (NoDatabase, 66, otherwise)."""
        return cls(path, write=False, create=False)

    @classmethod
    def writer(cls, path: Path, *, lock_timeout: float = 60.0, dry_run: bool = False, create: bool = True) -> Store:
        """For ingest and edits, under the lock; `create=False` for an edit of records that
        can only exist in an existing database."""
        return cls(path, write=True, lock_timeout=lock_timeout, dry_run=dry_run, create=create)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def commit(self) -> None:
        """Write everything applied since the last commit, atomically: first what the records
        point to (attachments are written as they come, the batch's body pack now), then the
        database that points to them."""
        self._flush_pending()
        if not self.writing:
            self.bodies.discard()
            return
        try:
            if self._attachments_unsynced:
                fsync_dir(self.attachments_dir)
                self._attachments_unsynced = False
            if self.bodies.flush():
                self._set_meta(packs=self.bodies.next)
            self._storage.flush()
        except OSError as exc:
            raise StorageIOError(
                f"cannot write the database {self.path}: {exc.strerror}; the previous version is intact"
            ) from None

    @property
    def pending_bytes(self) -> int:
        """Bytes of bodies waiting for the next commit (the shell commits early past a bound)."""
        return self.bodies.pending_bytes

    # ------------------------------------------------------------ notices by mail

    def unmailed_notices(self) -> list[dict]:
        """Notices not yet mailed to their user (notify.py), oldest first."""
        return [n for n in self.records("notices") if not n.get("mailed")]

    def mark_mailed(self, notice_id: int, when: datetime) -> None:
        self.db.table("notices").update({"mailed": records.iso(when)}, doc_ids=[notice_id])

    @property
    def summary_sent(self) -> datetime | None:
        """When the last daily summary of rejections went out."""
        sent = self._meta.get("summary_sent")
        return datetime.fromisoformat(sent) if sent else None

    def set_summary_sent(self, when: datetime) -> None:
        self._set_meta(summary_sent=records.iso(when))

    def _set_meta(self, **fields) -> None:
        self.db.table("meta").update(fields, doc_ids=[1])

    # ------------------------------------------------------------ indexes

    def _index(self, *, full: bool) -> None:
        """What the rules and the edits consult, built once per run. Readers need only the
        team (and the check that its records are readable)."""
        tables = self._storage.data
        self._users = tuple(records.user(d, int(i)) for i, d in tables.get("users", {}).items())
        self._team_inboxes = tuple(
            TeamInbox(address=d["address"], connected_by=d["connected_by"])
            for d in tables.get("team_inboxes", {}).values()
        )
        deals = [records.deal(d, int(i)) for i, d in tables.get("deals", {}).items()]
        self._pending: dict[str, list[dict]] = {}
        self._removed: dict[str, list[int]] = {}
        self._full = full
        if not full:
            return
        self._contacts = {d["email"]: records.contact(d) for d in tables.get("contacts", {}).values()}
        self._companies = {d["domain"] for d in tables.get("companies", {}).values()}
        self._deals_by_contact: dict[str, list[Deal]] = {}
        for deal in deals:
            for c in deal.contacts:
                self._deals_by_contact.setdefault(c, []).append(deal)
        self._logged = {records.identity(d) for d in tables.get("emails", {}).values()}
        # identity -> doc id of a stored rejection, or None while it waits in the batch
        self._rejected: dict[str, int | None] = {d["identity"]: int(i) for i, d in tables.get("rejections", {}).items()}
        self.sources = SourceStates(tables.get("sources", {}))  # ONCE-2: what the next run needs

    def view(self) -> _View:
        return _View(self)

    # ------------------------------------------------------------ reading records

    def records(self, table: str) -> Iterator[dict]:
        """Every record of a table (do not change them), each with its "id". A reader hands
        out the stored records themselves (it never writes, so the id can go in them), a
        writer copies."""
        for doc_id, doc in self._storage.data.get(table, {}).items():
            if self._full:
                yield {**doc, "id": int(doc_id)}
            else:
                if "id" not in doc:
                    doc["id"] = int(doc_id)
                yield doc

    def count(self, table: str) -> int:
        return len(self._storage.data.get(table, {}))

    def all(self, table: str) -> list[dict]:
        """Every record of a table, each with its id."""
        return list(self.records(table))

    def get(self, table: str, doc_id: int) -> dict | None:
        doc = self._storage.data.get(table, {}).get(str(doc_id))
        return {**doc, "id": doc_id} if doc is not None else None

    def full_email(self, email: dict) -> dict:
        """A logged e-mail whole: its record, the detail and body kept in its pack (a schema-1
        record holds them all itself)."""
        ref = email.get("body")
        if ref is None:
            return {"text": "", "html": "", **email}
        packed = self.bodies.read(ref)
        return {**packed.get("detail", {}), **email, "text": packed.get("text", ""), "html": packed.get("html", "")}

    def attachment_path(self, sha256: str) -> Path:
        return self.attachments_dir / sha256

    # ------------------------------------------------------------ team and CRM edits

    def add_user(self, *, email, name, inboxes, aliases, logins, seat, permission, now) -> int:
        if any(u.email == email for u in self._users):
            raise UsageError(f"a user with e-mail {email} exists already")
        doc = {
            "email": email,
            "name": name,
            "inboxes": [[a, records.iso(now)] for a in inboxes],
            "aliases": list(aliases),
            "logins": list(logins),
            "seat": str(Seat(seat)),
            "personal_inbox_access": permission,
            "created": records.iso(now),
        }
        doc_id = self.db.table("users").insert(doc)
        self._users = (*self._users, records.user(dict(doc), doc_id))
        return doc_id

    def add_team_inbox(self, *, address, connected_by, now) -> None:
        if not any(u.email == connected_by for u in self._users):
            raise NotFound(f"no user with e-mail {connected_by}")
        if any(t.address == address for t in self._team_inboxes):
            raise UsageError(f"the team inbox {address} exists already")
        self.db.table("team_inboxes").insert(
            {"address": address, "connected_by": connected_by, "connected_at": records.iso(now)}
        )
        self._team_inboxes += (TeamInbox(address=address, connected_by=connected_by),)

    def add_deal(self, *, name, contacts, stage, created) -> int:
        doc = {"name": name, "stage": stage, "created": records.iso(created), "contacts": list(contacts)}
        doc_id = self.db.table("deals").insert(doc)
        deal = records.deal(dict(doc), doc_id)
        for c in deal.contacts:
            self._deals_by_contact.setdefault(c, []).append(deal)
        return doc_id

    def close_deal(self, deal_id: int, stage: str) -> None:
        table = self.db.table("deals")
        if table.get(doc_id=deal_id) is None:
            raise NotFound(f"no deal with id {deal_id}")
        table.update({"stage": stage}, doc_ids=[deal_id])
        self._index(full=True)

    def add_contact(self, *, email, name, source, company, now) -> bool:
        """Create a contact (and its company) if missing; True when created."""
        if email in self._contacts:
            return False
        if company and company not in self._companies:
            self._queue("companies", {"domain": company, "name": company, "created": records.iso(now)})
            self._companies.add(company)
        doc = {"email": email, "name": name, "company": company, "source": source, "created": records.iso(now)}
        self._queue("contacts", doc)
        self._contacts[email] = records.contact(doc)
        return True

    def _flush_sources(self) -> None:
        table = self.db.table("sources")
        for source, doc_id, doc in self.sources.changed():
            if doc_id is None:
                self.sources.stored_as(source, table.insert(doc))
            else:
                self._storage.data["sources"][str(doc_id)] = doc
                self._storage.dirty = True

    # ------------------------------------------------------------ ingest

    def skip(self, item: Unaddressed) -> None:
        """Record a message whose header block named no logging address (ADDR-2) as decided."""
        self.sources.mark(item)

    def apply(self, item: RawMessage, message: Message | None, decision: Decision, *, now: datetime) -> int:
        """Record one decided message: its records and its source state go in the same batch.
        Returns the number of contacts created."""
        created = 0
        if isinstance(decision, Accepted):
            assert message is not None  # only a parsed message can be accepted
            created = self._apply_accepted(item, message, decision, now)
        elif isinstance(decision, Rejected):
            self._queue_rejection(records.rejection(item, message, decision, now))
        else:
            assert isinstance(decision, (Skipped, Duplicate))
        self.sources.mark(item)
        return created

    def _flush_pending(self) -> None:
        """Move the batch into TinyDB, in memory: one insert and one removal per table."""
        if not self._full:
            return
        for table, doc_ids in self._removed.items():
            self.db.table(table).remove(doc_ids=doc_ids)
        self._removed = {}
        for table, docs in self._pending.items():
            if not docs:
                continue
            ids = self.db.table(table).insert_multiple(docs)
            if table == "rejections":
                for doc, doc_id in zip(docs, ids, strict=False):
                    self._rejected[doc["identity"]] = doc_id
        self._pending = {}
        self._flush_sources()

    def _queue(self, table: str, doc: dict) -> None:
        self._pending.setdefault(table, []).append(doc)

    def _unreject(self, identity: str) -> None:
        """Drop the rejection of a message (queued in this batch or stored)."""
        doc_id = self._rejected.pop(identity, None)
        if doc_id is not None:
            self._removed.setdefault("rejections", []).append(doc_id)
        elif self._pending.get("rejections"):
            self._pending["rejections"] = [d for d in self._pending["rejections"] if d["identity"] != identity]

    def _queue_rejection(self, doc: dict) -> None:
        # One rejection per message (REJ-1): a later copy replaces the earlier record.
        if doc["identity"] in self._rejected:
            self._unreject(doc["identity"])
        self._queue("rejections", doc)
        self._rejected[doc["identity"]] = None

    def _apply_accepted(self, raw: RawMessage, message: Message, d: Accepted, now: datetime) -> int:
        created = sum(
            self.add_contact(email=c.email, name=c.name, source=c.source, company=c.company, now=now)
            for c in d.new_contacts
        )
        # A message rejected before (say, before its sender was a user) is logged now.
        if message.identity in self._rejected:
            self._unreject(message.identity)
        attachments = [self._store_attachment(a) for a in d.kept_attachments]
        attachments += [records.attachment(a, stored=False) for a in d.dropped_attachments]
        record, detail, text, html = records.logged_email(raw, message, d, attachments, now)
        record["body"] = self.bodies.add(text, html, detail)
        self._queue("emails", record)
        self._logged.add(message.identity)
        for notice in records.delivery_errors(message, d, now):  # LIM-2
            self._queue("notices", notice)
        return created

    def _store_attachment(self, a: Attachment) -> dict:
        record = records.attachment(a, stored=True)
        if self.writing:
            target = self.attachment_path(record["sha256"])
            if not target.exists():
                try:
                    self.attachments_dir.mkdir(mode=0o700, exist_ok=True)
                    write_file_atomically(target, a.data, sync_dir=False)  # the directory: once, at commit
                    self._attachments_unsynced = True
                except OSError as exc:
                    raise StorageIOError(
                        f"cannot store an attachment in {self.attachments_dir}: {exc.strerror}"
                    ) from None
        return record

    def save_attachments(self, attachments: list[dict], target: Path) -> list[Path]:
        """Copy the stored ones of `attachments` into `target` (export.save_attachments)."""
        return save_attachments(attachments, self.attachments_dir, target)
