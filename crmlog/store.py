"""The CRM database: TinyDB over an atomic, batched JSON storage, a writer lock, and a
content-addressed attachment store beside the database. The only module that imports tinydb.

- Atomic (ONCE-3): TinyDB's own JSONStorage rewrites its file in place, so a crash mid-write
  leaves half a file. AtomicJSONStorage keeps the data in memory and writes only on commit():
  temp file, fsync, os.replace, fsync of the directory. A reader sees the old file or the new.
- Batched: TinyDB hands the storage the whole database on every insert; we keep that in memory
  and write once per batch of messages.
- One writer (ONCE-4): a lock file beside the database (an OS lock, gone with its process).
- Owner-only files (SEC-3); attachments stored under their SHA-256 (SEC-1).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import filelock
from tinydb import Query, TinyDB
from tinydb.storages import Storage

from .errors import DataError, LockBusy, NotFound, StorageIOError, UsageError
from .model import (
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
    User,
    raw_identity,
)

SCHEMA_VERSION = 1
TABLES = (
    "users",
    "team_inboxes",
    "contacts",
    "companies",
    "deals",
    "emails",
    "rejections",
    "notices",
    "seen",
)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file_atomically(path: Path, data: bytes) -> None:
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
            text = json.dumps(self.data, ensure_ascii=False, separators=(",", ":"))
            blob = text.encode("utf-8", "backslashreplace")  # a stray surrogate: a JSON \\u escape
            write_file_atomically(self.path, blob)
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
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"the database {path} is corrupt ({exc}); it was left untouched") from None
    if not isinstance(data, dict) or not all(
        isinstance(table, dict) and all(isinstance(doc, dict) for doc in table.values()) for table in data.values()
    ):
        raise DataError(f"the database {path} is not a crmlog database; it was left untouched")
    meta: dict = next(iter(data.get("meta", {}).values()), {})
    schema = meta.get("schema")
    if schema != SCHEMA_VERSION:
        raise DataError(
            f"the database {path} has schema version {schema!r}; this crmlog reads version "
            f"{SCHEMA_VERSION}; it was left untouched"
        )
    return data


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


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


class Store:
    """Open with Store.reader(path) for views, Store.writer(path, ...) for anything that writes."""

    def __init__(self, path: Path, *, write: bool, lock_timeout: float = 60.0, dry_run: bool = False):
        self.path = Path(path)
        self.attachments_dir = self.path.with_name(self.path.stem + ".attachments")
        self.writing = write and not dry_run
        self._lock = None
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
        try:
            self._storage = AtomicJSONStorage(str(self.path), _load(self.path))
        except BaseException:
            self.close()
            raise
        self.db = TinyDB(storage=lambda: self._storage)
        try:
            self._index()
        except (KeyError, TypeError, ValueError) as exc:
            self.close()
            raise DataError(
                f"the database {self.path} has a record crmlog cannot read ({type(exc).__name__}: {exc}); "
                "it was left untouched"
            ) from None

    @classmethod
    def reader(cls, path: Path) -> "Store":
        return cls(path, write=False)

    @classmethod
    def writer(cls, path: Path, *, lock_timeout: float = 60.0, dry_run: bool = False) -> "Store":
        return cls(path, write=True, lock_timeout=lock_timeout, dry_run=dry_run)

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def commit(self) -> None:
        """Write everything applied since the last commit, atomically."""
        self.flush_pending()
        if self.writing:
            try:
                self._storage.flush()
            except OSError as exc:
                raise StorageIOError(
                    f"cannot write the database {self.path}: {exc.strerror}; the previous version is intact"
                ) from None

    # ------------------------------------------------------------ indexes

    def _index(self) -> None:
        self._users = tuple(_user(d, d.doc_id) for d in self.db.table("users").all())
        self._team_inboxes = tuple(
            TeamInbox(address=d["address"], connected_by=d["connected_by"])
            for d in self.db.table("team_inboxes").all()
        )
        self._contacts = {d["email"]: _contact(d) for d in self.db.table("contacts").all()}
        self._companies = {d["domain"] for d in self.db.table("companies").all()}
        self._deals_by_contact: dict[str, list[Deal]] = {}
        for d in self.db.table("deals").all():
            deal = _deal(d, d.doc_id)
            for c in deal.contacts:
                self._deals_by_contact.setdefault(c, []).append(deal)
        self._logged = {d["identity"] for d in self.db.table("emails").all()}
        self._rejected = {d["identity"] for d in self.db.table("rejections").all()}
        self._seen = {(d["source"], d["key"]) for d in self.db.table("seen").all()}
        self._pending: dict[str, list[dict]] = {}

    def view(self) -> _View:
        return _View(self)

    # ------------------------------------------------------------ reading records

    def all(self, table: str) -> list[dict]:
        """Every record of a table, each with its id."""
        return [dict(d, id=d.doc_id) for d in self.db.table(table).all()]

    def get(self, table: str, doc_id: int) -> dict | None:
        d = self.db.table(table).get(doc_id=doc_id)
        return dict(d, id=d.doc_id) if d is not None else None

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
        self._index()

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

    # ------------------------------------------------------------ ingest

    def seen(self, source: str, key: str) -> bool:
        return (source, key) in self._seen

    def apply(self, raw: RawMessage, message: Message | None, decision: Decision, *, now: datetime) -> int:
        """Record one decided message: its records and its `seen` mark go in the same batch.
        Returns the number of contacts created."""
        sender = message.sender.email if message and message.sender else ""
        created = 0
        if isinstance(decision, Accepted):
            assert message is not None
            created = self._apply_accepted(raw, message, decision, now)
        elif isinstance(decision, Rejected):
            self._queue_rejection(
                {
                    "identity": message.identity if message else raw_identity(raw.data),
                    "message_id": message.message_id if message else "",
                    "code": str(decision.code),
                    "reason": decision.reason,
                    "sender": sender,
                    "date": _iso(message.date) if message else None,
                    "source": raw.source,
                    "key": raw.key,
                    "rules": list(decision.rules),
                    "recorded": _iso(now),
                }
            )
        outcome = {Accepted: "logged", Rejected: "rejected", Skipped: "skipped", Duplicate: "duplicate"}[
            type(decision)
        ]
        if (raw.source, raw.key) not in self._seen:
            self._queue("seen", {"source": raw.source, "key": raw.key, "outcome": outcome})
            self._seen.add((raw.source, raw.key))
        return created

    def flush_pending(self) -> None:
        """Move queued records into TinyDB (one insert_multiple per table), in memory."""
        for table, docs in self._pending.items():
            if docs:
                self.db.table(table).insert_multiple(docs)
        self._pending = {}

    def _queue(self, table: str, doc: dict) -> None:
        self._pending.setdefault(table, []).append(doc)

    def _queue_rejection(self, doc: dict) -> None:
        # One rejection per message (REJ-1): a later copy replaces the earlier record.
        if doc["identity"] in self._rejected:
            self.flush_pending()
            self.db.table("rejections").remove(Query().identity == doc["identity"])
        self._queue("rejections", doc)
        self._rejected.add(doc["identity"])

    def _apply_accepted(self, raw: RawMessage, message: Message, d: Accepted, now: datetime) -> int:
        created = sum(
            self.add_contact(email=c.email, name=c.name, source=c.source, company=c.company, now=now)
            for c in d.new_contacts
        )
        # A message rejected before (say, before its sender was a user) is logged now.
        if message.identity in self._rejected:
            self.flush_pending()
            self.db.table("rejections").remove(Query().identity == message.identity)
            self._rejected.discard(message.identity)
        attachments = [self._store_attachment(a) for a in d.kept_attachments]
        attachments += [_attachment_record(a, stored=False) for a in d.dropped_attachments]
        a = d.attribution
        f = d.forwarded
        sender = f.sender if f else message.sender
        self._queue(
            "emails",
            {
                "identity": message.identity,
                "message_id": message.message_id,
                "subject": f.subject if f else message.subject,
                "date": f.date if f else _iso(message.date),
                "path": str(d.path),
                "user": a.user,
                "from": sender.email if sender else "",
                "from_name": sender.name if sender else "",
                "to": [x.email or x.name for x in (f.to if f else message.to)],
                "cc": [x.email or x.name for x in (f.cc if f else message.cc)],
                "contacts": list(d.contacts),
                "companies": list(d.companies),
                "deals": list(d.deals),
                "attachments": attachments,
                "attribution": {
                    "rule": a.rule,
                    "candidates": list(a.candidates),
                    "session_user": a.session_user,
                    "ambiguous": a.ambiguous,
                },
                "rules": list(d.rules),
                "text": f.body if f else message.text,
                "html": "" if f else message.html,
                # FWD-4: the forwarder's own note and the forward itself, apart from the body
                "forward": {
                    "note": f.note,
                    "client": f.client,
                    "forwarded_by": message.sender.email if message.sender else "",
                    "forwarded_at": _iso(message.date),
                    "subject": message.subject,
                }
                if f
                else None,
                "source": raw.source,
                "key": raw.key,
                "logged_at": _iso(now),
            },
        )
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
                    write_file_atomically(target, a.data)
                except OSError as exc:
                    raise StorageIOError(f"cannot store an attachment in {self.attachments_dir}: {exc.strerror}") from None
        return record

    def save_attachments(self, attachments: list[dict], target: Path) -> list[Path]:
        """Copy stored attachments into `target` under safe, distinct names (SEC-1)."""
        try:
            target.mkdir(parents=True, exist_ok=True)
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
            stem, dot, ext = name.rpartition(".")
            if not (dot and stem):
                stem, ext = name, ""
            n = 1
            while (target / name).exists():
                n += 1
                name = f"{stem}-{n}.{ext}" if ext else f"{stem}-{n}"
            try:
                shutil.copyfile(src, target / name)
            except OSError as exc:
                raise StorageIOError(f"cannot write {target / name}: {exc.strerror}") from None
            saved.append(target / name)
        return saved


_UNSAFE = re.compile(r"[^\w.\- ()\[\]+,@=]+")


def safe_filename(name: str, fallback: str) -> str:
    """A file name from a message made harmless: no directories, no dot files, no control
    characters, at most 200 characters (SEC-1)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("_", base).strip(" ._")[:200]
    return base or fallback


def _attachment_record(a: Attachment, *, stored: bool) -> dict:
    return {
        "filename": a.filename,
        "content_type": a.content_type,
        "size": a.size,
        "sha256": hashlib.sha256(a.data).hexdigest(),
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

