"""Raw bytes to a frozen Message, through mail-parser: the message's addresses, dates, text,
HTML and attachments, with the parts the caps cut out put back as named attachments."""

from __future__ import annotations

import base64
import binascii
from dataclasses import replace
from datetime import UTC
from email.message import Message as MimeMessage
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from ..model import Address, Attachment, Message, OversizedPart, normalize_email, normalize_message_id, raw_identity
from ..read.caps import Caps, CutPart, OverCap, Trimmed, trim
from ..read.headerblock import BOM, parse_headers
from .fields import (
    ADDRESS_HEADERS,
    DELIVERY_HEADERS,
    ENVELOPE_HEADERS,
    addresses_of,
    deal_addresses,
    field_pairs,
    received_for,
    received_for_written,
    subject,
)
from .mail_parser import mail_parser


class ParseError(Exception):
    """The bytes are not a message we can read (REJ-2). `partial` holds what its header block
    still tells (identity, Message-ID, sender, date, subject), for the rejection record."""

    def __init__(self, reason: str, partial: Message | None = None):
        super().__init__(reason)
        self.partial = partial


def read_mime(data: bytes, caps: Caps | None = None) -> tuple[Message, MimeMessage]:
    """Parse raw message bytes into a Message and the MIME tree it was read from; every
    failure inside the parser becomes a ParseError. With `caps`, the raw bytes are held to
    them first (read/caps.py): over a structural cap is a ParseError, parts over a size limit
    are cut out and reported on the Message."""
    if data.startswith(BOM):
        data = data[3:]  # a UTF-8 BOM before the headers hides the first header name
    if not data or data.isspace():  # (strip() would copy the whole message)
        raise ParseError("the message is empty")
    trimmed = Trimmed(data)
    try:
        if caps is not None:
            trimmed = trim(data, caps)
        mp = mail_parser().parse_from_bytes(trimmed.data)
        message = _message(mp, data)
    except OverCap as exc:
        assert caps is not None  # only trim() raises OverCap, and it runs only with caps
        raise ParseError(str(exc), _headers_only(data[: caps.header_bytes])) from exc
    except ParseError as exc:
        raise ParseError(str(exc), _headers_only(data)) from exc
    except Exception as exc:  # mail-parser raises far more than its own error classes
        raise ParseError(f"{type(exc).__name__}: {exc}"[:300], _headers_only(data)) from exc
    if trimmed.cut or trimmed.text_cut:
        named = [_cut_part(c) for c in trimmed.cut]
        message = replace(
            message,
            attachments=message.attachments + tuple(a for a in named if isinstance(a, Attachment)),
            oversized=tuple(a for a in named if isinstance(a, OversizedPart)),
            oversized_text_bytes=trimmed.text_cut,
        )
    tree: MimeMessage = mp.message
    return message, tree


def _cut_part(cut: CutPart) -> Attachment | OversizedPart:
    """A part that the caps cut out, named as mail-parser names the attachments it reads (the
    same header view and decoding): kept (its bytes decoded by the caps) or over the limit."""
    view, _ = mail_parser().mime_header_view(parse_headers(cut.header))
    filename = mail_parser().decode_header_part(view.get_filename())
    ctype = view.get_content_type()
    if cut.data is None:
        return OversizedPart(filename=filename, content_type=ctype, size=cut.size, sha256=cut.sha256)
    return Attachment(filename=filename, content_type=ctype, data=cut.data)


def _headers_only(data: bytes) -> Message | None:
    """The little a broken message's header block tells, read by the stdlib alone."""
    try:
        h = parse_headers(data)
        sender = getaddresses([str(v) for v in h.get_all("from", [])])
        email = normalize_email(sender[0][1]) if sender else ""
        message_id = normalize_message_id(str(h.get("message-id") or ""))
        try:
            date = parsedate_to_datetime(str(h.get("date"))).astimezone(UTC) if h.get("date") else None
        except (TypeError, ValueError, IndexError, OverflowError):
            date = None
        return Message(
            identity=message_id or raw_identity(data),
            message_id=message_id,
            date=date,
            subject=subject(h)[:500],
            sender=Address(email=email) if email else None,
        )
    except Exception:  # the stdlib gave up too: nothing to tell
        return None


def _message(mp: Any, data: bytes) -> Message:
    msg = mp.message
    if msg is None or len(msg) == 0:
        raise ParseError("no header fields")

    # mail-parser has read the first field of each of its address headers already, with the
    # same get_addresses call as field_pairs: those are taken from it, the rest read here
    known = {"from": mp.from_, "to": mp.to, "cc": mp.cc, "bcc": mp.bcc, "delivered-to": mp.delivered_to}
    written: list[str] = []  # the recipients' addresses as written, for their +deal- tags (BCC-5)

    def addresses(*names: str) -> tuple[Address, ...]:
        out: dict[str, Address] = {}
        for name in names:
            for i, value in enumerate(msg.get_all(name) or ()):
                pairs = known[name] if i == 0 and name in known else field_pairs(value)
                if name in ADDRESS_HEADERS:
                    written.extend(addr for _, addr in pairs)
                for a in addresses_of(pairs):
                    out.setdefault(a.email, a)
        return tuple(out.values())

    to, cc, bcc = addresses("to"), addresses("cc"), addresses("bcc")
    received = [str(v) for v in msg.get_all("received") or ()]
    envelope = [a.email for a in addresses(*ENVELOPE_HEADERS)]
    for value in received:
        written += received_for_written(value)
        envelope += received_for(value)

    delivered = any(msg.get(name) is not None for name in DELIVERY_HEADERS)
    senders = addresses("from") or addresses("sender")
    message_id = normalize_message_id(str(msg.get("message-id") or ""))
    date = mp.date
    if date is not None:
        date = date.replace(tzinfo=UTC) if date.tzinfo is None else date.astimezone(UTC)
    text = "\n".join(_iso2022(t) for t in mp.text_plain)
    html = "\n".join(_iso2022(t) for t in mp.text_html)
    return Message(
        identity=message_id or raw_identity(data),
        message_id=message_id,
        date=date,
        subject=subject(msg),
        sender=senders[0] if senders else None,
        to=to,
        cc=cc,
        bcc=bcc,
        envelope_to=tuple(dict.fromkeys(envelope)),
        deal_addresses=deal_addresses(written),
        received=tuple(received),
        auth_results=tuple(str(v) for v in msg.get_all("authentication-results") or ()),
        delivered=delivered,
        text=text,
        html=html,
        body_bytes=len(text.encode("utf-8", "surrogatepass")) + len(html.encode("utf-8", "surrogatepass")),
        attachments=tuple(_attachment(a) for a in mp.attachments),
    )


def _iso2022(text: str) -> str:
    """mail-parser hands 7bit ISO-2022-JP text (Japanese Outlook and Thunderbird) over with
    its escape sequences undecoded."""
    if "\x1b" not in text:
        return text
    try:
        return text.encode("ascii").decode("iso2022_jp_2")
    except UnicodeError:
        return text


def _attachment(a: dict[str, Any]) -> Attachment:
    payload = a.get("payload") or ""
    if a.get("binary"):
        try:
            data = base64.b64decode(payload)
        except (binascii.Error, ValueError):
            data = payload.encode("utf-8", "surrogateescape")
    else:
        data = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else bytes(payload)
    return Attachment(
        filename=str(a.get("filename") or ""),
        content_type=str(a.get("mail_content_type") or "application/octet-stream"),
        data=data,
    )
