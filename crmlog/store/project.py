"""What a decided message becomes in the CRM: a pure projection of (message, decision, now)
to the records, body, attachment contents and notices to store. No file, no clock, no engine:
the unit of work (db.py) hands the result to an engine, and only it knows what exists already."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from ..model import (
    Accepted,
    Attachment,
    DealAddress,
    Duplicate,
    Message,
    OversizedPart,
    RawMessage,
    Rejected,
    iso,
    raw_identity,
)
from ..records import Company, Contact, Credit, Email, EmailBody, Notice, Rejection, RunMessage, StoredAttachment
from .runs import Outcome


@dataclass(frozen=True, slots=True, kw_only=True)
class Logged:
    """An accepted message, as records. `email.body` is empty until the blobs keep `body`."""

    contacts: tuple[Contact, ...]  # the new contacts the decision names (created if still missing)
    companies: tuple[Company, ...]  # their companies (created if still missing)
    email: Email
    body: EmailBody
    contents: tuple[Attachment, ...]  # the kept attachments' bytes, stored under their SHA-256
    notices: tuple[Notice, ...]  # LIM-2, BCC-5


def rejection(item: RawMessage, message: Message | None, decision: Rejected, now: datetime) -> Rejection:
    """The rejection record of a message (REJ-1); `message` is None where nothing could be read."""
    return Rejection(
        identity=message.identity if message else raw_identity(item.data),
        message_id=message.message_id if message else "",
        code=str(decision.code),
        reason=decision.reason,
        sender=message.sender.email if message and message.sender else "",
        subject=message.subject[:300] if message else "",
        date=iso(message.date) if message else None,
        source=item.source,
        key=item.key,
        rules=decision.rules,
        recorded=iso(now),
    )


def stored_attachment(a: Attachment | OversizedPart, *, stored: bool) -> StoredAttachment:
    return StoredAttachment(
        filename=a.filename, content_type=a.content_type, size=a.size, sha256=a.sha256, stored=stored
    )


def logged(raw: RawMessage, message: Message, d: Accepted, now: datetime) -> Logged:
    """A logged e-mail: what the listings show goes in its record; what only `emails show` and
    `attribution explain` need goes with the text and HTML into its body. `message` is the
    one that arrived (its identity, ONCE-1); `d.logged` is what is logged of it (FWD-4)."""
    a, m = d.attribution, d.logged
    when = iso(now)
    body = EmailBody(
        text=m.text,
        html=m.html,
        from_name=m.sender.name if m.sender else "",
        to=tuple(x.email or x.name for x in m.to),
        cc=tuple(x.email or x.name for x in m.cc),
        credit=Credit(rule=a.rule, candidates=a.candidates, session_user=a.session_user, ambiguous=a.ambiguous),
        rules=d.rules,
        source=raw.source,
        key=raw.key,
        logged_at=when,
    )
    email = Email(
        identity=message.identity,
        message_id=message.message_id,
        subject=m.subject,
        date=m.date,
        path=str(d.path),
        user=a.user,
        rule=a.rule,
        sender=m.sender.email if m.sender else "",
        contacts=d.contacts,
        companies=d.companies,
        deals=d.deals,
        attachments=(
            *(stored_attachment(x, stored=True) for x in d.kept_attachments),
            *(stored_attachment(x, stored=False) for x in d.dropped_attachments),
        ),
        forward=m.forward,
    )
    contacts = tuple(
        Contact(email=c.email, name=c.name, company=c.company, source=c.source, created=when) for c in d.new_contacts
    )
    companies = tuple(
        Company(domain=domain, name=domain, created=when)
        for domain in dict.fromkeys(c.company for c in d.new_contacts if c.company)
    )
    return Logged(
        contacts=contacts,
        companies=companies,
        email=email,
        body=body,
        contents=d.kept_attachments,
        notices=delivery_errors(message, d, now) + unknown_deals(message, d, now),
    )


def delivery_errors(message: Message, d: Accepted, now: datetime) -> tuple[Notice, ...]:
    """A `delivery-error` notice for the sending user per attachment left out (LIM-2)."""
    return tuple(
        Notice(
            kind="delivery-error",
            user=d.attribution.user,
            message_id=message.message_id,
            detail=f"attachment {dropped.filename!r} ({dropped.size:,} bytes) is over the "
            "attachment limit and was not stored; the e-mail was logged without it",
            date=iso(now),
        )
        for dropped in d.dropped_attachments
    )


def listed(item: RawMessage, message: Message | None, decision: Accepted | Rejected | Duplicate) -> RunMessage:
    """One row of a run's listing (`ingest --list`, `runs show`; LIFE-6, LIFE-7)."""
    row = RunMessage(
        identity=message.identity if message else raw_identity(item.data),
        source=item.source,
        key=item.key,
        message_id=message.message_id if message else "",
        sender=message.sender.email if message and message.sender else "",
        subject=message.subject[:300] if message else "",
        outcome="duplicate",
    )
    if isinstance(decision, Accepted):
        return replace(
            row,
            outcome="logged",
            user=decision.attribution.user,
            contacts=decision.contacts,
            deals=decision.deals,
            reason=f"credited by {decision.attribution.rule}",
        )
    if isinstance(decision, Rejected):
        return replace(row, outcome="rejected", code=str(decision.code), reason=decision.reason)
    return replace(row, reason="decided already: logged before (ONCE-1), or logged and deleted (LIFE-5)")


def unknown_deals(message: Message, d: Accepted, now: datetime) -> tuple[Notice, ...]:
    """An `unknown-deal` notice for the sending user per `+deal-` sub-address of a logging
    address that names no deal (BCC-5): the e-mail was logged all the same."""
    instead = (
        "with the other deals its address names" if d.deals_named else "as usual: with the contact's newest open deals"
    )
    return tuple(
        Notice(
            kind="unknown-deal",
            user=d.attribution.user,
            message_id=message.message_id,
            detail=f"the e-mail was sent to {_written(sub)} but {_no_deal(sub)}; it was associated {instead}",
            date=iso(now),
        )
        for sub in d.unknown_deals
    )


def _written(sub: DealAddress) -> str:
    local, _, domain = sub.address.rpartition("@")
    return f"{local}+{sub.tag}@{domain}"


def _no_deal(sub: DealAddress) -> str:
    if sub.deal_id is None:
        return f"{sub.tag.removeprefix('deal-')!r} after '+deal-' is not a deal number"
    return f"there is no deal {sub.deal_id}"


def kept(item: RawMessage, message: Message, stored: Outcome) -> RunMessage:
    """The row of a message whose logged e-mail stays as it is (LIFE-2 under --reprocess)."""
    return RunMessage(
        identity=message.identity,
        source=item.source,
        key=item.key,
        message_id=message.message_id,
        sender=message.sender.email if message.sender else "",
        subject=message.subject[:300],
        outcome="logged",
        reason="kept: a deactivated user's history stays (LIFE-2)",
        user=stored.user,
        contacts=stored.contacts,
        deals=stored.deals,
        email_id=stored.id,
    )


def outcome(record: Email | Rejection) -> Outcome:
    """What a logged e-mail or a rejection records of its message's outcome (LIFE-7)."""
    if isinstance(record, Email):
        return Outcome("logged", None, record.user, record.contacts, record.deals, record.rule, record.id or None)
    return Outcome("rejected", record.code, id=record.id or None)
