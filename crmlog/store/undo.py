"""Undoing the newest ingest run (LIFE-6), and reading what a run did.

Undo is one batch like any other, so it is as crash-safe as a run (ONCE-3): the records the
run added are removed, those it replaced or removed are put back as they were, its mailbox
states are moved back, and its files are removed after the write that leaves no record
pointing to them (named in that write first, for a crash in between)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from ..errors import InUse
from ..model import iso
from ..records import Doc, Email, Run, RunMessage
from . import journal
from .db import Store


@dataclass(frozen=True, slots=True)
class Undone:
    """What an undo took back, for its output (LIFE-8)."""

    removed: int  # records the run had added
    restored: int  # records it had changed or removed, put back as they were
    sources: int  # mailbox folders moved back
    files: int  # body packs and attachment files removed


def undo(store: Store, run: Run, now: datetime) -> Undone:
    """LIFE-6: the CRM as if `run` had never happened, in one batch (the caller commits), and
    its messages undecided again. Only the newest run not undone yet can be undone."""
    if run.undone:
        raise InUse(f"run {run.id} was undone already ({run.undone}); nothing was changed")
    newer = [r.id for r in store.read(Run) if r.id > run.id and not r.undone]
    if newer:
        raise InUse(
            f"run {max(newer)} is newer and not undone: runs are undone newest first "
            f"(`crmlog runs undo {max(newer)}`); nothing was changed"
        )
    j = run.undo or journal.empty()
    removed = 0
    for table in j["added"]:
        for doc_id in journal.added(j, table):
            if store.engine.document(table, doc_id) is not None:
                store.remove_id(table, doc_id)
                removed += 1
    for table, doc_id, doc in j["changed"]:
        store.restore(table, doc_id, doc)
    for source, delta in j["sources"].items():
        before = journal.undone_source(delta, store.engine.source_state(source))
        if before is None:
            store.drop_source(source)
        else:
            store.put_source(before)
    files = [*j["files"], *_left_attachments(store, run, j)]
    store.discard_files(files)
    store.replace(replace(run, undone=iso(now), undo={}))
    return Undone(removed=removed, restored=len(j["changed"]), sources=len(j["sources"]), files=len(files))


def _left_attachments(store: Store, run: Run, j: Doc) -> list[str]:
    """Files of the run's e-mails that are not among the files it wrote, and that nothing
    points to once it is undone: attachment files it found on disk (a run killed before its
    write had left them, and this run logged their messages), and body packs that a later
    `emails delete` or `contacts forget` wrote with the run's bodies in them. Nothing points to
    a file that no e-mail but the run's own names, nor an e-mail document kept to be put back
    (by this undo, or by the undo of an older run)."""
    own = set(journal.added(j, "emails"))
    found: set[str] = set()
    for email in (store.get(Email, i) for i in own):
        if email is None:
            continue
        found |= {f"attachments/{a.sha256}" for a in email.attachments if a.stored}
        if email.body is not None:
            found.add(store.blobs.pack_of(email.body))
    found -= set(j["files"])
    if not found:
        return []
    kept = [e for e in store.read(Email) if e.id not in own]
    kept += [
        Email.from_doc(doc, doc_id)
        for r in store.read(Run)
        if r.id == run.id or not r.undone
        for table, doc_id, doc in (r.undo or {}).get("changed", ())
        if table == Email.TABLE
    ]
    for email in kept:
        found -= {f"attachments/{a.sha256}" for a in email.attachments if a.stored}
        if email.body is not None:
            found.discard(store.blobs.pack_of(email.body))
    return sorted(found)


def messages(store: Store, run: Run) -> list[RunMessage]:
    """A run's listing, each logged message with the id of its e-mail where it still is."""
    rows = [RunMessage.from_doc(doc) for doc in store.blobs.listing(run.id, run.listing, run.listing_name)]
    if run.undone:  # its e-mails are gone; one of the same message may be a later run's
        return [replace(m, email_id=None) for m in rows]
    return [
        replace(m, email_id=store.engine.email_id(m.identity)) if m.outcome == "logged" and m.identity else m
        for m in rows
    ]
