"""Team and CRM edits (LIFE-1, LIFE-2): adding and correcting users, team inboxes, contacts,
companies and deals. Each queues its records in the store's batch; the caller commits. A
change applies to messages decided from then on (and to old ones under `ingest --reprocess`).
The records named on the command line are found by the caller (show/find.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from ..errors import InUse, NotFound, UsageError
from ..model import iso
from ..records import Company, Contact, Deal, Email, Run, Seat, TeamInbox, User
from .db import Store

KEEP = object()  # an option not given: the field stays as it is


def add_user(
    store: Store,
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
    if any(u.email == email for u in store.users):
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
    store.add(user)
    store.users = (*store.users, user)


def edit_user(
    store: Store,
    found: User,
    *,
    name: str | None = None,
    seat: str | None = None,
    permission: bool | None = None,
    add_inboxes: Iterable[str] = (),
    remove_inboxes: Iterable[str] = (),
    add_aliases: Iterable[str] = (),
    remove_aliases: Iterable[str] = (),
    add_logins: Iterable[str] = (),
    remove_logins: Iterable[str] = (),
    now: datetime,
) -> User:
    """LIFE-1: a new inbox is connected now (ATTR-4 counts from then); a value to remove that
    the user does not have is a usage error, so that a typo does not pass for a change."""
    at = iso(now) or ""
    inboxes = dict(found.inboxes)
    _check_removal("inbox", remove_inboxes, inboxes)
    for a in remove_inboxes:
        inboxes.pop(a)
    for a in add_inboxes:
        inboxes.setdefault(a, at)
    _check_removal("alias", remove_aliases, found.aliases)
    _check_removal("login", remove_logins, found.logins)
    edited = replace(
        found,
        name=found.name if name is None else name,
        seat=found.seat if seat is None else Seat(seat),
        personal_inbox_access=found.personal_inbox_access if permission is None else permission,
        inboxes=tuple(inboxes.items()),
        aliases=_edited(found.aliases, add_aliases, remove_aliases),
        logins=_edited(found.logins, add_logins, remove_logins),
    )
    _replace_user(store, edited)
    return edited


def set_active(store: Store, found: User, active: bool) -> User:
    """LIFE-2: a deactivated user keeps their history; their new mail is rejected."""
    edited = replace(found, active=active)
    _replace_user(store, edited)
    return edited


def remove_user(store: Store, found: User) -> None:
    """LIFE-2: only while nothing is attributed to the user, and no team inbox is theirs."""
    attributed = store.tally(Email, "user")[found.email]
    if attributed:
        raise InUse(
            f"{found.email} has {attributed:,} logged e-mail(s) attributed; deactivate the user instead "
            "(`crmlog users deactivate`), which keeps their history"
        )
    kept = [  # an undo would put back an e-mail credited to them
        r.id
        for r in store.read(Run)
        if not r.undone
        and any(t == Email.TABLE and d.get("user") == found.email for t, _, d in r.undo.get("changed", ()))
    ]
    if kept:
        raise InUse(
            f"{found.email} is credited with e-mail(s) that undoing run {max(kept)} would put back; "
            "deactivate the user instead (`crmlog users deactivate`)"
        )
    inboxes = [t.address for t in store.team_inboxes if t.connected_by == found.email]
    if inboxes:
        raise InUse(f"{found.email} connected the team inbox(es) {', '.join(inboxes)}; nothing was removed")
    store.remove(found)
    store.users = tuple(u for u in store.users if u.id != found.id)


def _replace_user(store: Store, edited: User) -> None:
    store.replace(edited)
    store.users = tuple(edited if u.id == edited.id else u for u in store.users)


def _check_removal(what: str, removed: Iterable[str], present: Iterable[str]) -> None:
    missing = [x for x in removed if x not in set(present)]
    if missing:
        raise UsageError(f"the user has no {what} {', '.join(missing)}")


def _edited(values: tuple[str, ...], add: Iterable[str], remove: Iterable[str]) -> tuple[str, ...]:
    gone = set(remove)
    return tuple(dict.fromkeys([*(v for v in values if v not in gone), *add]))


def add_team_inbox(store: Store, *, address: str, connected_by: str, now: datetime) -> None:
    if not any(u.email == connected_by for u in store.users):
        raise NotFound(f"no user with e-mail {connected_by}")
    if any(t.address == address for t in store.team_inboxes):
        raise UsageError(f"the team inbox {address} exists already")
    inbox = TeamInbox(address=address, connected_by=connected_by, connected_at=iso(now))
    store.add(inbox)
    store.team_inboxes = (*store.team_inboxes, inbox)


def edit_contact(store: Store, found: Contact, *, name: str | None, company: object = KEEP, now: datetime) -> Contact:
    """LIFE-1: a contact's name, or its company (a domain, created if missing; None: none).
    The e-mails logged before keep the company they were logged with."""
    if company is not KEEP and company is not None:
        assert isinstance(company, str)
        if not store.engine.has_company(company):
            store.add(Company(domain=company, name=company, created=iso(now)))
    edited = replace(
        found,
        name=found.name if name is None else name,
        company=found.company if company is KEEP else company,  # type: ignore[arg-type]
    )
    store.replace(edited)
    return edited


def edit_company(store: Store, found: Company, *, name: str | None) -> Company:
    edited = replace(found, name=found.name if name is None else name)
    store.replace(edited)
    return edited


def add_deal(store: Store, *, name: str, contacts: Iterable[str], stage: str, created: datetime) -> None:
    """A contact named as in `edit_deal`: a merged address as its contact's own, never an erased one."""
    contacts = list(contacts)
    _refuse_erased(store, contacts)
    named = tuple(dict.fromkeys(_contacts(store, contacts)))
    store.add(Deal(name=name, stage=stage, created=iso(created) or "", contacts=named))


def _refuse_erased(store: Store, addresses: Iterable[str]) -> None:
    view = store.view()
    erased = [c for c in addresses if view.is_forgotten(c)]
    if erased:
        raise UsageError(
            f"{', '.join(erased)} was erased from the CRM (`contacts forget`) and cannot be a deal's contact"
        )


def edit_deal(
    store: Store,
    found: Deal,
    *,
    name: str | None = None,
    stage: str | None = None,
    add_contacts: Iterable[str] = (),
    remove_contacts: Iterable[str] = (),
) -> Deal:
    """LIFE-1: a deal's name, stage (`deals close`, `deals reopen`) and contacts. A contact is
    named by its address or by one merged into it (LIFE-4: the deal gets the contact's own);
    an erased address (LIFE-3) cannot be one."""
    add_contacts = list(add_contacts)
    _refuse_erased(store, add_contacts)
    add_contacts, remove_contacts = _contacts(store, add_contacts), _contacts(store, remove_contacts)
    missing = [c for c in remove_contacts if c not in found.contacts]
    if missing:
        raise UsageError(f"deal {found.id} has no contact {', '.join(missing)}")
    edited = replace(
        found,
        name=found.name if name is None else name,
        stage=found.stage if stage is None else stage,
        contacts=_edited(found.contacts, add_contacts, remove_contacts),
    )
    store.replace(edited)
    return edited


def _contacts(store: Store, addresses: Iterable[str]) -> list[str]:
    """Each address as the contact it names has it: a merged address as its contact's own."""
    view = store.view()
    return [known.email if (known := view.contact(a)) is not None else a for a in addresses]
