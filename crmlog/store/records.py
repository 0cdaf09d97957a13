"""Stored documents and the values they stand for: what a decided message becomes in the
database (pure: no file, no clock), and the team's records read back as model values."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..model import (
    Accepted,
    Attachment,
    Contact,
    Deal,
    Message,
    OversizedPart,
    RawMessage,
    Rejected,
    Seat,
    User,
    raw_identity,
)

Doc = dict[str, Any]


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def identity(email: Doc) -> str:
    """The identity of a logged e-mail (ONCE-1): its Message-ID, else its stored sha256."""
    return str(email.get("identity") or email["message_id"])


# ---------------------------------------------------------------- a decision, as documents


def rejection(item: RawMessage, message: Message | None, decision: Rejected, now: datetime) -> Doc:
    """The rejection record of a message (REJ-1); `message` is None where nothing could be read."""
    return {
        "identity": message.identity if message else raw_identity(item.data),
        "message_id": message.message_id if message else "",
        "code": str(decision.code),
        "reason": decision.reason,
        "sender": message.sender.email if message and message.sender else "",
        "subject": message.subject[:300] if message else "",
        "date": iso(message.date) if message else None,
        "source": item.source,
        "key": item.key,
        "rules": list(decision.rules),
        "recorded": iso(now),
    }


def attachment(a: Attachment | OversizedPart, *, stored: bool) -> Doc:
    return {
        "filename": a.filename,
        "content_type": a.content_type,
        "size": a.size,
        "sha256": a.sha256,
        "stored": stored,
    }


def logged_email(
    raw: RawMessage, message: Message, d: Accepted, attachments: list[Doc], now: datetime
) -> tuple[Doc, Doc, str, str]:
    """A logged e-mail as (record, detail, text, html). What the listings show stays in the
    record, in the database; what only `emails show` and `attribution explain` need (the
    detail) goes with the text and HTML body into the batch's pack, whose reference the
    store puts under the record's "body". On the forward path (FWD-4) the forwarded message
    is what is logged, and the forwarder's note is kept apart."""
    a = d.attribution
    f = d.forwarded
    sender = f.sender if f else message.sender
    detail: Doc = {
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
        "logged_at": iso(now),
    }
    record: Doc = {
        "message_id": message.message_id,
        "subject": f.subject if f else message.subject,
        "date": f.date if f else iso(message.date),
        "path": str(d.path),
        "user": a.user,
        "rule": a.rule,
        "from": sender.email if sender else "",
        "contacts": list(d.contacts),
        "companies": list(d.companies),
        "deals": list(d.deals),
        "attachments": attachments,
        "body": None,  # the pack reference, once the body is in the batch's pack
    }
    if message.identity != message.message_id:
        record["identity"] = message.identity  # a message without a Message-ID: sha256:...
    if f:
        record["forward"] = {
            "note": f.note,
            "client": f.client,
            "forwarded_by": message.sender.email if message.sender else "",
            "forwarded_at": iso(message.date),
            "subject": message.subject,
        }
    return record, detail, (f.body if f else message.text), ("" if f else message.html)


def delivery_errors(message: Message, d: Accepted, now: datetime) -> list[Doc]:
    """A `delivery-error` notice for the sending user per attachment left out (LIM-2)."""
    return [
        {
            "kind": "delivery-error",
            "user": d.attribution.user,
            "message_id": message.message_id,
            "detail": f"attachment {dropped.filename!r} ({dropped.size:,} bytes) is over the "
            "attachment limit and was not stored; the e-mail was logged without it",
            "date": iso(now),
        }
        for dropped in d.dropped_attachments
    ]


# ---------------------------------------------------------------- the team, read back


def user(d: Doc, doc_id: int) -> User:
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


def contact(d: Doc) -> Contact:
    return Contact(email=d["email"], name=d.get("name", ""), company=d.get("company"), source=d.get("source", ""))


def deal(d: Doc, doc_id: int) -> Deal:
    return Deal(
        id=doc_id,
        name=d["name"],
        stage=d["stage"],
        created=d["created"],
        contacts=tuple(d.get("contacts", [])),
    )
