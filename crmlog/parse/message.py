"""Bytes to a frozen Message, and HTML to text. The only module that imports mail-parser
and inscriptis."""

from __future__ import annotations

import base64
import binascii
import logging
import re
from dataclasses import replace
from datetime import UTC
from email.message import Message as MimeMessage
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime
from functools import lru_cache

from ..model import Address, Attachment, Message, OversizedPart, normalize_email, normalize_message_id, raw_identity
from ..read.caps import Caps, CutPart, OverCap, Trimmed, trim
from ..read.headerblock import BOM, header_block

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
# What a delivery agent writes into the copy it delivers (never in a sender's own Sent copy).
DELIVERY_HEADERS = ("delivered-to", "x-original-to", "envelope-to", "x-envelope-to")
ADDRESS_HEADERS = ("to", "cc", "bcc", *ENVELOPE_HEADERS)  # with Received `for`: ADDR-2
_RECEIVED_FOR = re.compile(r"\bfor\s+<?([^\s<>;()\"]+@[^\s<>;()\"]+?)>?\s*(?:;|$|\()", re.I)


@lru_cache(maxsize=1)
def _mailparser():
    """mail-parser, imported when a first message is parsed (a rescan parses none)."""
    import mailparser
    from mailparser.core import mime_header_view
    from mailparser.utils import decode_header_part, get_addresses

    logging.getLogger("mailparser").setLevel(logging.CRITICAL)  # it logs every odd part it meets
    return mailparser, get_addresses, mime_header_view, decode_header_part


class ParseError(Exception):
    """The bytes are not a message we can read (REJ-2). `partial` holds what its header block
    still tells (identity, Message-ID, sender, date, subject), for the rejection record."""

    def __init__(self, reason: str, partial: Message | None = None):
        super().__init__(reason)
        self.partial = partial


def parse(data: bytes, caps: Caps | None = None) -> Message:
    """Parse raw message bytes; every failure inside the parser becomes a ParseError. With
    `caps`, the raw bytes are held to them first (caps.py): over a structural cap is a
    ParseError, parts over a size limit are cut out and reported on the Message."""
    if data.startswith(BOM):
        data = data[3:]  # a UTF-8 BOM before the headers hides the first header name
    if not data or data.isspace():  # (strip() would copy the whole message)
        raise ParseError("the message is empty")
    trimmed = Trimmed(data)
    try:
        if caps is not None:
            trimmed = trim(data, caps)
        mp = _mailparser()[0].parse_from_bytes(trimmed.data)
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
    return message


def _cut_part(cut: CutPart) -> Attachment | OversizedPart:
    """A part that the caps cut out, named as mail-parser names the attachments it reads (the
    same header view and decoding): kept (its bytes decoded by the caps) or over the limit."""
    view, _ = _mailparser()[2](BytesHeaderParser(policy=compat32).parsebytes(cut.header))
    filename = _mailparser()[3](view.get_filename())
    ctype = view.get_content_type()
    if cut.data is None:
        return OversizedPart(filename=filename, content_type=ctype, size=cut.size, sha256=cut.sha256)
    return Attachment(filename=filename, content_type=ctype, data=cut.data)


def _headers_only(data: bytes) -> Message | None:
    """The little a broken message's header block tells, read by the stdlib alone."""
    try:
        h = BytesHeaderParser(policy=compat32).parsebytes(data)
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
            subject=_subject(h)[:500],
            sender=Address(email=email) if email else None,
            defects=("unparseable",),
        )
    except Exception:  # the stdlib gave up too: nothing to tell
        return None


class HeaderFilter:
    """Is a message addressed to a logging address (ADDR-2)? Decided from the header block
    alone, with no MIME parse, and exactly as parse() + rules.decide decide it:

    1. A quick test on the bytes: every atom of the address (the parts between its dots and
       its @) stands somewhere in the lower-cased header block. Whatever form an address
       takes in a header (+tag, any case, comments and folding between its parts, a group,
       an obsolete route), the parser builds it from those atoms verbatim, so a message
       that fails this test is not addressed to it: no false negatives. Most fail here.
    2. For the rest, the header block is read by the stdlib header parser and the fields
       that could hold an address of ours go through the same extraction as parse() uses
       (`_field_addresses`, `_received_for`), so the answer is the full rule's answer.
    """

    def __init__(self, addresses: frozenset[str]):
        self.addresses = addresses
        # the local part first (the rarest atom as a rule), then the domain's labels, longest
        # first; of an atom with non-ASCII letters (EAI), its ASCII runs, which any encoding of
        # the header keeps as they are
        self._atoms = [
            tuple(
                dict.fromkeys(
                    run
                    for atom in [*local.split("."), *sorted(domain.split("."), key=len, reverse=True)]
                    for run in _NON_ASCII.split(atom)
                    if run
                )
            )
            for local, _, domain in (address.rpartition("@") for address in sorted(addresses))
        ]
        self._byte_atoms = [tuple(a.encode() for a in atoms) for atoms in self._atoms]

    def could_be_addressed(self, head: bytes) -> bool:
        """Step 1 only: False means certainly not addressed."""
        lowered = head.lower()
        if not lowered.isascii():
            for upper, lower in _LOWER_TO_ASCII:  # non-ASCII letters whose lower case is ASCII
                lowered = lowered.replace(upper, lower)
        for atoms in self._byte_atoms:
            for atom in atoms:
                if atom not in lowered:
                    break
            else:
                return True
        return False

    def _may_hold(self, value) -> bool:
        if not isinstance(value, str):
            return True  # a field with 8-bit bytes: let the extraction decide
        lowered = value.lower()
        return any(all(atom in lowered for atom in atoms) for atoms in self._atoms)

    def __call__(self, head: bytes) -> bool:
        """Is the message whose header block (or whole bytes) is `head` addressed to us?"""
        head = header_block(head)
        if not self.could_be_addressed(head):
            return False
        try:
            fields = BytesHeaderParser(policy=compat32).parsebytes(head)
        except Exception:  # the full parse fails too: let it, and reject the message (REJ-2)
            return True
        for name in ADDRESS_HEADERS:
            for value in fields.get_all(name) or ():
                if self._may_hold(value) and any(a.email in self.addresses for a in _field_addresses(value)):
                    return True
        return any(
            self._may_hold(value) and not self.addresses.isdisjoint(_received_for(str(value)))
            for value in fields.get_all("received") or ()
        )


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_LOWER_TO_ASCII = tuple((c.encode(), c.lower().encode()) for c in ("\u212a", "\u0130"))  # K (kelvin), I with dot


def _field_addresses(value) -> list[Address]:
    """The addresses of one address header field (as the stdlib parser gives it: a str, or a
    Header where it holds 8-bit bytes), normalised (ADDR-1). The one extraction that parse(),
    mail-parser (for the first field of each name) and HeaderFilter all use. A field that is
    one plain address (`a@b.example`, `<a@b.example>`), as servers write Delivered-To and
    X-Original-To, is read without mail-parser's general parser, to the same result."""
    if isinstance(value, str):
        plain = _PLAIN_ADDRESS.fullmatch(value)
        if plain:
            return _addresses_of([("", plain.group(1))])
    return _addresses_of(_mailparser()[1](value, decode_names=True))


# one address and nothing else: a dot-atom local part (no quotes, comments or spaces)
_PLAIN_ADDRESS = re.compile(
    r"[ \t]*<?([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)>?[ \t]*"
)


def _addresses_of(pairs) -> list[Address]:
    out = []
    for display, addr in pairs:
        email = normalize_email(addr)
        if email:
            out.append(Address(email=email, name="" if display == addr else (display or "").strip()))
    return out


def _received_for(value: str) -> list[str]:
    """The addresses of the `for <...>` clauses of one Received field."""
    return [e for e in (normalize_email(m.group(1)) for m in _RECEIVED_FOR.finditer(value)) if e]


_FOLD = re.compile(r"\r?\n(?=[ \t])")


def _unfold(value: str) -> str:
    """A raw header value as one line (RFC 5322 2.2.3: a line break before white space is
    folding, not content)."""
    return _FOLD.sub("", value) if "\n" in value else value


def _subject(msg: MimeMessage) -> str:
    """The first Subject, unfolded as written and then decoded (RFC 2047 words, or 8-bit
    bytes as the stdlib hands them over): mail-parser's own subject keeps the folding line
    breaks, and turns two Subject fields into the text of a Python list."""
    raw = next((value for name, value in msg.raw_items() if name.lower() == "subject"), None)
    if raw is None:
        return ""
    value = msg.policy.header_fetch_parse("subject", _unfold(raw))  # compat32: a Header for 8-bit bytes
    return str(_mailparser()[3](value)).strip()


def _message(mp, data: bytes) -> Message:
    msg = mp.message
    if msg is None or len(msg) == 0:
        raise ParseError("no header fields")

    # mail-parser has read the first field of each of its address headers already, with the
    # same get_addresses call as _field_addresses: those are taken from it, the rest read here
    known = {"from": mp.from_, "to": mp.to, "cc": mp.cc, "bcc": mp.bcc, "delivered-to": mp.delivered_to}

    def addresses(*names: str) -> tuple[Address, ...]:
        out: dict[str, Address] = {}
        for name in names:
            for i, value in enumerate(msg.get_all(name) or ()):
                found = _addresses_of(known[name]) if i == 0 and name in known else _field_addresses(value)
                for a in found:
                    out.setdefault(a.email, a)
        return tuple(out.values())

    received = [str(v) for v in msg.get_all("received") or ()]
    envelope = [a.email for a in addresses(*ENVELOPE_HEADERS)]
    for value in received:
        envelope += _received_for(value)

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
        subject=_subject(msg),
        sender=senders[0] if senders else None,
        to=addresses("to"),
        cc=addresses("cc"),
        bcc=addresses("bcc"),
        envelope_to=tuple(dict.fromkeys(envelope)),
        received=tuple(received),
        auth_results=tuple(str(v) for v in msg.get_all("authentication-results") or ()),
        delivered=delivered,
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
