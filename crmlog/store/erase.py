"""Taking things out of the CRM: forgetting a contact (LIFE-3), merging one into another
(LIFE-4) and deleting a logged e-mail (LIFE-5). Each queues one batch in the store; the
caller commits it, and the files it leaves unused (a rewritten body pack, an attachment
nothing points to) are removed after that write.

A body pack is written once and never changed: a body is taken out of one by writing the
bodies that stay into a new pack, pointing their e-mails to it in the same batch, and
removing the old pack after the write. The bodies that stay include those of the e-mail
documents kept in the runs' undo journals (LIFE-6), which `runs undo` puts back: their
documents point to the new pack too, and a removal takes its documents out of the journals,
so that no undo brings back what was forgotten, deleted or merged away.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ..errors import DataError, InUse, UsageError
from ..model import iso
from ..records import (
    BodyRef,
    Contact,
    Deal,
    Deleted,
    Doc,
    Email,
    EmailBody,
    Forgotten,
    Notice,
    Rejection,
    Run,
    RunMessage,
)
from . import journal
from .db import Store
from .scrub import names_any, scrubbed_body, scrubbed_email


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


def forget(store: Store, contact: Contact, now: datetime, *, team: frozenset[str]) -> Removed:
    """Erase a contact: the contact, every e-mail logged on it alone (record, body,
    attachments), its addresses in the e-mails it shared, every rejection and notice that
    names it, the rows of run listings and the undo journals' documents that name it. What
    stays is a keyed hash of each address, so that no later run logs to it again. `team`: the
    sales team's own addresses (rules.attribution.team_addresses), which are never forgotten."""
    addresses = (contact.email, *contact.aliases)
    own = [a for a in addresses if a in team]
    if own:
        raise InUse(f"{own[0]} is an address of the sales team, not only a contact's; nothing was forgotten")
    if not (store.engine.meta().get("secret")):
        store.set_meta("secret", secrets.token_hex(32))
    for address in addresses:
        if not store.engine.is_forgotten(store.keyed_hash(address)):
            store.add(Forgotten(hash=store.keyed_hash(address), at=iso(now)))
    names = names_any(addresses)
    gone: set[int] = set()
    changed: dict[int, Email] = {}
    bodies: dict[int, EmailBody] = {}
    kept: list[Email] = []
    everything = list(store.read(Email))
    for email in everything:
        if email.contacts and set(email.contacts) <= set(addresses):
            gone.add(email.id)
        else:
            kept.append(email)
    packed = {e.body: e for e in kept if e.body is not None and e.inline is None}
    parts = [a.split("@", 1) for a in addresses]  # a body that may name one: its local part and domain
    maybe = {packed[ref].id for ref in store.blobs.bodies_naming(packed, parts)}  # one read per pack
    for email in kept:
        body = store.body(email) if email.id in maybe or email.inline is not None else None
        if names(email.to_doc()) or (body is not None and names(body.to_doc())):
            changed[email.id] = scrubbed_email(email, addresses)
            bodies[email.id] = scrubbed_body(body or store.body(email), addresses)
    files, runs = _rewrite(
        store,
        gone,
        changed,
        bodies,
        Journals(
            dropped=lambda table, doc: _erased_with(table, doc, addresses, names),
            body=lambda body: scrubbed_body(body, addresses) if names(body.to_doc()) else None,
            row=lambda row: names(row.to_doc()),
            doc=lambda table, id, doc: _scrubbed_doc(table, id, doc, addresses, names),
        ),
        everything,
    )
    rejections = [r for r in store.read(Rejection) if names(r.to_doc())]
    notices = [n for n in store.read(Notice) if names(n.to_doc())]
    for rejection in rejections:
        store.remove(rejection)
    for notice in notices:
        store.remove(notice)
    deals = [d for d in store.read(Deal) if set(d.contacts) & set(addresses)]
    for d in deals:
        store.replace(replace(d, contacts=tuple(c for c in d.contacts if c not in addresses)))
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


def _erased_with(table: str, doc: Doc, addresses: tuple[str, ...], names: Callable[[Any], bool]) -> bool:
    """A journal's document that goes with the contact: an e-mail logged on it alone, the
    contact itself, a rejection or notice that names it (as `forget` removes the live ones)."""
    if table == Email.TABLE:
        contacts = doc.get("contacts") or ()
        return bool(contacts) and set(contacts) <= set(addresses)
    return table in (Contact.TABLE, Rejection.TABLE, Notice.TABLE) and names(doc)


def _scrubbed_doc(table: str, id: int, doc: Doc, addresses: tuple[str, ...], names: Callable[[Any], bool]) -> Doc:
    """A journal's document that stays, as `forget` leaves the live ones: an e-mail it shared,
    a deal it was on, without the address."""
    if not names(doc):
        return doc
    if table == Email.TABLE:
        return scrubbed_email(Email.from_doc(doc, id), addresses).to_doc()
    if table == Deal.TABLE:
        return {**doc, "contacts": [c for c in doc.get("contacts", ()) if c not in addresses]}
    return doc


@dataclass(frozen=True, slots=True)
class Journals:
    """What a removal does to the runs' undo journals (LIFE-6) and listings: the documents
    it takes out (by table and document), the kept e-mail bodies it changes (a body as it is
    to be, None: as it is; no function: the bodies stay as they are, unread), and the listing
    rows it takes out."""

    dropped: Callable[[str, Doc], bool]
    body: Callable[[EmailBody], EmailBody | None] | None = None
    row: Callable[[RunMessage], bool] | None = None  # None: the listings stay, unread
    doc: Callable[[str, int, Doc], Doc] | None = None  # a kept document as it is to be


@dataclass(slots=True)
class _Journal:
    """A run's journal and listing as a removal leaves them: its documents (each with, for an
    e-mail's whose body changes, that body) and its rows."""

    run: Run
    entries: list[tuple[list[Any], EmailBody | None]]
    rows: tuple[RunMessage, ...]
    listed: tuple[RunMessage, ...]  # the rows before


def _rewrite(
    store: Store,
    gone: set[int],
    changed: dict[int, Email],
    bodies: dict[int, EmailBody],
    journals: Journals,
    everything: list[Email] | None = None,
) -> tuple[int, int]:
    """Queue the removal of the e-mails `gone` and the replacement of those `changed` (with
    their `bodies`), and what `journals` says of the runs' undo journals: every body pack
    holding one of their bodies, or the body of a journal's document taken out or changed, is
    written again without it (the other bodies, the journals' included, moved to a new pack);
    attachments nothing points to any more go too. Returns the number of files to be removed
    and of runs changed."""
    everything = list(store.read(Email)) if everything is None else everything
    touched = {e.id for e in everything if e.id in gone or e.id in changed}
    packs = {store.blobs.pack_of(e.body) for e in everything if e.id in touched and e.body is not None}
    runs = _journals(store, journals, packs)
    moved = [
        e.body
        for e in everything
        if e.body is not None and e.id not in gone and e.id not in bodies and store.blobs.pack_of(e.body) in packs
    ]
    copied = store.blobs.copy_bodies(moved)  # as stored, into the batch's new pack: one read per pack
    for email in everything:
        if email.id in gone:
            store.remove(email)
            continue
        new = changed.get(email.id, email)
        if email.inline is not None and email.id in bodies:
            new = replace(new, inline=bodies[email.id])
        elif email.body is not None and store.blobs.pack_of(email.body) in packs:
            body = bodies.get(email.id)
            new = replace(new, body=store.blobs.add_body(body) if body is not None else copied[email.body])
        if new is not email:
            store.replace(new)
    changed_runs = 0
    for j in runs:
        undo = j.run.undo
        if "changed" in undo:
            undo = {**undo, "changed": [_carried(store, entry, body, packs) for entry, body in j.entries]}
        rows_changed = len(j.rows) != len(j.listed)
        if undo != j.run.undo or rows_changed:
            if rows_changed:
                store.rewrite_listing(j.run.id, [m.to_doc() for m in j.rows])
            store.replace(replace(j.run, undo=undo))
            changed_runs += 1
    kept = {a.sha256 for e in everything if e.id not in gone for a in e.attachments if a.stored}
    kept |= {  # an e-mail document an undo puts back keeps its attachments too
        a["sha256"]
        for j in runs
        for (table, _, doc), _ in j.entries
        if table == Email.TABLE
        for a in doc.get("attachments") or ()
        if a.get("stored")
    }
    unused = {
        f"attachments/{a.sha256}" for e in everything if e.id in gone for a in e.attachments if a.sha256 not in kept
    }
    store.discard_files(sorted(packs | unused))
    return len(packs) + len(unused), changed_runs


def _journals(store: Store, journals: Journals, packs: set[str]) -> list[_Journal]:
    """Each run's journal and listing as `journals` leaves them; `packs` gets the packs that
    hold a body taken out or changed."""
    out = []
    for run in store.read(Run):
        entries: list[tuple[list[Any], EmailBody | None]] = []
        for entry in run.undo.get("changed", ()):
            table, _, doc = entry
            ref = _body_ref(table, doc)
            if journals.dropped(table, doc):
                if ref is not None:
                    packs.add(store.blobs.pack_of(ref))
                continue
            body = _journal_body(store, ref) if journals.body is not None else None
            new = journals.body(body) if journals.body is not None and body is not None else None
            if new is not None and ref is not None:
                packs.add(store.blobs.pack_of(ref))
            kept = [table, entry[1], journals.doc(table, entry[1], doc) if journals.doc else doc]
            entries.append((kept, new))
        row = journals.row
        listed = (
            ()
            if row is None
            else tuple(RunMessage.from_doc(d) for d in store.blobs.listing(run.id, run.listing, run.listing_name))
        )
        out.append(_Journal(run, entries, tuple(m for m in listed if row is not None and not row(m)), listed))
    return out


def _body_ref(table: str, doc: Doc) -> BodyRef | None:
    """Where a journal's e-mail document keeps its body (None: inline, or not an e-mail's)."""
    ref = doc.get("body") if table == Email.TABLE else None
    return (int(ref[0]), int(ref[1]), int(ref[2])) if isinstance(ref, list) and len(ref) == 3 else None


def _journal_body(store: Store, ref: BodyRef | None) -> EmailBody | None:
    """The body a journal's e-mail document points to; None where it has none, or where its
    pack is gone already (an undo could not show it either: it is left as it is)."""
    if ref is None:
        return None
    try:
        return store.blobs.body(ref)
    except DataError:
        return None


def _carried(store: Store, entry: list[Any], body: EmailBody | None, packs: set[str]) -> list[Any]:
    """A journal's document, pointing to its body's new place (`body`, or the body as it is)
    where its pack is written again."""
    table, id, doc = entry
    ref = _body_ref(table, doc)
    if ref is None or store.blobs.pack_of(ref) not in packs:
        return entry
    body = body or _journal_body(store, ref)
    if body is None:
        return entry
    return [table, id, {**doc, "body": list(store.blobs.add_body(body))}]


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
    before = [
        (Contact.TABLE, source.id, source.to_doc()),
        *((Email.TABLE, e.id, e.to_doc()) for e in emails),
        *((Deal.TABLE, d.id, d.to_doc()) for d in deals),
    ]
    for run in store.read(Run):  # an undo puts back records as they were: on `into` too
        if run.undone:
            continue
        entries = run.undo.get("changed", [])
        undo = {**run.undo, "changed": [[t, i, _moved(t, d, source.email, into.email)] for t, i, d in entries]}
        if into.id in journal.added({"added": run.undo.get("added", {})}, Contact.TABLE):
            # the run that made `into`: its undo removes it, and must put `source` back as it was
            journal.note_before(undo, before)
        if undo != run.undo:
            store.replace(replace(run, undo=undo))
    return Removed(emails_changed=len(emails), deals=len(deals))


def _moved(table: str, doc: Doc, old: str, new: str) -> Doc:
    """An e-mail's or deal's document of a journal with its contacts moved from `old` to `new`."""
    if table not in (Email.TABLE, Deal.TABLE) or old not in doc.get("contacts", ()):
        return doc
    return {**doc, "contacts": list(_renamed(tuple(doc["contacts"]), old, new))}


def _renamed(values: tuple[str, ...], old: str, new: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(new if v == old else v for v in values))


# ---------------------------------------------------------------- LIFE-5


def delete_email(store: Store, email: Email, now: datetime) -> Removed:
    """Remove a logged e-mail for good: its record, its body (its pack written again without
    it), its attachments that no other e-mail has; its identity stays decided."""
    store.add(Deleted(identity=email.identity, at=iso(now)))
    files, _ = _rewrite(
        store,
        {email.id},
        {},
        {},
        Journals(dropped=lambda table, doc: table == Email.TABLE and _identity(doc) == email.identity),
    )
    return Removed(emails=1, files=files)


def _identity(doc: Doc) -> str:
    return str(doc.get("identity") or doc.get("message_id") or "")
