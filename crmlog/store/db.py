"""The CRM a run or a view opens: a unit of work over an engine (engine.py).

`Store.reader(path)` for views, `Store.writer(path, ...)` for anything that writes. A writer
queues one batch of changes (ingest's decided messages, or an edit) and `commit` makes it
durable: first the blobs its records point to, then the records, all or nothing. Until then
the batch is visible to the rules through `view()`, over the engine's own lookups."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from ..model import (
    Accepted,
    Code,
    Decision,
    Duplicate,
    Message,
    RawMessage,
    Rejected,
    Skipped,
    Unaddressed,
    iso,
    raw_identity,
)
from ..records import (
    Company,
    Contact,
    Deal,
    Doc,
    Email,
    EmailBody,
    Record,
    Rejection,
    Run,
    RunMessage,
    StoredAttachment,
    TeamInbox,
    User,
)
from . import project, scrub
from .engine import Changes, Engine
from .export import save_attachments
from .jsonfile import LOCK_TIMEOUT
from .open import open_engine
from .runs import Outcome, RunState, changes_anything
from .state import SourceStates
from .view import StoreView


class Store:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.blobs = engine.blobs
        # reading records is the engine's own (what is read is what was committed)
        self.read, self.get, self.count, self.tally = engine.read, engine.get, engine.count, engine.tally
        try:
            self.users = tuple(engine.read(User))
            self.team_inboxes = tuple(engine.read(TeamInbox))
        except BaseException:
            engine.close()
            raise
        self.sources = SourceStates(engine.source_state)  # ONCE-2: each folder's, read when a run comes to it
        self.reprocess = False
        self.listed: list[RunMessage] = []  # what this run did, message by message (LIFE-6, LIFE-7)
        self.changes: list[tuple[bool, Outcome | None]] = []  # each one's: the same as stored? what was
        self.taken_by_others = 0  # e-mails this run decided to log that another host logged first
        self._run: RunState | None = None
        self._view = StoreView(self)
        self._reset()
        garbage = engine.meta().get("garbage")
        if garbage and getattr(engine, "writing", False):  # files an interrupted removal left
            self.blobs.remove(garbage)
            self._meta["garbage"] = []

    def _reset(self) -> None:
        self._added: list[Record] = []
        self._replaced: list[Record] = []
        self._removed: list[tuple[str, int]] = []
        self._restored: list[tuple[str, int, Doc]] = []
        self._dropped_sources: list[str] = []
        self._put_sources: list[Doc] = []
        self._meta: dict[str, Any] = {}
        self.new_contacts: dict[str, Contact] = {}
        self._new_companies: set[str] = set()
        self.new_logged: set[str] = set()
        self._new_rejections: dict[str, Rejection] = {}
        self.new_deals: list[Deal] = []
        self._listed_ids: list[tuple[int, int]] = []  # (index in self.listed, index in self._added)
        self._garbage: list[str] = []
        self._listings: dict[int, list[Doc]] = {}

    @classmethod
    def reader(cls, path: Path | str) -> Store:
        """For views: the database must exist (NoDatabase, 66, otherwise). `path`: a JSON
        file's, or a postgresql:// URL (open.py)."""
        return cls(open_engine(path, write=False, create=False))

    @classmethod
    def writer(
        cls, path: Path | str, *, lock_timeout: float = LOCK_TIMEOUT, dry_run: bool = False, create: bool = True
    ) -> Store:
        """For ingest and edits, under the lock; `create=False` for an edit of records that
        can only exist in an existing database."""
        return cls(open_engine(path, write=True, lock_timeout=lock_timeout, dry_run=dry_run, create=create))

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.engine.close()

    def view(self) -> StoreView:
        return self._view

    # ------------------------------------------------------------ reading records

    def body(self, email: Email) -> EmailBody:
        """What a logged e-mail's listing leaves out: its body and detail."""
        if email.inline is not None:
            return email.inline
        if email.body is None:
            return EmailBody()
        return self.blobs.body(email.body)

    def save_attachments(self, attachments: Iterable[StoredAttachment], target: Path) -> list[Path]:
        """Copy the stored ones of `attachments` into `target` (export.save_attachments)."""
        return save_attachments(attachments, self.blobs.attachment, target)

    # ------------------------------------------------------------ the batch

    @property
    def pending_bytes(self) -> int:
        """Bytes of bodies waiting for the next commit (the shell commits early past a bound)."""
        return int(self.blobs.pending_bytes)

    def commit(self) -> list[int]:
        """Write the batch: the blobs first (durable), then the records that point to them,
        with the run's progress and undo journal; then remove the files that the batch left
        no record pointing to (named in the same write first, so that a crash between the two
        leaves them to the next writer). Returns the ids the batch's new records got, in the
        order they were added."""
        meta = {**self._meta, **self.blobs.flush()}
        if self._listings:  # rewritten listings, the runs that name them in the same write
            written = {run: self.blobs.replace_listing(run, rows) for run, rows in self._listings.items()}
            self._replaced = [_named(r, written, self._garbage) for r in self._replaced]
        if self._garbage:
            meta["garbage"] = self._garbage
        moved_on = self.sources.moved_on()  # a message decided or a key forgotten
        changes = Changes(
            added=tuple(self._added),
            replaced=tuple(self._replaced),
            removed=tuple(self._removed),
            restored=tuple(self._restored),
            sources=tuple(self._put_sources),
            dropped_sources=tuple(self._dropped_sources),
            meta=meta,
        )
        run = self._run is not None and (self._run.recorded or moved_on or changes_anything(changes))
        # directories' mtimes recorded (read/directory_times.py) ride along with a write, never
        # cause one: a run that finds nothing new writes nothing (the next one lists again)
        writes = run or moved_on or bool(meta) or changes_anything(changes)
        changes = replace(changes, sources=(*self.sources.changed(mtimes_alone=writes), *self._put_sources))
        files = self.blobs.written()
        if run and self._run is not None:
            changes = replace(changes, run=self._run.progress(self.listed, files, self.blobs))
        try:
            ids = self.engine.write(changes)
        except BaseException:
            if self._run is not None and changes.run is not None:  # its rows are not counted: gone
                self._run.listing = self.blobs.cut_listing(self._run.id, changes.run.committed)
            raise
        taken = set(self.engine.taken)
        for listed, added in self._listed_ids if self._run is not None else ():  # a dry run's ids are none
            row = replace(self.listed[listed], email_id=ids[added])
            if added in taken:  # ONCE-1: another host logged it meanwhile; the stored one is it
                row = replace(row, outcome="duplicate")
                self.taken_by_others += 1
            self.listed[listed] = row
        if self._garbage:
            self.blobs.remove(self._garbage)
            self._meta["garbage"] = []  # written with the next batch
        team = (User, TeamInbox)
        if any(isinstance(r, team) for r in (*changes.added, *changes.replaced)) or any(
            t in ("users", "team_inboxes") for t, _ in changes.removed
        ):
            self.users, self.team_inboxes = tuple(self.engine.read(User)), tuple(self.engine.read(TeamInbox))
        self._reset()
        return ids

    # the batch's primitives, for the edits (edits.py, erase.py) and undo (runs.py)

    def add(self, record: Record) -> None:
        self._added.append(record)
        if isinstance(record, Deal):
            self.new_deals.append(record)

    _add = add

    def replace(self, record: Record) -> None:
        self._replaced.append(record)

    def remove(self, record: Record) -> None:
        self._removed.append((record.TABLE, record.id))

    def remove_id(self, table: str, id: int) -> None:
        self._removed.append((table, id))

    def put_source(self, doc: Doc) -> None:
        """A mailbox state written as it is (undo puts one back)."""
        self._put_sources.append(doc)

    def restore(self, table: str, id: int, doc: Doc) -> None:
        self._restored.append((table, id, doc))

    def drop_source(self, source: str) -> None:
        self._dropped_sources.append(source)

    def discard_files(self, names: Iterable[str]) -> None:
        """Files no record will point to once the batch is written: removed after it."""
        self._garbage.extend(names)

    def rewrite_listing(self, run: int, rows: list[Doc]) -> None:
        """A run's listing written anew at commit (its Run record must be replaced in the batch)."""
        self._listings[run] = rows

    def set_meta(self, key: str, value: Any) -> None:
        self._meta[key] = value

    def keyed_hash(self, email: str) -> str:
        """LIFE-3: the address under the database's own secret (none yet: nothing is forgotten)."""
        secret = self._meta.get("secret") or self.engine.meta().get("secret")
        if not secret:
            return ""
        return hmac.new(bytes.fromhex(secret), email.encode(), hashlib.sha256).hexdigest()

    # ------------------------------------------------------------ runs (LIFE-6)

    def begin_run(
        self, *, paths: Iterable[str], user: str | None, now: datetime, reprocess: bool = False, record: bool = True
    ) -> None:
        """What follows is an ingest run: recorded from its first write on (a run that finds
        nothing new writes nothing, and is not recorded; nor is a dry run)."""
        self.reprocess = reprocess
        if record:
            self._run = RunState(id=self.engine.next_id(Run), started=iso(now) or "", paths=tuple(paths), user=user)

    @property
    def run_id(self) -> int | None:
        """The run's id, once something of it is written."""
        return self._run.id if self._run is not None and self._run.recorded else None

    def run_counts(self, counts: Mapping[str, int], *, finished: datetime | None = None) -> None:
        if self._run is None:
            return
        self._run.counts = dict(counts)
        if finished is not None:
            self._run.finished = iso(finished)

    # ------------------------------------------------------------ ingest

    def skip(self, item: Unaddressed) -> None:
        """Record a message whose header block named no logging address (ADDR-2) as decided."""
        self.sources.mark(item)

    def apply(self, item: RawMessage, message: Message | None, decision: Decision, *, now: datetime) -> int:
        """Record one decided message: its records and its source state go in the same batch.
        What is stored of it already (a message decided again: --reprocess, or a rejected one
        found in another folder) is left as it is where the decision is the same, else
        replaced. Returns the number of contacts created."""
        self.sources.mark(item)
        if isinstance(decision, Skipped):
            return 0
        before = self._stored(message.identity if message else raw_identity(item.data))
        row, same, created = project.listed(item, message, decision), isinstance(decision, Duplicate), 0
        if isinstance(decision, Accepted):
            assert message is not None  # only a parsed message can be accepted
            logged = project.logged(item, message, decision, now)
            erased = self._erased(message, scrub.logged_texts(logged))
            logged = scrub.scrubbed_logged(logged, erased) if erased else logged
            same = before is not None and before.same(project.outcome(logged.email))
            late = before is not None and before.outcome == "logged" and not self.reprocess
            if same or late:  # late: another host logged it since the rules looked (ONCE-1)
                self.new_logged.add(logged.email.identity)
                row = replace(row, email_id=before.id if before else None)
                if late:
                    row, same = replace(row, outcome="duplicate"), True
                    self.taken_by_others += 1
            else:
                self._unlog(before)
                created = self._log(logged)
                self._listed_ids.append((len(self.listed), len(self._added) - 1 - len(logged.notices)))
        elif isinstance(decision, Rejected):
            rejection = project.rejection(item, message, decision, now)
            erased = self._erased(message, (rejection.sender, rejection.subject, rejection.reason))
            rejection = scrub.scrubbed_rejection(rejection, erased) if erased else rejection
            if before is not None and before.outcome == "logged" and rejection.code == Code.USER_DEACTIVATED:
                assert message is not None  # a logged message was parsed
                same, row = True, project.kept(item, message, before)  # LIFE-2: their history stays
                self.new_logged.add(rejection.identity)
            elif before is not None and before.same(project.outcome(rejection)):
                same = True
            else:
                self._unlog(before)
                self._reject(rejection)
        erased = self._erased(message, (row.sender, row.subject, row.reason))
        self.listed.append(scrub.scrubbed_row(row, erased) if erased else row)
        self.changes.append((same, before))
        return created

    def _stored(self, identity: str) -> Outcome | None:
        """What is stored of a message, unless this batch takes it out already."""
        email_id = self.engine.email_id(identity)
        if email_id is not None and ("emails", email_id) not in self._removed:
            email = self.engine.get(Email, email_id)
            return project.outcome(email) if email else None
        rejection_id = self.engine.rejection_id(identity)
        if rejection_id is not None and ("rejections", rejection_id) not in self._removed:
            rejection = self.engine.get(Rejection, rejection_id)
            return project.outcome(rejection) if rejection else None
        return None

    def _erased(self, message: Message | None, texts: Iterable[str]) -> tuple[str, ...]:
        """LIFE-3: the erased addresses a new record would name (none before a first forget)."""
        if not (self._meta.get("secret") or self.engine.meta().get("secret")):
            return ()
        return scrub.erased_in(message, texts, self._view.is_forgotten)

    def _unlog(self, before: Outcome | None) -> None:
        """A message logged before and decided otherwise now is no longer logged as it was."""
        if before is not None and before.outcome == "logged" and before.id is not None:
            self._removed.append(("emails", before.id))

    def _log(self, logged: project.Logged) -> int:
        created = self._create_contacts(logged.contacts, logged.companies)
        email = logged.email
        self._unreject(email.identity)  # a message rejected before is logged now
        for a in logged.contents:
            self.blobs.add_attachment(a.sha256, a.data)
        self._add(replace(email, body=self.blobs.add_body(logged.body)))
        self.new_logged.add(email.identity)
        for notice in logged.notices:
            self._add(notice)
        return created

    def _create_contacts(self, contacts: tuple[Contact, ...], companies: tuple[Company, ...]) -> int:
        """Queue the contacts not in the CRM yet, each with its company where that is new."""
        by_domain = {c.domain: c for c in companies}
        created = 0
        for contact in contacts:
            if self._view.contact(contact.email) is not None:
                continue
            if contact.company and contact.company not in self._new_companies:
                if not self.engine.has_company(contact.company):
                    self._add(by_domain[contact.company])
                self._new_companies.add(contact.company)
            self._add(contact)
            self.new_contacts[contact.email] = contact
            created += 1
        return created

    def _reject(self, rejection: Rejection) -> None:
        """One rejection per message (REJ-1): a later copy replaces the earlier record."""
        self._unreject(rejection.identity)
        self._add(rejection)
        self._new_rejections[rejection.identity] = rejection

    def _unreject(self, identity: str) -> None:
        queued = self._new_rejections.pop(identity, None)
        if queued is not None:
            self._added.remove(queued)
            return
        stored = self.engine.rejection_id(identity)
        if stored is not None and ("rejections", stored) not in self._removed:
            self._removed.append(("rejections", stored))


def _named(record: Record, written: dict[int, tuple[str, int]], garbage: list[str]) -> Record:
    """A run's record naming its listing written anew; the old file to remove after the write."""
    if not isinstance(record, Run) or record.id not in written:
        return record
    garbage.append(f"runs/{record.listing_name or f'{record.id:06d}.jsonl'}")
    name, length = written[record.id]
    return replace(record, listing=length, listing_name=name)
