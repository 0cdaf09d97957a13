"""The CRM a run or a view opens: a unit of work over an engine (engine.py).

`Store.reader(path)` for views, `Store.writer(path, ...)` for anything that writes. A writer
queues one batch of changes (ingest's decided messages, or an edit) and `commit` makes it
durable: first the blobs its records point to, then the records, all or nothing. Until then
the batch is visible to the rules through `view()`, over the engine's own lookups.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import NotFound, UsageError
from ..model import Accepted, Decision, Duplicate, Message, RawMessage, Rejected, Skipped, Unaddressed, iso
from ..records import (
    Company,
    Contact,
    Deal,
    Email,
    EmailBody,
    Notice,
    Record,
    Rejection,
    Seat,
    StoredAttachment,
    TeamInbox,
    User,
)
from . import project
from .engine import Changes, Engine
from .export import save_attachments
from .jsonfile import LOCK_TIMEOUT, JsonEngine
from .state import SourceStates


class _View:
    """The read-only CrmView the rules get: the engine's lookups, with this batch on top."""

    def __init__(self, store: Store):
        self._store = store

    @property
    def users(self) -> tuple[User, ...]:
        return self._store.users

    @property
    def team_inboxes(self) -> tuple[TeamInbox, ...]:
        return self._store.team_inboxes

    def contact(self, email: str) -> Contact | None:
        return self._store._new_contacts.get(email) or self._store.engine.contact(email)

    def open_deals(self, email: str) -> tuple[Deal, ...]:
        deals = (*self._store.engine.deals_of(email), *(d for d in self._store._new_deals if email in d.contacts))
        return tuple(d for d in deals if d.is_open)

    def is_logged(self, identity: str) -> bool:
        return identity in self._store._new_logged or self._store.engine.is_logged(identity)


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
        self.sources = SourceStates(engine.source_states())  # ONCE-2: what the next run needs
        self._view = _View(self)
        self._reset()

    def _reset(self) -> None:
        self._added: list[Record] = []
        self._replaced: list[Record] = []
        self._removed: list[tuple[str, int]] = []
        self._meta: dict[str, Any] = {}
        self._new_contacts: dict[str, Contact] = {}
        self._new_companies: set[str] = set()
        self._new_logged: set[str] = set()
        self._new_rejections: dict[str, Rejection] = {}
        self._new_deals: list[Deal] = []

    @classmethod
    def reader(cls, path: Path) -> Store:
        """For views: the database must exist (NoDatabase, 66, otherwise)."""
        return cls(JsonEngine(path, write=False, create=False))

    @classmethod
    def writer(
        cls, path: Path, *, lock_timeout: float = LOCK_TIMEOUT, dry_run: bool = False, create: bool = True
    ) -> Store:
        """For ingest and edits, under the lock; `create=False` for an edit of records that
        can only exist in an existing database."""
        return cls(JsonEngine(path, write=True, lock_timeout=lock_timeout, dry_run=dry_run, create=create))

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.engine.close()

    def view(self) -> _View:
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
        """Write the batch: the blobs first (durable), then the records that point to them.
        Returns the ids the batch's new records got, in the order they were added."""
        meta = {**self._meta, **self.blobs.flush()}
        changes = Changes(
            added=tuple(self._added),
            replaced=tuple(self._replaced),
            removed=tuple(self._removed),
            sources=tuple(self.sources.changed()),
            meta=meta,
        )
        ids = self.engine.write(changes)
        if any(isinstance(r, (User, TeamInbox)) for r in changes.added):
            self.users, self.team_inboxes = tuple(self.engine.read(User)), tuple(self.engine.read(TeamInbox))
        self._reset()
        return ids

    def _add(self, record: Record) -> None:
        self._added.append(record)

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
            created = self._log(project.logged(item, message, decision, now))
        elif isinstance(decision, Rejected):
            self._reject(project.rejection(item, message, decision, now))
        else:
            assert isinstance(decision, (Skipped, Duplicate))
        self.sources.mark(item)
        return created

    def _log(self, logged: project.Logged) -> int:
        created = self._create_contacts(logged.contacts, logged.companies)
        email = logged.email
        self._unreject(email.identity)  # a message rejected before is logged now
        for a in logged.contents:
            self.blobs.add_attachment(a.sha256, a.data)
        self._add(replace(email, body=self.blobs.add_body(logged.body)))
        self._new_logged.add(email.identity)
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
            self._new_contacts[contact.email] = contact
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

    # ------------------------------------------------------------ notices by mail

    def unmailed_notices(self) -> list[Notice]:
        """Notices not yet mailed to their user (notify.py), oldest first."""
        return [n for n in self.read(Notice) if not n.mailed]

    def mark_mailed(self, notice: Notice, when: datetime) -> None:
        self._replaced.append(replace(notice, mailed=iso(when)))

    @property
    def summary_sent(self) -> datetime | None:
        """When the last daily summary of rejections went out."""
        sent = self.engine.meta().get("summary_sent")
        return datetime.fromisoformat(sent) if sent else None

    def set_summary_sent(self, when: datetime) -> None:
        self._meta["summary_sent"] = iso(when)

    # ------------------------------------------------------------ team and CRM edits

    # Edits join the batch too; commit() returns the ids they get.

    def add_user(
        self,
        *,
        email: str,
        name: str,
        inboxes: Iterable[str],
        aliases: Iterable[str],
        logins: Iterable[str],
        seat: str,
        permission: bool,
        now: datetime,
    ) -> None:
        if any(u.email == email for u in self.users):
            raise UsageError(f"a user with e-mail {email} exists already")
        at = iso(now) or ""
        user = User(
            email=email,
            name=name,
            inboxes=tuple((a, at) for a in inboxes),
            aliases=tuple(aliases),
            logins=tuple(logins),
            seat=Seat(seat),
            personal_inbox_access=permission,
            created=at,
        )
        self._add(user)
        self.users = (*self.users, user)

    def add_team_inbox(self, *, address: str, connected_by: str, now: datetime) -> None:
        if not any(u.email == connected_by for u in self.users):
            raise NotFound(f"no user with e-mail {connected_by}")
        if any(t.address == address for t in self.team_inboxes):
            raise UsageError(f"the team inbox {address} exists already")
        inbox = TeamInbox(address=address, connected_by=connected_by, connected_at=iso(now))
        self._add(inbox)
        self.team_inboxes = (*self.team_inboxes, inbox)

    def add_deal(self, *, name: str, contacts: Iterable[str], stage: str, created: datetime) -> None:
        deal = Deal(name=name, stage=stage, created=iso(created) or "", contacts=tuple(contacts))
        self._add(deal)
        self._new_deals.append(deal)

    def close_deal(self, deal_id: int, stage: str) -> None:
        deal = self.get(Deal, deal_id)
        if deal is None:
            raise NotFound(f"no deal with id {deal_id}")
        self._replaced.append(replace(deal, stage=stage))
