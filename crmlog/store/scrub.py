"""Taking an erased address out of what is stored (LIFE-3): recipients dropped, the address
replaced by `[erased]` wherever it stands in a text. Pure: used by `contacts forget` on what is
stored, and by every later write on what a new message brings, so that no run puts an erased
address back into the store."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import lru_cache
from typing import Any

from .. import jsonio
from ..model import Message, normalize_email
from ..records import Email, EmailBody, ForwardInfo, Notice, Rejection, RunMessage
from .project import Logged

ERASED = "[erased]"


# Before the address: no letter, digit, dot or plus, which would make it the end of another
# local part (`eli@` is not `li@`); a hyphen may stand there (`quote-li@acme.example.pdf`, a
# file name). After it: no letter, digit or hyphen; a dot may (a sentence's end, a file's
# extension), at the price of `li@acme.example.org`, another address rarely met beside it.
_BEFORE = r"(?<![\w.+])"
_AFTER = r"(?![\w-])"


@lru_cache(maxsize=64)
def _pattern(addresses: tuple[str, ...]) -> re.Pattern[str] | None:
    """The addresses as whole addresses, in any case: with a `+tag` (ADDR-1), and with the @
    written as a URL or an HTML entity would (`li%40acme.example`, `li&#64;acme.example`); not
    as the end of another address (`eli@acme.example`)."""
    alternatives = []
    for address in sorted(set(addresses)):
        local, at, domain = address.partition("@")
        if at and local and domain:
            alternatives.append(re.escape(local) + r"(?:\+[^@\s\"<>]*)?(?:@|%40|&#0*64;|&#x0*40;)" + re.escape(domain))
    if not alternatives:
        return None
    return re.compile(rf"{_BEFORE}(?:{'|'.join(alternatives)}){_AFTER}", re.IGNORECASE)


def names_any(addresses: Iterable[str]) -> Callable[[Any], bool]:
    """Whether a stored document names one of the addresses, anywhere (as `_pattern` finds it)."""
    pattern = _pattern(tuple(addresses))

    def names(doc: Any) -> bool:
        return pattern is not None and pattern.search(jsonio.dumps(doc).decode("utf-8", "replace")) is not None

    return names


def scrub_text(text: str, addresses: Iterable[str]) -> str:
    pattern = _pattern(tuple(addresses))
    if pattern is None or not ("@" in text or "%40" in text or "&#" in text):
        return text
    return pattern.sub(ERASED, text)


def scrubbed_email(email: Email, addresses: tuple[str, ...]) -> Email:
    forward = email.forward
    if forward is not None:
        forward = ForwardInfo(
            note=scrub_text(forward.note, addresses),
            client=forward.client,
            forwarded_by=forward.forwarded_by,
            forwarded_at=forward.forwarded_at,
            subject=scrub_text(forward.subject, addresses),
        )
    return replace(
        email,
        contacts=tuple(c for c in email.contacts if c not in addresses),
        subject=scrub_text(email.subject, addresses),
        sender="" if email.sender in addresses else email.sender,
        forward=forward,
        attachments=tuple(replace(a, filename=scrub_text(a.filename, addresses)) for a in email.attachments),
    )


def scrubbed_body(body: EmailBody, addresses: tuple[str, ...]) -> EmailBody:
    return replace(
        body,
        text=scrub_text(body.text, addresses),
        html=scrub_text(body.html, addresses),
        from_name=scrub_text(body.from_name, addresses),
        to=tuple(x for x in body.to if x not in addresses),
        cc=tuple(x for x in body.cc if x not in addresses),
    )


def scrubbed_rejection(rejection: Rejection, addresses: tuple[str, ...]) -> Rejection:
    return replace(
        rejection,
        sender="" if rejection.sender in addresses else rejection.sender,
        subject=scrub_text(rejection.subject, addresses),
        reason=scrub_text(rejection.reason, addresses),
    )


def scrubbed_notice(notice: Notice, addresses: tuple[str, ...]) -> Notice:
    return replace(notice, detail=scrub_text(notice.detail, addresses))


def scrubbed_row(row: RunMessage, addresses: tuple[str, ...]) -> RunMessage:
    return replace(
        row,
        sender="" if row.sender in addresses else row.sender,
        subject=scrub_text(row.subject, addresses),
        reason=scrub_text(row.reason, addresses),
        contacts=tuple(c for c in row.contacts if c not in addresses),
    )


ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")


def addresses_in(texts: Iterable[str]) -> set[str]:
    """The address-like words of some texts, lower case (what may need scrubbing)."""
    return {m.group(0).lower().rstrip(".") for t in texts if "@" in t for m in ADDRESS.finditer(t)}


def erased_in(message: Message | None, texts: Iterable[str], is_forgotten: Callable[[str], bool]) -> tuple[str, ...]:
    """The erased addresses (LIFE-3) that a new message, or the texts made of it, would write
    into the store: its senders and recipients, and the addresses written in the texts; each
    as it stands and as crmlog compares it (ADDR-1)."""
    found = addresses_in(texts)
    if message is not None:
        found |= set(message.all_recipients())
        if message.sender is not None:
            found.add(message.sender.email)
    erased = set()
    for address in found:
        normal = normalize_email(address)
        if normal and is_forgotten(normal):
            erased |= {address, normal}
    return tuple(sorted(erased))


def logged_texts(logged: Logged) -> list[str]:
    e, b = logged.email, logged.body
    return [
        e.subject,
        e.sender,
        b.text,
        b.html,
        b.from_name,
        *b.to,
        *b.cc,
        *(a.filename for a in e.attachments),
        *((e.forward.note, e.forward.subject) if e.forward else ()),
        *(n.detail for n in logged.notices),
    ]


def scrubbed_logged(logged: Logged, addresses: tuple[str, ...]) -> Logged:
    return replace(
        logged,
        email=scrubbed_email(logged.email, addresses),
        body=scrubbed_body(logged.body, addresses),
        notices=tuple(scrubbed_notice(n, addresses) for n in logged.notices),
    )
