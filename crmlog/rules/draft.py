"""What the checks of decide() pass along: the message and what it is judged against
(Context), what the checks have found so far (Draft), and what one check answers: Found
(what it adds, and the ids of the rules that fired) or a Stop that ends the decision."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..model import (
    Address,
    Attachment,
    Attribution,
    CrmView,
    DealAddress,
    Duplicate,
    Forwarded,
    LogPath,
    Message,
    NewContact,
    OversizedPart,
    Rejected,
    Settings,
    Skipped,
)
from ..records import User


@dataclass(frozen=True, slots=True)
class Context:
    message: Message
    view: CrmView
    settings: Settings
    session_login: str = ""  # `ingest --user LOGIN`


@dataclass(frozen=True, slots=True)
class Draft:
    """An Accepted in the making: each check that lets the message on may add to it."""

    path: LogPath = LogPath.BCC  # ADDR-3
    session: User | None = None  # SESSION
    credit: Attribution | None = None  # ATTR
    contacts: tuple[Address, ...] = ()  # the addresses the e-mail is logged on (BCC-1, FWD-4)
    source: str = ""  # how a new contact came to be: bcc-recipient | forward-sender
    attachments: tuple[Attachment, ...] = ()  # the logged message's files
    forwarded: Forwarded | None = None  # the forward path logs this, not the outer message
    new_contacts: tuple[NewContact, ...] = ()  # COMP-1
    companies: tuple[str, ...] = ()  # BCC-3, FWD-6
    deals: tuple[int, ...] = ()  # BCC-3, FWD-6; BCC-5
    deals_named: bool = False  # BCC-5: `deals` are those a logging address's +deal-N names
    unknown_deals: tuple[DealAddress, ...] = ()  # BCC-5: +deal- sub-addresses naming no deal
    kept: tuple[Attachment, ...] = ()  # LIM-2, LIM-3
    dropped: tuple[Attachment | OversizedPart, ...] = ()  # LIM-2


Stop = Rejected | Skipped | Duplicate


@dataclass(frozen=True, slots=True)
class Found:
    """A check let the message on: the draft with what it added, and the rules that fired."""

    draft: Draft
    rules: tuple[str, ...] = ()


Check = Callable[[Context, Draft], Stop | Found]
