"""What the forward path reads beyond a message's text (ForwardParts): its HTML body rendered
as text, and each attached message (a forward as attachment) read into a Message. Prepared
here, in the parse stage, so that the rules parse nothing; only for messages that take the
forward path, so that the BCC path pays nothing for it."""

from __future__ import annotations

from dataclasses import replace
from email.message import Message as MimeMessage
from typing import cast

from ..model import AttachedMessage, ForwardParts, Message, UnreadableMessage, is_attached_message
from .html import html_to_text
from .mime import ParseError, read_mime


def with_forward_parts(message: Message, tree: MimeMessage) -> Message:
    """`message`, read from the MIME tree `tree`, with its ForwardParts."""
    parts = ForwardParts(
        html_text=html_to_text(message.html),
        attached=tuple(_attached(data) for data in attached_messages(tree)),
    )
    return replace(message, forward_parts=parts)


def attached_messages(tree: MimeMessage) -> tuple[bytes, ...]:
    """The raw bytes of each attached message (not those nested inside another one); a part
    the stdlib cannot serialise again is passed over."""
    out: list[bytes] = []

    def walk(part: MimeMessage) -> None:
        if is_attached_message(part.get_content_type()):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], MimeMessage):
                try:
                    out.append(payload[0].as_bytes())
                except Exception:  # a part the stdlib cannot serialise again: skip it
                    pass
            return
        if part.is_multipart():
            for sub in part.get_payload():
                walk(cast(MimeMessage, sub))  # a multipart's payload is its list of parts

    walk(tree)
    return tuple(out)


def _attached(data: bytes) -> AttachedMessage | UnreadableMessage:
    """One attached message, read whole; the messages inside it only counted (one of them
    makes the forward a thread, FWD-3)."""
    try:
        message, tree = read_mime(data)
    except ParseError as exc:
        return UnreadableMessage(reason=str(exc))
    return AttachedMessage(
        message=message, html_text=html_to_text(message.html), held_messages=len(attached_messages(tree))
    )
