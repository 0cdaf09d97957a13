"""mail-parser, imported when a first message is parsed (a rescan parses none): the entry
point and the header helpers that crmlog takes from it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from email.message import Message as MimeMessage
from functools import lru_cache
from typing import Any, NamedTuple


class MailParser(NamedTuple):
    parse_from_bytes: Callable[[bytes], Any]  # -> mailparser.MailParser
    get_addresses: Callable[..., list[tuple[str, str]]]  # (field value, decode_names=True)
    mime_header_view: Callable[[MimeMessage], tuple[Any, Any]]  # (header view, its charset)
    decode_header_part: Callable[[Any], str]  # an RFC 2047 header value (str or Header) as text


@lru_cache(maxsize=1)
def mail_parser() -> MailParser:
    import mailparser
    from mailparser.core import mime_header_view
    from mailparser.utils import decode_header_part, get_addresses

    logging.getLogger("mailparser").setLevel(logging.CRITICAL)  # it logs every odd part it meets
    return MailParser(mailparser.parse_from_bytes, get_addresses, mime_header_view, decode_header_part)
