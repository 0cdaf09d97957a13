"""The record a user names on the command line, read from the store: NotFound (exit 1) when
there is none. What to show of it is views.py's job."""

from __future__ import annotations

from ..errors import NotFound
from ..model import normalize_email, normalize_message_id
from ..records import Company, Contact, Deal, Email, Run, User
from ..store import Store


def contact(store: Store, email: str) -> Contact:
    """By its address, or by an address merged into it (LIFE-4)."""
    wanted, email = email, normalize_email(email)
    found = next(store.read(Contact, where={"email": email}), None) if email else None
    if found is None and email:
        found = next(store.read(Contact, where={"aliases": email}), None)
    if found is None:
        raise NotFound(f"no contact with e-mail {wanted}")
    return found


def company(store: Store, domain: str) -> Company:
    domain = domain.strip().lower()
    found = next(store.read(Company, where={"domain": domain}), None)
    if found is None:
        raise NotFound(f"no company with domain {domain}")
    return found


def email(store: Store, id_or_message_id: str) -> Email:
    """An e-mail by its id, by its Message-ID with or without angle brackets, or (for a
    message without one) by its `sha256:` identity."""
    wanted = id_or_message_id.strip()
    if wanted.isdigit():
        found = store.get(Email, int(wanted))
        if found is not None:
            return found
    mid = normalize_message_id(wanted)
    if mid:
        found = next(store.read(Email, where={"identity": mid}), None)  # the Message-ID, else sha256:
        if found is not None:
            return found
    raise NotFound(f"no logged e-mail with id or Message-ID {wanted}")


def user(store: Store, email: str) -> User:
    wanted, email = email, normalize_email(email)
    found = next((u for u in store.users if u.email == email), None) if email else None
    if found is None:
        raise NotFound(f"no user with e-mail {wanted}")
    return found


def deal(store: Store, deal_id: int) -> Deal:
    found = store.get(Deal, deal_id)
    if found is None:
        raise NotFound(f"no deal with id {deal_id}")
    return found


def run(store: Store, run_id: int) -> Run:
    found = store.get(Run, run_id)
    if found is None:
        raise NotFound(f"no run with id {run_id} (`crmlog runs list` shows the runs)")
    return found
