"""Bytes to a frozen Message, and HTML to text. The only module that imports mail-parser
and inscriptis."""
from __future__ import annotations

import base64
import binascii
import logging
import re
from datetime import timezone
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime
from functools import lru_cache

import mailparser
from mailparser.utils import get_addresses

from .model import Address, Attachment, Message, normalize_email, normalize_login, normalize_message_id, raw_identity

# Headers that name a recipient of this copy without being To/Cc/Bcc (ADDR-2).
ENVELOPE_HEADERS = (
    "resent-to",
    "resent-cc",
    "resent-bcc",
    "delivered-to",
    "x-original-to",
    "envelope-to",
    "x-envelope-to",
)
_RECEIVED_FOR = re.compile(r"\bfor\s+<?([^\s<>;()\"]+@[^\s<>;()\"]+?)>?\s*(?:;|$|\()", re.I)
_AUTH_SENDER = re.compile(r"\(\s*Authenticated\s+sender:\s*([^)\s]+)\s*\)", re.I)


logging.getLogger("mailparser").setLevel(logging.CRITICAL)  # it logs every odd part it meets


class ParseError(Exception):
    """The bytes are not a message we can read (REJ-2). `partial` holds what its header block
    still tells (identity, Message-ID, sender, date, subject), for the rejection record."""

    def __init__(self, reason: str, partial: Message | None = None):
        super().__init__(reason)
        self.partial = partial


def parse(data: bytes) -> Message:
    """Parse raw message bytes; every failure inside the parser becomes a ParseError."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]  # a UTF-8 BOM before the headers hides the first header name
    if not data.strip():
        raise ParseError("the message is empty")
    try:
        mp = mailparser.parse_from_bytes(data)
        return _message(mp, data)
    except ParseError as exc:
        raise ParseError(str(exc), _headers_only(data)) from exc
    except Exception as exc:  # mail-parser raises far more than its own error classes
        raise ParseError(f"{type(exc).__name__}: {exc}"[:300], _headers_only(data)) from exc


def _headers_only(data: bytes) -> Message | None:
    """The little a broken message's header block tells, read by the stdlib alone."""
    try:
        h = BytesHeaderParser(policy=compat32).parsebytes(data)
        sender = getaddresses([str(v) for v in h.get_all("from", [])])
        email = normalize_email(sender[0][1]) if sender else ""
        message_id = normalize_message_id(str(h.get("message-id") or ""))
        try:
            date = parsedate_to_datetime(str(h.get("date"))).astimezone(timezone.utc) if h.get("date") else None
        except (TypeError, ValueError, IndexError, OverflowError):
            date = None
        return Message(
            identity=message_id or raw_identity(data),
            message_id=message_id,
            date=date,
            subject=str(h.get("subject") or "")[:500],
            sender=Address(email=email) if email else None,
            defects=("unparseable",),
        )
    except Exception:  # the stdlib gave up too: nothing to tell
        return None


_HEADER_END = re.compile(rb"\r?\n\r?\n")


def address_pattern(addresses: frozenset[str]) -> re.Pattern[bytes]:
    """One pattern for all the (normalised) addresses and their +tag forms, compiled once
    per run for header_mentions."""
    forms = []
    for address in sorted(addresses):
        local, _, domain = address.encode().partition(b"@")
        forms.append(re.escape(local) + rb"(?:\+[^@\s<>]*)?@" + re.escape(domain))
    return re.compile(b"|".join(forms) or rb"(?!)")


def header_mentions(data: bytes, pattern: re.Pattern[bytes]) -> bool:
    """Does the header block name one of the addresses of `pattern` (in any case)? Only
    such messages are parsed; it also tells whether one mail-parser cannot read was for us."""
    end = _HEADER_END.search(data)
    return pattern.search((data[: end.start()] if end else data).lower()) is not None


def _message(mp, data: bytes) -> Message:
    msg = mp.message
    if msg is None or len(msg) == 0:
        raise ParseError("no header fields")

    def values(name: str) -> list[str]:
        return [str(v) for v in (msg.get_all(name) or [])]

    def addresses(*names: str) -> tuple[Address, ...]:
        out: dict[str, Address] = {}
        for name in names:
            for value in values(name):
                for display, addr in get_addresses(value, decode_names=True):
                    email = normalize_email(addr)
                    if email and email not in out:
                        out[email] = Address(email=email, name=(display or "").strip())
        return tuple(out.values())

    received = values("received")
    envelope = [a.email for a in addresses(*ENVELOPE_HEADERS)]
    for value in received:
        for m in _RECEIVED_FOR.finditer(value):
            email = normalize_email(m.group(1))
            if email:
                envelope.append(email)
    session = ""
    for value in received:  # newest first: the first one with a clause wins
        auth = _AUTH_SENDER.search(value)
        if auth:
            session = normalize_login(auth.group(1))
            break

    senders = addresses("from") or addresses("sender")
    message_id = normalize_message_id(str(msg.get("message-id") or ""))
    date = mp.date
    if date is not None:
        date = date.replace(tzinfo=timezone.utc) if date.tzinfo is None else date.astimezone(timezone.utc)
    text = "\n".join(_iso2022(t) for t in mp.text_plain)
    html = "\n".join(_iso2022(t) for t in mp.text_html)
    return Message(
        identity=message_id or raw_identity(data),
        message_id=message_id,
        date=date,
        subject=str(mp.subject or "").strip(),
        sender=senders[0] if senders else None,
        to=addresses("to"),
        cc=addresses("cc"),
        bcc=addresses("bcc"),
        envelope_to=tuple(dict.fromkeys(envelope)),
        session_login=session,
        text=text,
        html=html,
        body_bytes=len(text.encode("utf-8", "surrogatepass")) + len(html.encode("utf-8", "surrogatepass")),
        attachments=tuple(_attachment(a) for a in mp.attachments),
        attached_messages=_attached_messages(msg),
        defects=tuple(sorted(mp.defects_categories)),
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


def _attached_messages(msg) -> tuple[bytes, ...]:
    """The raw bytes of each message/rfc822 part (not those nested inside another one)."""
    out: list[bytes] = []

    def walk(part) -> None:
        if part.get_content_type() in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                try:
                    out.append(payload[0].as_bytes())
                except Exception:  # a part the stdlib cannot serialise again: skip it
                    pass
            return
        if part.is_multipart():
            for sub in part.get_payload():
                walk(sub)

    walk(msg)
    return tuple(out)


def _attachment(a: dict) -> Attachment:
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


@lru_cache(maxsize=1)
def _html_renderer():
    """inscriptis and its configuration, loaded when a first HTML body is rendered (most runs
    render none)."""
    from inscriptis import get_text
    from inscriptis.css_profiles import CSS_PROFILES
    from inscriptis.model.config import ParserConfig

    config = ParserConfig(css=CSS_PROFILES["strict"], display_links=True)
    return lambda html: get_text(html, config)


_MAILTO_LINK = re.compile(r"\[([^\]\n]*)\]\(mailto:([^)\s?]*)[^)\s]*\)", re.I)
_OTHER_LINK = re.compile(r"\[([^\]\n]*)\]\((?:https?|ftp|cid|tel|file):[^)\s]*\)", re.I)


def html_to_text(html: str) -> str:
    """Render an HTML body as the text a reader sees: block elements on their own lines,
    tables as aligned columns. An address that survives only in a `mailto:` link is kept
    after the link text, as `text <address>`."""
    if not html.strip():
        return ""
    try:
        text = _html_renderer()(html)
    except Exception:  # lxml gives up on some broken markup: read it as tag-free text
        text = re.sub(r"<[^>]*>", " ", html)

    def mailto(m: re.Match[str]) -> str:
        label, address = m.group(1).strip(), m.group(2).strip()
        if not address or address.lower() in label.lower():
            return label
        return f"{label} <{address}>" if label else address

    text = _OTHER_LINK.sub(lambda m: m.group(1), _MAILTO_LINK.sub(mailto, text))
    return "\n".join(line.rstrip() for line in text.replace("\xa0", " ").splitlines())
