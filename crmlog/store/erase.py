"""Taking things out of the CRM: forgetting a contact (LIFE-3), merging one into another
(LIFE-4) and deleting a logged e-mail (LIFE-5). Each queues one batch in the store; the
caller commits it, and the files it leaves unused (a rewritten body pack, an attachment
nothing points to) are removed after that write.

A body pack is written once and never changed: a body is taken out of one by writing the
bodies that stay into a new pack, pointing their e-mails to it in the same batch, and
removing the old pack after the write.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from .. import jsonio
from ..errors import InUse, UsageError
from ..model import iso
from ..records import Contact, Deal, Deleted, Email, EmailBody, Forgotten, ForwardInfo, Notice, Rejection, Run
from .db import Store
from .journal import scrub

ERASED = "[erased]"


@dataclass(frozen=True, slots=True)
class Removed:
    """What a command took out, for its output (LIFE-8)."""

    emails: int = 0
    emails_changed: int = 0
    rejections: int = 0
    notices: int = 0
    deals: int = 0
    runs: int = 0
    files: int = 0


# ---------------------------------------------------------------- LIFE-3


def forget(store: Store, contact: Contact, now: datetime) -> Removed:
    """Erase a contact: the contact, every e-mail logged on it alone (record, body,
    attachments), its addresses in the e-mails it shared, every rejection and notice that
    names it, the rows of run listings and the undo journals' documents that name it. What
    stays is a keyed hash of each address, so that no later run logs to it again."""
    addresses = (contact.email, *contact.aliases)
    team = _team_addresses(store)
    own = [a for a in addresses if a in team]
    if own:
        raise InUse(f"{own[0]} is an address of the sales team, not only a contact's; nothing was forgotten")
    if not (store.engine.meta().get("secret")):
        store.set_meta("secret", secrets.token_hex(32))
    for address in addresses:
        if not store.engine.is_forgotten(store.keyed_hash(address)):
            store.add(Forgotten(hash=store.keyed_hash(address), at=iso(now)))
    names = _namer(addresses)
    gone: set[int] = set()
    changed: dict[int, Email] = {}
    bodies: dict[int, EmailBody] = {}
    for email in store.read(Email):
        if email.contacts and set(email.contacts) <= set(addresses):
            gone.add(email.id)
            continue
        body = store.body(email)
        if names(email.to_doc()) or names(body.to_doc()):
            changed[email.id] = _scrubbed_email(email, addresses)
            bodies[email.id] = _scrubbed_body(body, addresses)
    files = _rewrite(store, gone, changed, bodies)
    rejections = [r for r in store.read(Rejection) if names(r.to_doc())]
    notices = [n for n in store.read(Notice) if names(n.to_doc())]
    for rejection in rejections:
        store.remove(rejection)
    for notice in notices:
        store.remove(notice)
    deals = [d for d in store.read(Deal) if set(d.contacts) & set(addresses)]
    for d in deals:
        store.replace(replace(d, contacts=tuple(c for c in d.contacts if c not in addresses)))
    runs = 0
    for run in store.read(Run):
        doc = run.to_doc()
        if names(doc):
            kept = tuple(m for m in run.messages if not names(m.to_doc()))
            store.replace(replace(run, messages=kept, undo=scrub(run.undo, names)))
            runs += 1
    store.remove(contact)
    return Removed(
        emails=len(gone),
        emails_changed=len(changed),
        rejections=len(rejections),
        notices=len(notices),
        deals=len(deals),
        runs=runs,
        files=files,
    )


def _team_addresses(store: Store) -> set[str]:
    out = {t.address for t in store.team_inboxes}
    for u in store.users:
        out |= {u.email, *(a for a, _ in u.inboxes), *u.aliases}
    return out


def _namer(addresses: Iterable[str]) -> Callable[[Any], bool]:
    """Whether a stored document names one of the addresses, anywhere, in any case."""
    wanted = [a.lower() for a in addresses]

    def names(doc: Any) -> bool:
        text = jsonio.dumps(doc).decode("utf-8", "replace").lower()
        return any(a in text for a in wanted)

    return names


def _scrub_text(text: str, addresses: Iterable[str]) -> str:
    for a in addresses:
        text = re.sub(re.escape(a), ERASED, text, flags=re.IGNORECASE)
    return text


def _scrubbed_email(email: Email, addresses: tuple[str, ...]) -> Email:
    forward = email.forward
    if forward is not None:
        forward = ForwardInfo(
            note=_scrub_text(forward.note, addresses),
            client=forward.client,
            forwarded_by=forward.forwarded_by,
            forwarded_at=forward.forwarded_at,
            subject=_scrub_text(forward.subject, addresses),
        )
    return replace(
        email,
        contacts=tuple(c for c in email.contacts if c not in addresses),
        subject=_scrub_text(email.subject, addresses),
        sender="" if email.sender in addresses else email.sender,
        forward=forward,
        attachments=tuple(replace(a, filename=_scrub_text(a.filename, addresses)) for a in email.attachments),
    )


def _scrubbed_body(body: EmailBody, addresses: tuple[str, ...]) -> EmailBody:
    return replace(
        body,
        text=_scrub_text(body.text, addresses),
        html=_scrub_text(body.html, addresses),
        from_name=_scrub_text(body.from_name, addresses),
        to=tuple(x for x in body.to if x not in addresses),
        cc=tuple(x for x in body.cc if x not in addresses),
    )


def _rewrite(store: Store, gone: set[int], changed: dict[int, Email], bodies: dict[int, EmailBody]) -> int:
    """Queue the removal of the e-mails `gone` and the replacement of those `changed` (with
    their `bodies`): every body pack holding one of their bodies is written again without it
    (the other bodies moved to a new pack); attachments nothing points to any more go too.
    Returns the number of files to be removed."""
    everything = list(store.read(Email))
    touched = {e.id for e in everything if e.id in gone or e.id in changed}
    packs = {store.blobs.pack_of(e.body) for e in everything if e.id in touched and e.body is not None}
    for email in everything:
        if email.id in gone:
            store.remove(email)
            continue
        new = changed.get(email.id, email)
        if email.inline is not None and email.id in bodies:
            new = replace(new, inline=bodies[email.id])
        elif email.body is not None and store.blobs.pack_of(email.body) in packs:
            new = replace(new, body=store.blobs.add_body(bodies.get(email.id) or store.blobs.body(email.body)))
        if new is not email:
            store.replace(new)
    kept = {a.sha256 for e in everything if e.id not in gone for a in e.attachments if a.stored}
    unused = {
        f"attachments/{a.sha256}" for e in everything if e.id in gone for a in e.attachments if a.sha256 not in kept
    }
    store.discard_files(sorted(packs | unused))
    return len(packs) + len(unused)


# ---------------------------------------------------------------- LIFE-4


def merge(store: Store, source: Contact, into: Contact) -> Removed:
    """Contact `source` into `into`: its e-mails and deals move, its address (and its own
    aliases) become `into`'s aliases, its name and company fill in what `into` lacks."""
    if source.id == into.id:
        raise UsageError(f"{source.email} and {into.email} are the same contact: nothing to merge")
    emails = list(store.read(Email, where={"contacts": source.email}))
    for email in emails:
        store.replace(replace(email, contacts=_renamed(email.contacts, source.email, into.email)))
    deals = list(store.read(Deal, where={"contacts": source.email}))
    for deal in deals:
        store.replace(replace(deal, contacts=_renamed(deal.contacts, source.email, into.email)))
    aliases = tuple(dict.fromkeys((*into.aliases, source.email, *source.aliases)))
    store.replace(replace(into, aliases=aliases, name=into.name or source.name, company=into.company or source.company))
    store.remove(source)
    return Removed(emails_changed=len(emails), deals=len(deals))


def _renamed(values: tuple[str, ...], old: str, new: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(new if v == old else v for v in values))


# ---------------------------------------------------------------- LIFE-5


def delete_email(store: Store, email: Email, now: datetime) -> Removed:
    """Remove a logged e-mail for good: its record, its body (its pack written again without
    it), its attachments that no other e-mail has; its identity stays decided."""
    store.add(Deleted(identity=email.identity, at=iso(now)))
    files = _rewrite(store, {email.id}, {}, {})
    return Removed(emails=1, files=files)
