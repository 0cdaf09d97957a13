"""Where a message's header block ends, in its raw bytes: exactly where the stdlib parser (and
so mail-parser) ends it. The readers, the header filter and the caps all cut it here; and the
one way a header block is read into fields without mail-parser (`parse_headers`)."""

from __future__ import annotations

import re
from email.message import Message as HeaderFields
from email.parser import BytesHeaderParser
from email.policy import compat32

# A line ends in CRLF, LF or a lone CR, as the stdlib parser reads it; an empty line ends the
# header block.
_EOL = rb"(?:\r\n|\r(?!\n)|\n)"
_EMPTY_LINE = re.compile(_EOL + _EOL)
BOM = b"\xef\xbb\xbf"


def header_block_end(data: bytes) -> int | None:
    """The offset just past the empty line that ends the header block, exactly where the
    stdlib parser (and so mail-parser) ends it; None when `data` holds no empty line yet."""
    if data[:1] in (b"\n", b"\r"):
        return 2 if data[:2] == b"\r\n" else 1  # no header fields at all
    lf = data.find(b"\n\n")
    if lf >= 0 and data.find(b"\r", 0, lf) < 0:
        return lf + 2  # LF line ends: the common case, without a regex
    crlf = data.find(b"\r\n\r\n")
    if crlf >= 0 and data.count(b"\r", 0, crlf) == data.count(b"\n", 0, crlf) == data.count(b"\r\n", 0, crlf):
        return crlf + 4  # CRLF line ends throughout
    m = _EMPTY_LINE.search(data)  # mixed or CR-only line ends
    return m.end() if m else None


def header_block(data: bytes) -> bytes:
    """The header block of a message, as parse() reads it (a leading UTF-8 BOM dropped)."""
    if data.startswith(BOM):
        data = data[3:]
    end = header_block_end(data)
    return data if end is None else data[:end]


def parse_headers(data: bytes) -> HeaderFields:
    """The header fields of `data` (a header block, or a whole message whose body is left
    unread), as the stdlib reads them under compat32, the policy mail-parser parses with: a
    field holding 8-bit bytes comes back as an email.header.Header, not a str."""
    return BytesHeaderParser(policy=compat32).parsebytes(data)
