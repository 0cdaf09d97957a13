"""The parse stage's entry points: raw bytes to a frozen Message, read whole for the forward
path where the message takes it."""

from __future__ import annotations

from collections.abc import Collection

from ..model import ForwardParts, Message
from ..read.caps import Caps
from .forward_parts import with_forward_parts
from .mime import ParseError, read_mime


def parse(data: bytes, caps: Caps | None = None, *, forward_addresses: Collection[str] = ()) -> Message:
    """Parse raw message bytes (held to `caps` first, when given); a ParseError when they
    cannot be read. A message addressed to one of `forward_addresses` (ADDR-3: it takes the
    forward path) comes with its ForwardParts; any other with None there."""
    message, tree = read_mime(data, caps)
    if forward_addresses and not set(forward_addresses).isdisjoint(message.all_recipients()):
        return with_forward_parts(message, tree)
    return message


def parse_for_inspection(data: bytes) -> Message:
    """`crmlog forwards parse`: one raw message with its ForwardParts, whoever it is addressed
    to. Text that is not a message at all is read as a pasted body."""
    try:
        message, tree = read_mime(data)
    except ParseError:
        text = data.decode("utf-8", "replace")
        return Message(
            identity="", message_id="", date=None, subject="", sender=None, text=text, forward_parts=ForwardParts()
        )
    return with_forward_parts(message, tree)
