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
    """`message`, read from the MIME tree `tree`, with its ForwardParts. Of several attached
    messages none is read: the forward path needs only their number then (FWD-3)."""
    raw = attached_messages(tree)
    attached = (
        (_attached(raw[0]),)
        if len(raw) == 1
        else tuple(UnreadableMessage(reason="not read: one of several attached messages") for _ in raw)
    )
    parts = ForwardParts(html_text=html_to_text(message.html), attached=attached)
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
    # its HTML is read only where it has no text (FWD-1 reads the text first)
    html_text = html_to_text(message.html) if not message.text.strip() else ""
    return AttachedMessage(message=message, html_text=html_text, held_messages=len(attached_messages(tree)))
