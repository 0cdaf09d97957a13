"""The CRM database: TinyDB over an atomic, batched JSON storage, a writer lock, and two
content stores beside the database (attachments by SHA-256, bodies in packs). The only module
that imports tinydb.

- Atomic (ONCE-3): TinyDB's own JSONStorage rewrites its file in place, so a crash mid-write
  leaves half a file. AtomicJSONStorage keeps the data in memory and writes only on commit():
  temp file, fsync, os.replace, fsync of the directory. A reader sees the old file or the new.
  What the new file points to (attachment files, the body pack of the batch) is made durable
  before it.
- Batched: TinyDB hands the storage the whole database on every insert; we keep that in memory,
  queue each batch's records, and write once per batch (one insert per table, one file write).
- Incremental (ONCE-2): per source, the state a run needs to read only what is new (the keys
  of a Maildir folder, the position in an mbox) is a record of the `sources` table, written in
  the same atomic write as the records it accounts for.
- Small: message bodies live in append-only pack files, one per batch, not in the JSON, so the
  database a view loads holds what it shows, and a batch rewrites metadata, not mail.
- One writer (ONCE-4): a lock file beside the database (an OS lock, gone with its process).
- Owner-only files (SEC-3); attachments stored under their SHA-256 (SEC-1).
"""
from __future__ import annotations

import gc
import os
import re
import shutil
import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import filelock
from tinydb import TinyDB
from tinydb.storages import Storage

from . import jsonio
from .errors import DataError, LockBusy, NoDatabase, NotFound, StorageIOError, UsageError
from .model import (
    Accepted,
    Attachment,
    Contact,
    Deal,
    Decision,
    Duplicate,
    Message,
    OversizedPart,
    RawMessage,
    Rejected,
    Seat,
    Skipped,
    TeamInbox,
    Unaddressed,
    User,
    raw_identity,
    tail_digest,
)

SCHEMA_VERSION = 2  # 1: a `seen` record per message, bodies inline (read, and upgraded on write)
READABLE_SCHEMAS = (1, 2)
TABLES = ("users", "team_inboxes", "contacts", "companies", "deals", "emails", "rejections", "notices", "sources")


# ---------------------------------------------------------------- files


def _fsync_dir(path: Path) -> None:
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
        _fsync_dir(path.parent)


class AtomicJSONStorage(Storage):
    """TinyDB storage: reads the file once, keeps every change in memory, writes on flush()."""

    def __init__(self, path: str, data: dict):
        self.path = Path(path)
        self.data = data
        self.dirty = False

    def read(self) -> dict:
        return self.data

    def write(self, data: dict) -> None:
        self.data = data
        self.dirty = True

    def flush(self) -> None:
        if self.dirty:
            write_file_atomically(self.path, jsonio.dumps(self.data))
            self.dirty = False

    def close(self) -> None:
        pass


def _load(path: Path) -> dict:
    """The database file, checked: corrupt or unknown-schema files are refused (65), untouched."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {"meta": {"1": {"schema": SCHEMA_VERSION}}}
    except OSError as exc:
        raise StorageIOError(f"cannot read the database {path}: {exc.strerror}") from None
    try:
        # A database is millions of small objects: the cyclic garbage collector would walk all
        # of them again and again while they are made (a 73 MB file: 2.2 s to load instead of
        # 0.7), and they hold no cycles, so it is off while loading and they are frozen out
        # of its walks afterwards.
        gc.disable()
        try:
            data = jsonio.loads(raw)
        finally:
            gc.enable()
        gc.freeze()
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"the database {path} is corrupt ({exc}); it was left untouched") from None
    if not isinstance(data, dict) or not all(
        isinstance(table, dict) and all(isinstance(doc, dict) for doc in table.values()) for table in data.values()
    ):
        raise DataError(f"the database {path} is not a crmlog database; it was left untouched")
    meta: dict = next(iter(data.get("meta", {}).values()), {})
    schema = meta.get("schema")
    if schema not in READABLE_SCHEMAS:
        raise DataError(
            f"the database {path} has schema version {schema!r}; this crmlog reads versions "
            f"{', '.join(map(str, READABLE_SCHEMAS))}; it was left untouched"
        )
    return data


def _upgrade(data: dict) -> bool:
    """Schema 1 -> 2, in memory (written by the writer's first commit): the `seen` records
    become one state record per source. Bodies stored inline by schema 1 stay where they are.
    True when there was something to upgrade."""
    meta = next(iter(data["meta"].values()))
    if meta.get("schema") == SCHEMA_VERSION:
        return False
    sources: dict[str, dict] = {}
    for doc in data.pop("seen", {}).values():
        source, key = doc["source"], doc["key"]
        mbox = re.fullmatch(r"(\d+)-(\d+)", key) if not os.path.isdir(source) else None
        state = sources.setdefault(source, {"source": source, "kind": "mbox" if mbox else "maildir", "keys": []})
        if mbox:
            state["offset"] = max(state.get("offset", 0), int(mbox.group(2)))
        else:
            state["keys"].append(key)
    table = data.setdefault("sources", {})
    for n, state in enumerate(sources.values(), start=len(table) + 1):
        if state["kind"] == "mbox":  # schema 1 kept no digest: the next run checks the offset alone
            state = {"source": state["source"], "kind": "mbox", "offset": state.get("offset", 0), "tail": None}
        table[str(n)] = state
    meta["schema"] = SCHEMA_VERSION
    return True


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


# ---------------------------------------------------------------- bodies


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


# ---------------------------------------------------------------- the view the rules get


@dataclass(frozen=True, slots=True)
class _View:
    """The read-only CrmView the rules get: lookups over the store's in-memory indexes."""

    store: "Store"

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


# ---------------------------------------------------------------- the store


class Store:
    """Open with Store.reader(path) for views, Store.writer(path, ...) for anything that writes."""

    def __init__(self, path: Path, *, write: bool, lock_timeout: float = 60.0, dry_run: bool = False, create: bool = True):
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
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            except OSError as exc:
                raise StorageIOError(f"cannot create the data directory {self.path.parent}: {exc.strerror}") from None
            self._lock = filelock.FileLock(str(self.path) + ".lock", timeout=lock_timeout, mode=0o600)
            try:
                self._lock.acquire()
            except filelock.Timeout:
                raise LockBusy(
                    f"another crmlog run holds the lock {self.path}.lock; gave up after {lock_timeout:g}s"
                ) from None
            except OSError as exc:
                raise StorageIOError(f"cannot lock the database {self.path}: {exc.strerror}") from None
            self._remove_stale_temp_files()
        try:
            data = _load(self.path)
            upgraded = write and _upgrade(data)
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

    def _remove_stale_temp_files(self) -> None:
        """Temp files of a run that was killed while writing (ONCE-3): never renamed into
        place, so nothing points to them. Only the lock holder removes them."""
        for folder in (self.path.parent, self.attachments_dir, self.bodies_dir):
            try:
                stale = [p for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]
            except OSError:
                continue
            for p in stale:
                p.unlink(missing_ok=True)

    @classmethod
    def reader(cls, path: Path) -> "Store":
        """For views: the database must exist (NoDatabase, 66, otherwise)."""
        return cls(path, write=False, create=False)

    @classmethod
    def writer(cls, path: Path, *, lock_timeout: float = 60.0, dry_run: bool = False, create: bool = True) -> "Store":
        """For ingest and edits, under the lock; `create=False` for an edit of records that
        can only exist in an existing database."""
        return cls(path, write=True, lock_timeout=lock_timeout, dry_run=dry_run, create=create)

    def __enter__(self) -> "Store":
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
                _fsync_dir(self.attachments_dir)
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
        self.db.table("notices").update({"mailed": _iso(when)}, doc_ids=[notice_id])

    @property
    def summary_sent(self) -> datetime | None:
        """When the last daily summary of rejections went out."""
        sent = self._meta.get("summary_sent")
        return datetime.fromisoformat(sent) if sent else None

    def set_summary_sent(self, when: datetime) -> None:
        self._set_meta(summary_sent=_iso(when))

    def _set_meta(self, **fields) -> None:
        self.db.table("meta").update(fields, doc_ids=[1])

    # ------------------------------------------------------------ indexes

    def _index(self, *, full: bool) -> None:
        """What the rules and the edits consult, built once per run. Readers need only the
        team (and the check that its records are readable)."""
        tables = self._storage.data
        self._users = tuple(_user(d, int(i)) for i, d in tables.get("users", {}).items())
        self._team_inboxes = tuple(
            TeamInbox(address=d["address"], connected_by=d["connected_by"]) for d in tables.get("team_inboxes", {}).values()
        )
        deals = [_deal(d, int(i)) for i, d in tables.get("deals", {}).items()]
        self._pending: dict[str, list[dict]] = {}
        self._removed: dict[str, list[int]] = {}
        self._full = full
        if not full:
            return
        self._contacts = {d["email"]: _contact(d) for d in tables.get("contacts", {}).values()}
        self._companies = {d["domain"] for d in tables.get("companies", {}).values()}
        self._deals_by_contact: dict[str, list[Deal]] = {}
        for deal in deals:
            for c in deal.contacts:
                self._deals_by_contact.setdefault(c, []).append(deal)
        self._logged = {identity(d) for d in tables.get("emails", {}).values()}
        # identity -> doc id of a stored rejection, or None while it waits in the batch
        self._rejected: dict[str, int | None] = {d["identity"]: int(i) for i, d in tables.get("rejections", {}).items()}
        self._sources: dict[str, dict] = {}  # source -> its state record (doc id under "_id")
        for i, d in tables.get("sources", {}).items():
            state = dict(d, _id=int(i))
            if state["kind"] == "maildir":
                state["keys"] = dict.fromkeys(state.get("keys", ()))
            self._sources[state["source"]] = state
        self._changed_sources: set[str] = set()

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
            "inboxes": [[a, _iso(now)] for a in inboxes],
            "aliases": list(aliases),
            "logins": list(logins),
            "seat": str(Seat(seat)),
            "personal_inbox_access": permission,
            "created": _iso(now),
        }
        doc_id = self.db.table("users").insert(doc)
        self._users = self._users + (_user(dict(doc), doc_id),)
        return doc_id

    def add_team_inbox(self, *, address, connected_by, now) -> None:
        if not any(u.email == connected_by for u in self._users):
            raise NotFound(f"no user with e-mail {connected_by}")
        if any(t.address == address for t in self._team_inboxes):
            raise UsageError(f"the team inbox {address} exists already")
        self.db.table("team_inboxes").insert(
            {"address": address, "connected_by": connected_by, "connected_at": _iso(now)}
        )
        self._team_inboxes += (TeamInbox(address=address, connected_by=connected_by),)

    def add_deal(self, *, name, contacts, stage, created) -> int:
        doc = {"name": name, "stage": stage, "created": _iso(created), "contacts": list(contacts)}
        doc_id = self.db.table("deals").insert(doc)
        deal = _deal(dict(doc), doc_id)
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
            self._queue("companies", {"domain": company, "name": company, "created": _iso(now)})
            self._companies.add(company)
        doc = {"email": email, "name": name, "company": company, "source": source, "created": _iso(now)}
        self._queue("contacts", doc)
        self._contacts[email] = _contact(doc)
        return True

    # ------------------------------------------------------------ sources (ONCE-2)

    def maildir_keys(self, source: str) -> dict[str, None]:
        """The keys of a Maildir folder decided on, in the order decided (the live index:
        look keys up in it, don't change it)."""
        return self._source(source, "maildir")["keys"]

    def mbox_resume(self, source: str) -> tuple[int, str | None] | None:
        """(offset, digest of the bytes before it) where the last run stopped in an mbox
        (no digest for a state upgraded from schema 1)."""
        state = self._source(source, "mbox")
        return (state["offset"], state.get("tail")) if state.get("offset") else None

    def keep_keys(self, source: str, listed: set[str]) -> None:
        """Forget the keys of files no longer in a Maildir folder (after a whole listing), so
        its state stays the size of the folder."""
        state = self._source(source, "maildir")
        if not state["keys"].keys() <= listed:
            state["keys"] = {k: None for k in state["keys"] if k in listed}
            self._changed_sources.add(source)

    def _source(self, source: str, kind: str) -> dict:
        state = self._sources.get(source)
        if state is None or state["kind"] != kind:  # new, or a path that changed its kind
            state = {"source": source, "kind": kind, "keys": {}} if kind == "maildir" else {"source": source, "kind": kind}
            if source in self._sources:
                state["_id"] = self._sources[source].get("_id")
            self._sources[source] = state
        return state

    def _mark(self, item: RawMessage | Unaddressed) -> None:
        if item.position is not None:  # the digest of its tail is taken once, when it is written
            self._source(item.source, "mbox")["position"] = item.position
        else:
            self._source(item.source, "maildir")["keys"][item.key] = None
        self._changed_sources.add(item.source)

    def _flush_sources(self) -> None:
        table = self.db.table("sources")
        for source in sorted(self._changed_sources):
            state = self._sources[source]
            doc = {"source": source, "kind": state["kind"]}
            if state["kind"] == "maildir":
                doc["keys"] = list(state["keys"])
            else:
                position = state.pop("position", None)
                if position is not None:
                    state["offset"], state["tail"] = position.offset, tail_digest(position.tail)
                doc["offset"], doc["tail"] = state.get("offset", 0), state.get("tail")
            if state.get("_id") is None:
                state["_id"] = table.insert(doc)
            else:
                self._storage.data["sources"][str(state["_id"])] = doc
                self._storage.dirty = True
        self._changed_sources = set()

    # ------------------------------------------------------------ ingest

    def skip(self, item: Unaddressed) -> None:
        """Record a message whose header block named no logging address (ADDR-2) as decided."""
        self._mark(item)

    def apply(self, item: RawMessage, message: Message | None, decision: Decision, *, now: datetime) -> int:
        """Record one decided message: its records and its source state go in the same batch.
        Returns the number of contacts created."""
        created = 0
        if isinstance(decision, Accepted):
            assert message is not None  # only a parsed message can be accepted
            created = self._apply_accepted(item, message, decision, now)
        elif isinstance(decision, Rejected):
            self._queue_rejection(
                {
                    "identity": message.identity if message else raw_identity(item.data),
                    "message_id": message.message_id if message else "",
                    "code": str(decision.code),
                    "reason": decision.reason,
                    "sender": message.sender.email if message and message.sender else "",
                    "subject": message.subject[:300] if message else "",
                    "date": _iso(message.date) if message else None,
                    "source": item.source,
                    "key": item.key,
                    "rules": list(decision.rules),
                    "recorded": _iso(now),
                }
            )
        else:
            assert isinstance(decision, (Skipped, Duplicate))
        self._mark(item)
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
                for doc, doc_id in zip(docs, ids):
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
        attachments += [_attachment_record(a, stored=False) for a in d.dropped_attachments]
        a = d.attribution
        f = d.forwarded
        sender = f.sender if f else message.sender
        # What the listings show stays in the database; what only `emails show` and
        # `attribution explain` need goes with the body into the batch's pack.
        detail = {
            "from_name": sender.name if sender else "",
            "to": [x.email or x.name for x in (f.to if f else message.to)],
            "cc": [x.email or x.name for x in (f.cc if f else message.cc)],
            "attribution": {
                "rule": a.rule,
                "candidates": list(a.candidates),
                "session_user": a.session_user,
                "ambiguous": a.ambiguous,
            },
            "rules": list(d.rules),
            "source": raw.source,
            "key": raw.key,
            "logged_at": _iso(now),
        }
        record: dict[str, Any] = {
            "message_id": message.message_id,
            "subject": f.subject if f else message.subject,
            "date": f.date if f else _iso(message.date),
            "path": str(d.path),
            "user": a.user,
            "rule": a.rule,
            "from": sender.email if sender else "",
            "contacts": list(d.contacts),
            "companies": list(d.companies),
            "deals": list(d.deals),
            "attachments": attachments,
            "body": self.bodies.add(f.body if f else message.text, "" if f else message.html, detail),
        }
        if message.identity != message.message_id:
            record["identity"] = message.identity  # a message without a Message-ID: sha256:...
        if f:  # FWD-4: the forwarder's own note and the forward itself, apart from the body
            record["forward"] = {
                "note": f.note,
                "client": f.client,
                "forwarded_by": message.sender.email if message.sender else "",
                "forwarded_at": _iso(message.date),
                "subject": message.subject,
            }
        self._queue("emails", record)
        self._logged.add(message.identity)
        for dropped in d.dropped_attachments:  # LIM-2
            self._queue(
                "notices",
                {
                    "kind": "delivery-error",
                    "user": a.user,
                    "message_id": message.message_id,
                    "detail": f"attachment {dropped.filename!r} ({dropped.size:,} bytes) is over the "
                    "attachment limit and was not stored; the e-mail was logged without it",
                    "date": _iso(now),
                },
            )
        return created

    def _store_attachment(self, a: Attachment) -> dict:
        record = _attachment_record(a, stored=True)
        if self.writing:
            target = self.attachment_path(record["sha256"])
            if not target.exists():
                try:
                    self.attachments_dir.mkdir(mode=0o700, exist_ok=True)
                    write_file_atomically(target, a.data, sync_dir=False)  # the directory: once, at commit
                    self._attachments_unsynced = True
                except OSError as exc:
                    raise StorageIOError(f"cannot store an attachment in {self.attachments_dir}: {exc.strerror}") from None
        return record

    def save_attachments(self, attachments: list[dict], target: Path) -> list[Path]:
        """Copy stored attachments into `target` under safe, distinct names (SEC-1), readable
        by their owner only (SEC-3): the files 0600, `target` 0700 where crmlog creates it
        (an existing directory keeps its mode). A name taken already gets a number; nothing
        in `target` is overwritten or followed."""
        try:
            target.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StorageIOError(f"cannot create {target}: {exc.strerror}") from None
        saved: list[Path] = []
        for a in attachments:
            if not a.get("stored"):
                continue
            src = self.attachment_path(a["sha256"])
            if not src.exists():
                raise NotFound(f"attachment {a['sha256']} is missing from the store {self.attachments_dir}")
            name = safe_filename(a.get("filename") or "", f"attachment-{a['sha256'][:12]}")
            saved.append(_copy_private(src, target, name))
        return saved


def _copy_private(src: Path, target: Path, name: str) -> Path:
    """Copy `src` to a new file `target/name` (or `name-2`, `name-3`, ...), created 0600 with
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
            with os.fdopen(fd, "wb") as out, open(src, "rb") as data:
                os.fchmod(out.fileno(), 0o600)  # whatever the umask
                shutil.copyfileobj(data, out, 1 << 20)
        except OSError as exc:
            path.unlink(missing_ok=True)
            raise StorageIOError(f"cannot write {path}: {exc.strerror}") from None
        return path


def identity(email: dict) -> str:
    """The identity of a logged e-mail (ONCE-1): its Message-ID, else its stored sha256."""
    return email.get("identity") or email["message_id"]


_UNSAFE = re.compile(r"[^\w.\- ()\[\]+,@=]+")


def safe_filename(name: str, fallback: str) -> str:
    """A file name from a message made harmless: no directories, no dot files, no control
    characters, at most 200 characters (SEC-1)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("_", base).strip(" ._")[:200]
    return base or fallback


def _attachment_record(a: Attachment | OversizedPart, *, stored: bool) -> dict:
    return {
        "filename": a.filename,
        "content_type": a.content_type,
        "size": a.size,
        "sha256": a.sha256,
        "stored": stored,
    }


def _user(d: dict, doc_id: int) -> User:
    return User(
        id=doc_id,
        email=d["email"],
        name=d.get("name", ""),
        inboxes=tuple((a, t) for a, t in d.get("inboxes", [])),
        aliases=tuple(d.get("aliases", [])),
        logins=tuple(d.get("logins", [])),
        seat=Seat(d.get("seat", "full")),
        personal_inbox_access=d.get("personal_inbox_access", True),
    )


def _contact(d: dict) -> Contact:
    return Contact(email=d["email"], name=d.get("name", ""), company=d.get("company"), source=d.get("source", ""))


def _deal(d: dict, doc_id: int) -> Deal:
    return Deal(
        id=doc_id,
        name=d["name"],
        stage=d["stage"],
        created=d["created"],
        contacts=tuple(d.get("contacts", [])),
    )
