"""Header fields read as values: the addresses of an address field (ADDR-1), the `for <...>`
clauses of a Received field, the `+deal-` sub-addresses among them (BCC-5), the Subject. One
reading, used by the full parse and by the header filter (ADDR-2) alike."""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.header import Header
from email.message import Message as MimeMessage

from ..model import Address, DealAddress, normalize_email, sub_address
from .mail_parser import mail_parser

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


def field_addresses(value: str | Header) -> list[Address]:
    """The addresses of one address header field (as the stdlib parser gives it: a str, or a
    Header where it holds 8-bit bytes), normalised (ADDR-1). The one extraction that parse(),
    mail-parser (for the first field of each name) and HeaderFilter all use."""
    return addresses_of(field_pairs(value))


def field_pairs(value: str | Header) -> list[tuple[str, str]]:
    """The (display name, address) pairs of one address header field, the addresses as
    written (field_addresses normalises them). A field that is one plain address
    (`a@b.example`, `<a@b.example>`), as servers write Delivered-To and X-Original-To, is
    read without mail-parser's general parser, to the same result."""
    if isinstance(value, str):
        plain = _PLAIN_ADDRESS.fullmatch(value)
        if plain:
            return [("", plain.group(1))]
    return mail_parser().get_addresses(value, decode_names=True)


# one address and nothing else: a dot-atom local part (no quotes, comments or spaces)
_PLAIN_ADDRESS = re.compile(
    r"[ \t]*<?([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)>?[ \t]*"
)


def addresses_of(pairs: Iterable[tuple[str, str]]) -> list[Address]:
    """(display name, address) pairs as mail-parser gives them, as normalised Addresses."""
    out = []
    for display, addr in pairs:
        email = normalize_email(addr)
        if email:
            out.append(Address(email=email, name="" if display == addr else (display or "").strip()))
    return out


def received_for(value: str) -> list[str]:
    """The addresses of the `for <...>` clauses of one Received field."""
    return [e for e in map(normalize_email, received_for_written(value)) if e]


def received_for_written(value: str) -> list[str]:
    """The addresses of the `for <...>` clauses of one Received field, as written."""
    return [m.group(1) for m in _RECEIVED_FOR.finditer(value)]


def deal_addresses(written: Iterable[str]) -> tuple[DealAddress, ...]:
    """BCC-5: the recipient addresses (as written) with a `+deal-` sub-address, each once.
    Only the tag is kept here: which of them are logging addresses is for the rules."""
    out: dict[DealAddress, None] = {}
    for raw in written:
        address, tag = sub_address(raw)
        if tag.startswith("deal-"):
            out[DealAddress(address=address, tag=tag)] = None
    return tuple(out)


_FOLD = re.compile(r"\r?\n(?=[ \t])")


def _unfold(value: str) -> str:
    """A raw header value as one line (RFC 5322 2.2.3: a line break before white space is
    folding, not content)."""
    return _FOLD.sub("", value) if "\n" in value else value


def subject(msg: MimeMessage) -> str:
    """The first Subject, unfolded as written and then decoded (RFC 2047 words, or 8-bit
    bytes as the stdlib hands them over): mail-parser's own subject keeps the folding line
    breaks, and turns two Subject fields into the text of a Python list."""
    raw = next((value for name, value in msg.raw_items() if name.lower() == "subject"), None)
    if raw is None:
        return ""
    value = msg.policy.header_fetch_parse("subject", _unfold(raw))  # compat32: a Header for 8-bit bytes
    return str(mail_parser().decode_header_part(value)).strip()
