"""The rule engine: decide(message, view, settings) -> Decision.

Pure: no files, no clock, no randomness. Every decision carries the ids of the rules of
spec/rules.md that fired, so that `crmlog attribution explain` can say why.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from ..model import (
    Accepted,
    Address,
    Attachment,
    Code,
    CrmView,
    Decision,
    Duplicate,
    Forwarded,
    LogPath,
    Message,
    NewContact,
    OversizedPart,
    Rejected,
    Seat,
    Settings,
    Skipped,
    email_domain,
    normalize_login,
)
from .attribution import attribute, session_user
from .authenticity import authenticated_login, sender_authenticated
from .companies import company_domain

MAX_DEALS_PER_CONTACT = 5  # BCC-3


def is_never_logged(email: str, patterns: tuple[str, ...]) -> bool:
    """`never_log` entries: an address, a glob over the address, or a domain (and its
    sub-domains)."""
    domain = email_domain(email)
    for p in patterns:
        if any(c in p for c in "*?["):
            if fnmatchcase(email, p) or ("@" not in p and fnmatchcase(domain, p)):
                return True
        elif "@" in p:
            if email == p:
                return True
        elif domain == p or domain.endswith("." + p):
            return True
    return False


def _own_sent_copy(message: Message, settings: Settings) -> bool:
    """The sender's own Sent copy: its Bcc header names a logging address and no delivery
    agent has handled it (SEC-4 asks proof of delivered copies only)."""
    return not message.delivered and any(a.email in settings.logging_addresses for a in message.bcc)


def _authenticated_sender_login(message: Message, settings: Settings) -> str:
    """SESSION without `ingest --user`: the login of the newest `(Authenticated sender: LOGIN)`
    clause inside SEC-4's trusted chain. A clause below the first outside hop is whatever the
    sender wrote there, so it never chooses the user (a forged one would take the credit)."""
    return normalize_login(authenticated_login(message.received, settings.trusted_hosts))


def team_addresses(view: CrmView) -> frozenset[str]:
    """Every address that belongs to the team itself (never made a contact: BCC-1)."""
    out = set()
    for u in view.users:
        out.add(u.email)
        out.update(a for a, _ in u.inboxes)
        out.update(u.aliases)
    out.update(t.address for t in view.team_inboxes)
    return frozenset(out)


def decide(
    message: Message,
    view: CrmView,
    settings: Settings,
    *,
    session_login: str = "",
) -> Decision:
    """The whole rule book for one message. `session_login` is `ingest --user LOGIN`."""
    addressed = set(message.all_recipients()) & settings.logging_addresses
    if not addressed:
        return Skipped()  # ADDR-2
    if view.is_logged(message.identity):
        return Duplicate(identity=message.identity)  # ONCE-1
    path = LogPath.FORWARD if addressed & set(settings.forward) else LogPath.BCC  # ADDR-3
    rules = ["ADDR-2", "ADDR-3"]

    if message.sender is None:
        return Rejected(code=Code.SENDER_NOT_A_USER, reason="the message has no From address", rules=("ATTR-5",))
    session = session_user(view.users, session_login or _authenticated_sender_login(message, settings))
    if session is not None:
        rules.append("SESSION")
    credit = attribute(message.sender.email, view.users, view.team_inboxes, session)
    if isinstance(credit, Rejected):
        return credit
    rules.append(credit.rule)
    rules.append("ATTR-6")

    user = next(u for u in view.users if u.email == credit.user)
    if user.seat == Seat.READ_ONLY:
        return Rejected(
            code=Code.READ_ONLY_SEAT,
            reason=f"{user.email} has a read-only seat and cannot log e-mail",
            rules=("PERM-1",),
        )
    if not user.personal_inbox_access:
        return Rejected(
            code=Code.NO_INBOX_PERMISSION,
            reason=f"{user.email} lacks the personal inbox access permission",
            rules=("PERM-2",),
        )

    if settings.require_authenticated_sender and not _own_sent_copy(message, settings):
        if not sender_authenticated(message, settings.trusted_hosts, settings.authserv_ids):
            return Rejected(
                code=Code.UNAUTHENTICATED_SENDER,
                reason=f"the delivered copy shows no authenticated submission by {message.sender.email}, "
                "nor a DKIM, SPF or DMARC pass for its domain from a trusted authserv-id",
                rules=("SEC-4",),
            )
        rules.append("SEC-4")

    if message.oversized_text_bytes:
        return Rejected(
            code=Code.BODY_TOO_LARGE,
            reason=f"a text part of {message.oversized_text_bytes:,} bytes as sent is far over the "
            f"{settings.max_body_bytes:,}-byte body limit",
            rules=("LIM-1",),
        )
    if message.body_bytes > settings.max_body_bytes:
        return Rejected(
            code=Code.BODY_TOO_LARGE,
            reason=f"the body is {message.body_bytes:,} bytes, over the {settings.max_body_bytes:,}-byte limit",
            rules=("LIM-1",),
        )

    recipients: tuple[Address, ...]
    if path == LogPath.FORWARD:  # FWD-7: attribution and permissions above are the forwarder's
        picked = _forwarded_contact(message, view, settings, rules)
        if isinstance(picked, Rejected):
            return picked
        recipients, source, attachments, forwarded = (picked.sender,), "forward-sender", picked.attachments, picked
    else:
        recipients = _contacts_among((*message.to, *message.cc), view, settings)  # never Bcc (BCC-2)
        rules += ["BCC-1", "BCC-2"]
        if not recipients:
            return Rejected(
                code=Code.NO_RECIPIENTS,
                reason="no recipient in To or Cc can be a contact (only colleagues, logging "
                "or never-logged addresses, or Bcc)",
                rules=("BCC-4",),
            )
        source, attachments, forwarded = "bcc-recipient", message.attachments, None

    # BCC-3 (and FWD-6 for the forwarded sender): contacts, their companies, their deals
    new_contacts = []
    companies: dict[str, None] = {}
    deals: dict[int, None] = {}
    for addr in recipients:
        existing = view.contact(addr.email)
        if existing is None:
            company = company_domain(addr.email) if settings.auto_create_companies else None
            new_contacts.append(NewContact(email=addr.email, name=addr.name, source=source, company=company))
            if company and "COMP-1" not in rules:
                rules.append("COMP-1")
        else:
            company = existing.company
        if company:
            companies[company] = None
        for deal in _recent_open_deals(view, addr.email):
            deals[deal] = None
    rules.append("FWD-6" if forwarded else "BCC-3")

    kept, over_limit = _split_attachments(attachments, settings.max_attachment_bytes)
    # the parts cut out before parsing are over the limit too
    dropped: tuple[Attachment | OversizedPart, ...] = (*over_limit, *message.oversized)
    if dropped:
        rules.append("LIM-2")
    return Accepted(
        path=path,
        attribution=credit,
        new_contacts=tuple(new_contacts),
        contacts=tuple(a.email for a in recipients),
        companies=tuple(companies),
        deals=tuple(deals),
        kept_attachments=kept,
        dropped_attachments=dropped,
        rules=tuple(rules),
        forwarded=forwarded,
    )


def _forwarded_contact(message: Message, view: CrmView, settings: Settings, rules: list[str]) -> Forwarded | Rejected:
    """FWD-1..5: the one forwarded reply, whose sender (only) is the contact."""
    from .forwards import find_forward  # its pattern tables compile only for runs that read a forward

    assert message.sender is not None
    found = find_forward(message, forwarder=message.sender.email)
    if isinstance(found, Rejected):
        return found  # FWD-2, FWD-3
    sender = found.sender
    if sender.email in team_addresses(view):
        return Rejected(
            code=Code.FORWARD_IS_THREAD,
            reason=f"the forwarded message was written by {sender.email}, a user of the CRM: "
            "forward the contact's reply itself, not a reply to it",
            rules=("FWD-1", "FWD-3"),
        )
    if not _contacts_among((sender,), view, settings):
        return Rejected(
            code=Code.NO_RECIPIENTS,
            reason=f"the forwarded message's sender {sender.email} is a logging or never-logged "
            "address, so there is no contact to log it on",
            rules=("FWD-4", "BCC-1", "BCC-4"),
        )
    rules += ["FWD-1", "FWD-3", "FWD-4", "FWD-5"]  # FWD-5: its To and Cc are left alone
    return found


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


def _contacts_among(addresses: tuple[Address, ...], view: CrmView, settings: Settings) -> tuple[Address, ...]:
    """BCC-1: the addresses that can be contacts: not a logging address, not the team's own,
    not on `never_log`; each once."""
    excluded = settings.logging_addresses | team_addresses(view)
    out: dict[str, Address] = {}
    for addr in addresses:
        if addr.email in excluded or addr.email in out:
            continue
        if is_never_logged(addr.email, settings.never_log):
            continue
        out[addr.email] = addr
    return tuple(out.values())


def _recent_open_deals(view: CrmView, email: str) -> list[int]:
    """BCC-3: the five most recent open deals, by creation time newest first, then id."""
    deals = sorted(view.open_deals(email), key=lambda d: d.id)
    deals.sort(key=lambda d: d.created, reverse=True)
    return [d.id for d in deals[:MAX_DEALS_PER_CONTACT]]


def _split_attachments(
    attachments: tuple[Attachment, ...], limit: int
) -> tuple[tuple[Attachment, ...], tuple[Attachment, ...]]:
    """LIM-2: attachments over the limit are dropped, every other one kept (LIM-3)."""
    return (
        tuple(a for a in attachments if a.size <= limit),
        tuple(a for a in attachments if a.size > limit),
    )
