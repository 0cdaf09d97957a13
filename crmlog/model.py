"""The values that cross crmlog's stage boundaries. Standard library only.

read/ -> RawMessage; parse/ -> Message; rules/ -> Decision (Accepted | Rejected | Skipped |
Duplicate); store/ turns a decision into the records of records/, which show/ reads back.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from enum import StrEnum
from typing import Protocol

from .records import Contact, Deal, ForwardInfo, TeamInbox, User

_FROZEN = dict(frozen=True, slots=True, kw_only=True)


def normalize_email(address: str | None) -> str:
    """The one place an address is normalised (ADDR-1).

    Lower-cased, surrounding white space, angle brackets and a trailing dot removed, and a
    ``+tag`` sub-address stripped from the local part. Returns "" for anything without an @.
    """
    return sub_address(address)[0]


def sub_address(address: str | None) -> tuple[str, str]:
    """An address normalised (ADDR-1) and the ``+tag`` stripped from it ("" for none; BCC-5
    reads ``+deal-N`` there), lower-cased; ("", "") for anything without an @."""
    if not address:
        return "", ""
    _, addr = parseaddr(address.strip())
    addr = (addr or address).strip().strip("<>").strip().rstrip(".").lower()
    local, at, domain = addr.rpartition("@")
    if not at or not local or not domain:
        return "", ""
    base, _, tag = local.partition("+")
    return (f"{base}@{domain}", tag) if base else (f"{local}@{domain}", "")


def iso(when: datetime | None) -> str | None:
    """A time as stored and shown: ISO 8601, or None."""
    return when.isoformat() if when else None


def normalize_host(name: str) -> str:
    """A host or domain name as compared (SEC-4's hosts and authserv-ids, COMP-1's domains):
    lower case, surrounding white space and dots removed."""
    return name.strip().strip(".").lower()


def normalize_login(login: str) -> str:
    """A SASL login as compared with users' logins (SESSION)."""
    return login.strip().lower()


def normalize_message_id(value: str | None) -> str:
    """Message-ID without white space or angle brackets; the domain part lower-cased (ONCE-1)."""
    if not value:
        return ""
    mid = "".join(value.split()).strip("<>")
    local, at, domain = mid.rpartition("@")
    return f"{local}@{domain.lower()}" if at else mid


def raw_identity(data: bytes) -> str:
    """The identity of a message without a Message-ID (ONCE-1)."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tail_digest(tail: bytes) -> str:
    """How the bytes before an mbox position are stored and compared (MboxPosition)."""
    return hashlib.sha256(tail).hexdigest()


def email_domain(address: str) -> str:
    return address.rpartition("@")[2]


class LogPath(StrEnum):
    """Which way a message came to be logged (ADDR-3)."""

    BCC = "bcc"
    FORWARD = "forward"


class Code(StrEnum):
    """Rejection codes (REJ-1), stored as kebab-case strings."""

    SENDER_NOT_A_USER = "sender-not-a-user"
    READ_ONLY_SEAT = "read-only-seat"
    NO_INBOX_PERMISSION = "no-inbox-permission"
    NO_RECIPIENTS = "no-recipients"
    FORWARD_NOT_RECOGNIZED = "forward-not-recognized"
    FORWARD_IS_THREAD = "forward-is-thread"
    BODY_TOO_LARGE = "body-too-large"
    UNPARSEABLE = "unparseable"
    UNAUTHENTICATED_SENDER = "unauthenticated-sender"
    USER_DEACTIVATED = "user-deactivated"


# ---------------------------------------------------------------- messages


@dataclass(**_FROZEN)
class Address:
    email: str  # normalised (ADDR-1)
    name: str = ""


MBOX_TAIL = 4096  # the bytes before an mbox position that must be unchanged to go on from it


@dataclass(**_FROZEN)
class MboxPosition:
    """Where a run stopped in an mbox file: the offset after the last message decided on,
    and the bytes just before it, which must still be there for the next run to go on from
    that offset (an mbox rewritten since is read again from its start)."""

    offset: int
    tail: bytes  # up to MBOX_TAIL bytes before `offset` (stored as their SHA-256)


@dataclass(**_FROZEN)
class RawMessage:
    """One message as read from disk, addressed to a logging address as far as its header
    block tells: where it was found and its bytes."""

    source: str  # the mailbox path (Maildir folder or mbox file)
    key: str  # stable within the source across runs
    data: bytes
    position: MboxPosition | None = None  # mbox: where the next run goes on after this one


@dataclass(**_FROZEN)
class Unaddressed:
    """A message whose header block names no logging address (ADDR-2): only its header
    block was read. Counted as skipped and remembered, never parsed or stored."""

    source: str
    key: str
    position: MboxPosition | None = None


@dataclass(**_FROZEN)
class Unreadable:
    """A message that was listed but could not be read (permissions, I/O): not decided on,
    so the next run tries it again."""

    source: str
    key: str
    reason: str


@dataclass(**_FROZEN)
class DealAddress:
    """A recipient address with a ``+deal-`` sub-address (BCC-5), which ADDR-1 strips."""

    address: str  # normalised (ADDR-1): log@crm.example.com
    tag: str  # lower-cased, as written after the "+": deal-42, deal-abc

    @property
    def deal_id(self) -> int | None:  # N of deal-N (1 to 18 ASCII digits), else None
        n = self.tag.removeprefix("deal-")
        return int(n) if 0 < len(n) <= 18 and n.isascii() and n.isdigit() else None


@dataclass(**_FROZEN)
class Attachment:
    filename: str
    content_type: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(**_FROZEN)
class OversizedPart:
    """An attachment over the limit, cut out before parsing (LIM-2): what it was, without it."""

    filename: str
    content_type: str
    size: int  # decoded
    sha256: str


ATTACHED_MESSAGE_TYPES = frozenset({"message/rfc822", "message/global"})


def is_attached_message(content_type: str) -> bool:
    """A MIME part (or attachment) of this content type is a whole message attached (a
    forward as attachment)."""
    return content_type.lower() in ATTACHED_MESSAGE_TYPES


@dataclass(**_FROZEN)
class Message:
    identity: str  # normalised Message-ID, else "sha256:<hex of the raw bytes>" (ONCE-1)
    message_id: str  # normalised, "" when absent
    date: datetime | None  # timezone-aware UTC
    subject: str
    sender: Address | None  # the From of the message that reached us
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    bcc: tuple[Address, ...] = ()
    envelope_to: tuple[str, ...] = ()  # Resent-*, Delivered-To, X-Original-To, ... (ADDR-2)
    deal_addresses: tuple[DealAddress, ...] = ()  # recipients' `+deal-` sub-addresses (BCC-5)
    received: tuple[str, ...] = ()  # Received values, newest first (SEC-4)
    auth_results: tuple[str, ...] = ()  # Authentication-Results values, newest first (SEC-4)
    delivered: bool = False  # a delivery agent's header (Delivered-To, X-Original-To, ...) is present
    text: str = ""
    html: str = ""
    body_bytes: int = 0  # decoded size of all text and HTML parts (LIM-1)
    attachments: tuple[Attachment, ...] = ()
    oversized: tuple[OversizedPart, ...] = ()  # attachments cut out before parsing (LIM-2)
    oversized_text_bytes: int = 0  # encoded size of inline text cut out before parsing (LIM-1)
    # What the forward path reads beyond the fields above, prepared by the parse stage for a
    # message addressed to a forwarding address; None: not prepared (its text is all there is)
    forward_parts: ForwardParts | None = None

    def all_recipients(self) -> tuple[str, ...]:
        """Every address the message is addressed to under ADDR-2."""
        return tuple(a.email for a in (*self.to, *self.cc, *self.bcc)) + self.envelope_to


@dataclass(**_FROZEN)
class AttachedMessage:
    """A message attached to a forward (message/rfc822), read by the parse stage."""

    message: Message
    html_text: str = ""  # its HTML body rendered as text, where it has no text part (else "")
    held_messages: int = 0  # attached messages inside it (counted, not read: one makes a thread, FWD-3)


@dataclass(**_FROZEN)
class UnreadableMessage:
    """An attached message that could not be read, or was not (one of several): why (FWD-2)."""

    reason: str


@dataclass(**_FROZEN)
class ForwardParts:
    """What the forward path reads in a message beyond its text, read by the parse stage so
    that the rules parse nothing: the HTML body rendered as text, and each attached message
    (those inside another attached message are not among them)."""

    html_text: str = ""
    attached: tuple[AttachedMessage | UnreadableMessage, ...] = ()


# ---------------------------------------------------------------- the CRM, as the rules see it


class CrmView(Protocol):
    """The read-only view of the CRM that the rules consult."""

    @property
    def users(self) -> tuple[User, ...]: ...

    @property
    def team_inboxes(self) -> tuple[TeamInbox, ...]: ...

    def contact(self, email: str) -> Contact | None: ...

    def open_deals(self, email: str) -> tuple[Deal, ...]: ...

    def deal(self, id: int) -> Deal | None:
        """BCC-5: deal `id`, whatever its stage; None where there is none."""
        ...

    def is_logged(self, identity: str) -> bool: ...

    def is_forgotten(self, email: str) -> bool:
        """LIFE-3: the address was erased (`contacts forget`): never a contact again."""
        ...


# ---------------------------------------------------------------- settings


@dataclass(**_FROZEN)
class Settings:
    bcc: tuple[str, ...]
    forward: tuple[str, ...] = ()
    max_body_bytes: int = 2_097_152
    max_attachment_bytes: int = 52_428_800
    never_log: tuple[str, ...] = ()
    auto_create_companies: bool = True
    require_authenticated_sender: bool = False
    trusted_hosts: frozenset[str] = frozenset()  # the team's own mail hosts (SEC-4: Received)
    authserv_ids: frozenset[str] = frozenset()  # hosts writing Authentication-Results on all mail (SEC-4)
    mail_notices: bool = False  # mail each delivery-error notice to its user (notify.py)
    daily_summary: bool = False  # mail each user a daily summary of their rejections
    sendmail: str = "/usr/sbin/sendmail"  # the local sendmail command, arguments allowed
    notice_from: str = "crmlog"  # From of those mails (an unqualified name: the MTA adds its domain)

    @property
    def logging_addresses(self) -> frozenset[str]:
        return frozenset(self.bcc) | frozenset(self.forward)


@dataclass(**_FROZEN)
class Forwarded:
    """The one message found inside a forward (FWD-1): what its header block and body say.
    `sender.email` is "" when the client wrote a name only."""

    sender: Address
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    subject: str
    date: str  # ISO 8601 where it could be read, else as the client wrote it
    body: str  # the forwarded message's own text (its quoted history included)
    note: str  # what the forwarder wrote above it (FWD-4)
    client: str  # the layout recognised: gmail, outlook, apple-mail, attachment, ...
    attachments: tuple[Attachment, ...] = ()


# ---------------------------------------------------------------- decisions


@dataclass(**_FROZEN)
class LoggedMessage:
    """The message an accepted decision logs, whichever path chose it: the BCC'd message
    itself, or on the forward path the forwarded one (FWD-4), with the forward noted."""

    sender: Address | None
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    subject: str
    date: str | None  # ISO 8601; a forwarded date the client wrote unreadably, as written
    text: str
    html: str
    forward: ForwardInfo | None = None  # the forward, noted (FWD-4)


@dataclass(**_FROZEN)
class Attribution:
    """Who gets the credit and why (ATTR-6)."""

    user: str
    rule: str  # ATTR-T, ATTR-1 .. ATTR-4
    candidates: tuple[str, ...]
    session_user: str | None
    ambiguous: bool = False


@dataclass(**_FROZEN)
class NewContact:
    email: str
    name: str
    source: str  # bcc-recipient | forward-sender
    company: str | None


@dataclass(**_FROZEN)
class Accepted:
    path: LogPath
    attribution: Attribution
    new_contacts: tuple[NewContact, ...]
    contacts: tuple[str, ...]
    companies: tuple[str, ...]
    deals: tuple[int, ...]
    kept_attachments: tuple[Attachment, ...]
    dropped_attachments: tuple[Attachment | OversizedPart, ...]
    rules: tuple[str, ...]
    logged: LoggedMessage  # what goes into the CRM
    forwarded: Forwarded | None = None  # the forward path's finding (FWD-1), which `logged` is made of
    deals_named: bool = False  # BCC-5: `deals` are those the `+deal-N` sub-addresses name
    unknown_deals: tuple[DealAddress, ...] = ()  # BCC-5: those naming no deal, a notice each


@dataclass(**_FROZEN)
class Rejected:
    code: Code
    reason: str
    rules: tuple[str, ...] = ()


@dataclass(**_FROZEN)
class Skipped:
    reason: str = "not addressed to a logging address"


@dataclass(**_FROZEN)
class Duplicate:
    identity: str


Decision = Accepted | Rejected | Skipped | Duplicate
