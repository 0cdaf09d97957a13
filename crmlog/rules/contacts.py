"""BCC-1..5, FWD-1..6 and COMP-1: who an e-mail is logged on, the new contacts and their
companies, and what the e-mail is associated with. Pure functions."""

from __future__ import annotations

from dataclasses import replace
from fnmatch import fnmatchcase

from ..model import Address, Code, CrmView, DealAddress, LogPath, NewContact, Rejected, Settings, email_domain
from ..records import Contact
from .attribution import team_addresses
from .companies import company_domain
from .draft import Context, Draft, Found

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


def contacts_among(addresses: tuple[Address, ...], view: CrmView, settings: Settings) -> tuple[Address, ...]:
    """BCC-1: the addresses that can be contacts: not a logging address, not the team's own,
    not on `never_log`, not erased (LIFE-3); each once, under the address of the contact it
    was merged into where it was (LIFE-4)."""
    excluded = settings.logging_addresses | team_addresses(view.users, view.team_inboxes)
    out: dict[str, Address] = {}
    for addr in addresses:
        if addr.email in excluded or addr.email in out:
            continue
        if is_never_logged(addr.email, settings.never_log) or view.is_forgotten(addr.email):
            continue
        known = view.contact(addr.email)
        if known is not None and known.email != addr.email:
            addr = replace(addr, email=known.email)  # a merged address: its contact's
            if addr.email in out or view.is_forgotten(addr.email):
                continue
        out[addr.email] = addr
    return tuple(out.values())


def recent_open_deals(view: CrmView, email: str) -> list[int]:
    """BCC-3: the five most recent open deals, by creation time newest first, then id."""
    deals = sorted(view.open_deals(email), key=lambda d: d.id)
    deals.sort(key=lambda d: d.created, reverse=True)
    return [d.id for d in deals[:MAX_DEALS_PER_CONTACT]]


# ---------------------------------------------------------------- the checks of decide()


def pick_contacts(ctx: Context, draft: Draft) -> Found | Rejected:
    """BCC-1, BCC-2, BCC-4 on the BCC path; FWD-1..5 on the forward path (FWD-7: the credit
    and permissions checked before are the forwarder's)."""
    if draft.path == LogPath.FORWARD:
        return _forwarded_contact(ctx, draft)
    message = ctx.message
    recipients = contacts_among((*message.to, *message.cc), ctx.view, ctx.settings)  # never Bcc (BCC-2)
    if not recipients:
        return Rejected(
            code=Code.NO_RECIPIENTS,
            reason="no recipient in To or Cc can be a contact (only colleagues, logging, "
            "never-logged or erased addresses, or Bcc)",
            rules=("BCC-4",),
        )
    found = replace(draft, contacts=recipients, source="bcc-recipient", attachments=message.attachments)
    return Found(found, ("BCC-1", "BCC-2"))


def _forwarded_contact(ctx: Context, draft: Draft) -> Found | Rejected:
    """FWD-1..5: the one forwarded reply, whose sender (only) is the contact."""
    from .forwards import find_forward  # its pattern tables compile only for runs that read a forward

    assert ctx.message.sender is not None  # give_credit ran
    found = find_forward(ctx.message, forwarder=ctx.message.sender.email)
    if isinstance(found, Rejected):
        return found  # FWD-2, FWD-3
    sender = found.sender
    if sender.email in team_addresses(ctx.view.users, ctx.view.team_inboxes):
        return Rejected(
            code=Code.FORWARD_IS_THREAD,
            reason=f"the forwarded message was written by {sender.email}, a user of the CRM: "
            "forward the contact's reply itself, not a reply to it",
            rules=("FWD-1", "FWD-3"),
        )
    contact = contacts_among((sender,), ctx.view, ctx.settings)
    if not contact:
        if ctx.view.is_forgotten(sender.email):  # LIFE-3: and the reason does not name it
            reason = "the forwarded message's sender was erased from the CRM (`contacts forget`)"
        else:
            reason = f"the forwarded message's sender {sender.email} is a logging or never-logged address"
        return Rejected(
            code=Code.NO_RECIPIENTS,
            reason=f"{reason}, so there is no contact to log it on",
            rules=("FWD-4", "BCC-1", "BCC-4"),
        )
    picked = replace(draft, contacts=contact, source="forward-sender", attachments=found.attachments, forwarded=found)
    return Found(picked, ("FWD-1", "FWD-3", "FWD-4", "FWD-5"))  # FWD-5: its To and Cc are left alone


def name_companies(ctx: Context, draft: Draft) -> Found:
    """The contacts not in the CRM yet become new contacts; COMP-1: each with its company
    (the registrable domain of its address, unless a free-mail provider)."""
    new = []
    for addr in draft.contacts:
        if ctx.view.contact(addr.email) is None:
            company = company_domain(addr.email) if ctx.settings.auto_create_companies else None
            new.append(NewContact(email=addr.email, name=addr.name, source=draft.source, company=company))
    fired = ("COMP-1",) if any(c.company for c in new) else ()
    return Found(replace(draft, new_contacts=tuple(new)), fired)


def named_deals(ctx: Context) -> tuple[tuple[int, ...], tuple[DealAddress, ...]]:
    """BCC-5: the deals that the `+deal-N` sub-addresses of the logging addresses (BCC and
    forwarding alike) name, each once in the order found, and the sub-addresses that name
    none (no deal N, or not a number), each tag once. A won or lost deal N is named all the
    same: the sender asked for it by its address. A `+deal-` on any other address is not
    ours to read."""
    deals: dict[int, None] = {}
    unknown: dict[str, DealAddress] = {}
    for sub in ctx.message.deal_addresses:
        if sub.address not in ctx.settings.logging_addresses:
            continue
        deal = ctx.view.deal(sub.deal_id) if sub.deal_id is not None else None
        if deal is None:
            unknown.setdefault(sub.tag, sub)
        else:
            deals[deal.id] = None
    return tuple(deals), tuple(unknown.values())


def associate(ctx: Context, draft: Draft) -> Found:
    """BCC-3 (FWD-6 for the forwarded sender): each contact, its company, its five newest
    open deals. BCC-5: the deals a logging address's `+deal-N` names instead of the newest,
    where it names one; those naming none are noted for a notice (`unknown-deal`)."""
    new = {c.email: c for c in draft.new_contacts}
    named, unknown = named_deals(ctx)
    companies: dict[str, None] = {}
    deals: dict[int, None] = dict.fromkeys(named)
    for addr in draft.contacts:
        contact: NewContact | Contact | None = new.get(addr.email) or ctx.view.contact(addr.email)
        if contact is not None and contact.company:
            companies[contact.company] = None
        for deal in () if named else recent_open_deals(ctx.view, addr.email):
            deals[deal] = None
    associated = replace(
        draft, companies=tuple(companies), deals=tuple(deals), deals_named=bool(named), unknown_deals=unknown
    )
    fired = ("FWD-6",) if draft.forwarded else ("BCC-3",)
    return Found(associated, (*fired, "BCC-5") if named or unknown else fired)
