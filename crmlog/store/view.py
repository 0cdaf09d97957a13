"""The read-only CRM view the rules get from a store (model.CrmView): the engine's lookups,
with the batch not yet written on top."""

from __future__ import annotations

from typing import Protocol

from ..records import Contact, Deal, TeamInbox, User
from .engine import Engine


class Batch(Protocol):
    """What the view reads of a unit of work (db.Store): the engine, the team, and what the
    batch not yet written adds."""

    engine: Engine
    users: tuple[User, ...]
    team_inboxes: tuple[TeamInbox, ...]
    reprocess: bool
    new_contacts: dict[str, Contact]
    new_deals: list[Deal]
    new_logged: set[str]

    def keyed_hash(self, email: str) -> str: ...


class StoreView:
    """The read-only CrmView the rules get: the engine's lookups, with this batch on top."""

    def __init__(self, store: Batch):
        self._store = store

    @property
    def users(self) -> tuple[User, ...]:
        return self._store.users

    @property
    def team_inboxes(self) -> tuple[TeamInbox, ...]:
        return self._store.team_inboxes

    def contact(self, email: str) -> Contact | None:
        return self._store.new_contacts.get(email) or self._store.engine.contact(email)

    def open_deals(self, email: str) -> tuple[Deal, ...]:
        deals = (*self._store.engine.deals_of(email), *(d for d in self._store.new_deals if email in d.contacts))
        return tuple(d for d in deals if d.is_open)

    def is_logged(self, identity: str) -> bool:
        """Under --reprocess, a message logged before is decided again (LIFE-1, LIFE-7); one
        logged and deleted stays decided (LIFE-5)."""
        store = self._store
        if identity in store.new_logged:
            return True
        if store.reprocess:
            return store.engine.is_logged(identity) and store.engine.email_id(identity) is None
        return store.engine.is_logged(identity)

    def is_forgotten(self, email: str) -> bool:
        return self._store.engine.is_forgotten(self._store.keyed_hash(email))

    def deal(self, id: int) -> Deal | None:
        return next((d for d in self._store.new_deals if d.id == id), None) or self._store.engine.get(Deal, id)
