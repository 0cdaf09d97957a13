"""Find the one forwarded message inside a forward (FWD-1 to FWD-3).

`find_forward(message, forwarder=...)` returns a `Forwarded` or a `Rejected` with
`forward-not-recognized` (FWD-2) or `forward-is-thread` (FWD-3). It reads the message's text
(or its HTML rendered as text) line by line for the landmarks of forward_landmarks.py
(separator lines, header blocks, "On ... wrote:" lines), and the header values with
forward_values.py. The HTML rendered as text and the attached messages come read already,
in the message's ForwardParts (the parse stage prepares them).

The first landmark is the forward; what is above it is the forwarder's note; what follows
its header block is the forwarded body. Landmarks further down are the contact's quoted
history unless they start a second forward. Pure: no I/O, no clock.
"""

from __future__ import annotations

import textwrap
from dataclasses import replace

from ..model import (
    Address,
    AttachedMessage,
    Code,
    Forwarded,
    ForwardParts,
    Message,
    Rejected,
    UnreadableMessage,
    is_attached_message,
)
from .forward_landmarks import (
    HEADER_LOOKAHEAD,
    INVISIBLE,
    LANGS_OF_LABEL,
    Header,
    Landmark,
    Line,
    Separator,
    Wrote,
    landmarks,
    lines_of,
)
from .forward_layouts import CC, DATE, FROM, SUBJECT, TO
from .forward_values import addresses, is_forward_subject, parse_date, strip_prefixes


def _not_recognized(reason: str) -> Rejected:
    return Rejected(code=Code.FORWARD_NOT_RECOGNIZED, reason=reason, rules=("FWD-1", "FWD-2"))


def _thread(reason: str) -> Rejected:
    return Rejected(code=Code.FORWARD_IS_THREAD, reason=reason, rules=("FWD-1", "FWD-3"))


EXPECTED = (
    "expected one forwarded message: a separator such as '---------- Forwarded message "
    "---------' or '-----Original Message-----' followed by From and Date/Sent, Subject or To "
    "lines, or the original attached as a message (forward as attachment)"
)


NOT_PREPARED = ForwardParts()  # a message read without its forward parts: its text is all there is


def find_forward(message: Message, *, forwarder: str = "") -> Forwarded | Rejected:
    """The one forwarded message inside `message` (FWD-1), else why not (FWD-2, FWD-3).
    `forwarder` is the address that sent the forward: a forwarded message from it is the
    user's own reply (FWD-3)."""
    parts = message.forward_parts or NOT_PREPARED
    attached = parts.attached
    if len(attached) > 1:
        return _thread(f"{len(attached)} messages are attached: forward one reply at a time")
    # The text part first; the HTML part (rendered as text) where the text shows no forward.
    text = message.text if message.text.strip() else parts.html_text
    found = read_forward(text, forwarder=forwarder, outer_subject=message.subject)
    if not _recognized(found) and message.html and message.text.strip():
        from_html = read_forward(parts.html_text, forwarder=forwarder, outer_subject=message.subject)
        if _recognized(from_html):
            found = from_html
    if attached:
        if isinstance(found, Forwarded):
            return _thread("the message holds an attached message and an inline forward as well")
        return _attached_forward(attached[0], note_source=text, forwarder=forwarder)
    if isinstance(found, Forwarded):  # an inline forward carries the forward's own files
        return replace(
            found, attachments=tuple(a for a in message.attachments if not is_attached_message(a.content_type))
        )
    return found


def _recognized(found: Forwarded | Rejected) -> bool:
    """A forward header was found (whether or not it was then refused as a thread)."""
    return not (isinstance(found, Rejected) and found.code == Code.FORWARD_NOT_RECOGNIZED)


def _attached_forward(
    attached: AttachedMessage | UnreadableMessage, *, note_source: str, forwarder: str
) -> Forwarded | Rejected:
    if isinstance(attached, UnreadableMessage):
        return _not_recognized(f"the attached message cannot be read: {attached.reason}")
    inner = attached.message
    if inner.sender is None:
        return _not_recognized("the attached message has no From line")
    if attached.held_messages:
        return _thread("the attached message is itself a forward (it holds an attached message)")
    body = inner.text if inner.text.strip() else attached.html_text
    nested = _check_thread(sender=inner.sender, subject=inner.subject, body_lines=lines_of(body), forwarder=forwarder)
    if nested is not None:
        return nested
    note = note_source
    head = body.strip()[:200]
    if head and head in note:  # the parser also hands us the attached message's text
        note = note[: note.index(head)]
    return Forwarded(
        sender=inner.sender,
        to=inner.to,
        cc=inner.cc,
        subject=inner.subject,
        date=inner.date.isoformat() if inner.date else "",
        body=body.strip("\n"),
        note=note.strip(),
        client="attachment",
        attachments=tuple(a for a in inner.attachments if not is_attached_message(a.content_type)),
    )


def read_forward(text: str, *, forwarder: str = "", outer_subject: str = "") -> Forwarded | Rejected:
    """Read an inline forward out of a text body."""
    text = text.translate(INVISIBLE).replace("\r\n", "\n").replace("\r", "\n")
    lines = lines_of(text)
    marks = landmarks(lines)
    first = next(marks, None)
    if first is None:
        return _not_recognized("no forward header found: " + EXPECTED)
    if isinstance(first, Separator):
        second = next(marks, None)
        near = second is not None and _nonblank_between(lines, first.start + 1, second.start) <= HEADER_LOOKAHEAD
        if near and isinstance(second, Header):
            # iOS quotes the forwarded header below Apple's "Begin forwarded message:"
            client = "iphone-mail" if first.client == "apple-mail" and second.depth > 0 else first.client
            return _from_header(
                lines, second, note_end=first.start, client=client, forwarder=forwarder, outer_subject=outer_subject
            )
        if near and isinstance(second, Wrote):
            return _from_wrote(lines, second, note_end=first.start, forwarder=forwarder, outer_subject=outer_subject)
        return _not_recognized(
            f"found the separator {lines[first.start].text!r} but no From line with a Date, "
            "Subject or To line below it: the forward header was cut or edited"
        )
    if isinstance(first, Header):
        client = "outlook" if first.sent else "generic"  # Outlook writes "Sent:" where others write "Date:"
        return _from_header(
            lines, first, note_end=first.start, client=client, forwarder=forwarder, outer_subject=outer_subject
        )
    return _from_wrote(lines, first, note_end=first.start, forwarder=forwarder, outer_subject=outer_subject)


def _nonblank_between(lines: list[Line], a: int, b: int) -> int:
    return sum(1 for line in lines[a:b] if line.text)


def _from_header(
    lines: list[Line], header: Header, *, note_end: int, client: str, forwarder: str, outer_subject: str
) -> Forwarded | Rejected:
    f = header.fields
    senders = addresses(f[FROM])
    if not senders or not senders[0].email:
        named = f" names {senders[0].name!r} but" if senders else " has"
        return _not_recognized(
            f"the forwarded From line{named} no e-mail address: forward from a client that "
            "shows the address, or attach the original message"
        )
    languages = tuple(
        dict.fromkeys(code for label in header.labels for code in LANGS_OF_LABEL.get(label.casefold(), ()))
    )
    body_lines = _dequote(lines[header.end :], header.depth)
    subject = f.get(SUBJECT, "").strip() or strip_prefixes(outer_subject)
    problem = _check_thread(sender=senders[0], subject=f.get(SUBJECT, ""), body_lines=body_lines, forwarder=forwarder)
    if problem is not None:
        return problem
    return Forwarded(
        sender=senders[0],
        to=addresses(f.get(TO, "")),
        cc=addresses(f.get(CC, "")),
        subject=subject,
        date=parse_date(f.get(DATE, ""), languages),
        body=_text(body_lines),
        note=_text(lines[:note_end]),
        client=client,
    )


def _from_wrote(
    lines: list[Line], wrote: Wrote, *, note_end: int, forwarder: str, outer_subject: str
) -> Forwarded | Rejected:
    senders = addresses(wrote.who)
    rest = lines[wrote.end :]
    depth = next((line.depth for line in rest if line.text), wrote.depth)
    body_lines = _dequote(rest, max(depth, wrote.depth))
    problem = _check_thread(sender=senders[0], subject="", body_lines=body_lines, forwarder=forwarder)
    if problem is not None:
        return problem
    return Forwarded(
        sender=senders[0],
        to=(),
        cc=(),
        subject=strip_prefixes(outer_subject),
        date=parse_date(wrote.date, (wrote.language,)),
        body=_text(body_lines),
        note=_text(lines[:note_end]),
        client="quote-header",
    )


def _dequote(lines: list[Line], depth: int) -> list[Line]:
    """The lines `depth` quote levels up; one level more where every line is quoted (a
    client that quotes the whole forwarded body, as Windows Live Mail can)."""
    if any(line.text for line in lines) and all(line.depth > depth for line in lines if line.text):
        depth += 1
    return [Line(max(line.depth - depth, 0), line.text, line.raw) for line in lines]


def _text(lines: list[Line]) -> str:
    """The lines as text again: quote marks below the cut depth put back, common
    indentation removed (Outlook for Mac indents a forwarded body by four spaces)."""
    body = "\n".join(("> " * line.depth + line.raw).rstrip() for line in lines)
    return textwrap.dedent(body).strip()


def _check_thread(*, sender: Address, subject: str, body_lines: list[Line], forwarder: str) -> Rejected | None:
    """FWD-3: the forwarded message must be one reply written by someone else."""
    if forwarder and sender.email == forwarder:
        return _thread(
            f"the forwarded message was written by {forwarder}, who forwarded it: forward the "
            "contact's reply itself, not your own reply to it"
        )
    if subject and is_forward_subject(subject):
        return _thread(f"the forwarded message is itself a forward (its subject is {subject.strip()!r})")
    opening = next((i for i, line in enumerate(body_lines) if line.text), None)
    previous: Landmark | None = None
    for mark in landmarks(body_lines):
        if previous is None and mark.start == opening and not isinstance(mark, Wrote):
            return _thread("the forwarded message is itself a forward: it opens with a forward header")
        if isinstance(mark, Wrote) or mark.depth > 0:
            return None  # quoted history from here on: part of the contact's reply
        if isinstance(mark, Separator) and mark.kind == "original":
            return None
        if isinstance(mark, Header) and not isinstance(previous, Separator):
            return None  # Outlook's From/Sent block of the original below a reply
        if isinstance(mark, Separator) and mark.kind == "forward":
            return _thread("the message holds more than one forwarded message: forward one reply at a time")
        previous = mark
    return None


def inspect(message: Message) -> Forwarded | Rejected:
    """`crmlog forwards parse`: what the forward path finds in one message (read with its
    forward parts), with no database: FWD-3's "written by a user" means written by the sender
    of the forward."""
    return find_forward(message, forwarder=message.sender.email if message.sender else "")
