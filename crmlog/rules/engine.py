"""The rule engine: decide(message, view, settings) -> Decision.

A decision is the checks of CHECKS run in order, as the rules table lists them: each one
either stops the decision (Rejected, Skipped, Duplicate) or lets the message on with what it
found and the ids of the rules of spec/rules.md that fired. An accepted message carries
those ids in order (its trace), so that `crmlog attribution explain` can say why.

Pure: no files, no clock, no randomness.
"""

from __future__ import annotations

from dataclasses import replace

from ..model import (
    Accepted,
    Attachment,
    Code,
    CrmView,
    Decision,
    Duplicate,
    Forwarded,
    LoggedMessage,
    LogPath,
    Message,
    OversizedPart,
    Rejected,
    Settings,
    Skipped,
    iso,
)
from ..records import ForwardInfo
from .attribution import find_session, give_credit, may_log
from .authenticity import sender_proven
from .contacts import associate, name_companies, pick_contacts
from .draft import Check, Context, Draft, Found


def addressed(ctx: Context, draft: Draft) -> Found | Skipped:
    """ADDR-2: addressed to a logging address, else skipped."""
    if set(ctx.message.all_recipients()).isdisjoint(ctx.settings.logging_addresses):
        return Skipped()
    return Found(draft, ("ADDR-2",))


def not_logged_yet(ctx: Context, draft: Draft) -> Found | Duplicate:
    """ONCE-1: a message logged already (by identity) is a duplicate."""
    if ctx.view.is_logged(ctx.message.identity):
        return Duplicate(identity=ctx.message.identity)
    return Found(draft)


def choose_path(ctx: Context, draft: Draft) -> Found:
    """ADDR-3: a forwarding address takes the forward path, else the BCC path."""
    addressed = set(ctx.message.all_recipients()) & ctx.settings.logging_addresses
    path = LogPath.FORWARD if addressed & set(ctx.settings.forward) else LogPath.BCC
    return Found(replace(draft, path=path), ("ADDR-3",))


def body_within_limit(ctx: Context, draft: Draft) -> Found | Rejected:
    """LIM-1: the body (text and HTML, decoded) is at most `max_body_bytes`."""
    message, limit = ctx.message, ctx.settings.max_body_bytes
    if message.oversized_text_bytes:
        return Rejected(
            code=Code.BODY_TOO_LARGE,
            reason=f"a text part of {message.oversized_text_bytes:,} bytes as sent is far over the "
            f"{limit:,}-byte body limit",
            rules=("LIM-1",),
        )
    if message.body_bytes > limit:
        return Rejected(
            code=Code.BODY_TOO_LARGE,
            reason=f"the body is {message.body_bytes:,} bytes, over the {limit:,}-byte limit",
            rules=("LIM-1",),
        )
    return Found(draft)


def drop_oversized(ctx: Context, draft: Draft) -> Found:
    """LIM-2: attachments over the limit are dropped (with the parts cut out before parsing),
    every other one kept (LIM-3)."""
    limit = ctx.settings.max_attachment_bytes
    kept = tuple(a for a in draft.attachments if a.size <= limit)
    dropped: tuple[Attachment | OversizedPart, ...] = (
        *(a for a in draft.attachments if a.size > limit),
        *ctx.message.oversized,
    )
    return Found(replace(draft, kept=kept, dropped=dropped), ("LIM-2",) if dropped else ())


CHECKS: tuple[Check, ...] = (
    addressed,  # ADDR-2
    not_logged_yet,  # ONCE-1
    choose_path,  # ADDR-3
    find_session,  # SESSION
    give_credit,  # ATTR-T, ATTR-1..4, ATTR-5, ATTR-6
    may_log,  # PERM-1, PERM-2
    sender_proven,  # SEC-4
    body_within_limit,  # LIM-1
    pick_contacts,  # BCC-1, BCC-2, BCC-4, or FWD-1..5 (FWD-7)
    name_companies,  # COMP-1
    associate,  # BCC-3 or FWD-6; BCC-5
    drop_oversized,  # LIM-2
)


def decide(
    message: Message,
    view: CrmView,
    settings: Settings,
    *,
    session_login: str = "",
) -> Decision:
    """The whole rule book for one message. `session_login` is `ingest --user LOGIN`."""
    ctx = Context(message=message, view=view, settings=settings, session_login=session_login)
    draft = Draft()
    trace: tuple[str, ...] = ()  # the ids of the rules that fired, in order
    for check in CHECKS:
        result = check(ctx, draft)
        if not isinstance(result, Found):
            return result
        draft, trace = result.draft, trace + result.rules
    return _accepted(message, draft, trace)


def _logged(message: Message, f: Forwarded | None) -> LoggedMessage:
    """FWD-4: on the forward path the forwarded message is logged, the forward noted."""
    if f is None:
        return LoggedMessage(
            sender=message.sender,
            to=message.to,
            cc=message.cc,
            subject=message.subject,
            date=iso(message.date),
            text=message.text,
            html=message.html,
        )
    forward = ForwardInfo(
        note=f.note,
        client=f.client,
        forwarded_by=message.sender.email if message.sender else "",
        forwarded_at=iso(message.date),
        subject=message.subject,
    )
    return LoggedMessage(
        sender=f.sender, to=f.to, cc=f.cc, subject=f.subject, date=f.date, text=f.body, html="", forward=forward
    )


def _accepted(message: Message, draft: Draft, trace: tuple[str, ...]) -> Accepted:
    assert draft.credit is not None  # give_credit ran
    return Accepted(
        path=draft.path,
        attribution=draft.credit,
        new_contacts=draft.new_contacts,
        contacts=tuple(a.email for a in draft.contacts),
        companies=draft.companies,
        deals=draft.deals,
        kept_attachments=draft.kept,
        dropped_attachments=draft.dropped,
        rules=trace,
        logged=_logged(message, draft.forwarded),
        forwarded=draft.forwarded,
        deals_named=draft.deals_named,
        unknown_deals=draft.unknown_deals,
    )


def decide_unparseable(partial: Message | None, problem: str, view: CrmView) -> Decision:
    """REJ-2: a message addressed to us that cannot be parsed is rejected `unparseable`,
    unless its Message-ID shows it is a copy of one logged already (ONCE-1)."""
    if partial is not None and view.is_logged(partial.identity):
        return Duplicate(identity=partial.identity)
    return Rejected(
        code=Code.UNPARSEABLE,
        reason=f"the message could not be read as e-mail (broken headers or MIME structure): {problem}",
        rules=("REJ-2",),
    )
