"""Caps set before parsing: what a message may hold before mail-parser ever sees it.

mail-parser (and the stdlib parser under it) holds a message several times over while it reads
it: a 60 MB attachment cost 750 MB. So before parsing, on the raw bytes:

- the header block may be at most `header_bytes` long;
- at most `multiparts` distinct MIME boundaries (nesting and side-by-side containers) and at
  most `parts` body parts in all;
- a part over the attachment limit (LIM-2) that is not inline text is cut out of the bytes
  before parsing. Its size and SHA-256 are read while streaming over it (decoded, a few MB
  at a time), so the notice and the e-mail's attachment list still name it exactly;
- an inline text part whose encoded size is over `text_factor` times the body limit is cut
  out too: its text would be over the limit (LIM-1) whatever its encoding, so the message is
  rejected without reading it.

A message over a structural cap is unparseable (REJ-2), with the cap in its reason.
"""
from __future__ import annotations

import binascii
import hashlib
import re
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32

from .headerblock import header_block_end
from .model import OversizedPart

HEADER_BYTES = 4 << 20  # a 50,000-field header block is about 1.5 MB
MULTIPARTS = 100  # real mail nests a handful
PARTS = 10_000
TEXT_FACTOR = 8  # encoded text over 8x the body limit cannot decode to less than the limit
_CHUNK = 4 << 20

_BOUNDARY = re.compile(rb'boundary\s*=\s*(?:"([^"\r\n]{1,200})"|([^\s;"]{1,200}))', re.I)
_CONTENT_TYPE = re.compile(rb"^content-type:\s*([^\s;]+)", re.I | re.M)


class OverCap(Exception):
    """The message is over a structural cap: rejected `unparseable` with this reason."""


@dataclass(frozen=True, slots=True)
class Caps:
    attachment_bytes: int
    body_bytes: int
    header_bytes: int = HEADER_BYTES
    multiparts: int = MULTIPARTS
    parts: int = PARTS
    text_factor: int = TEXT_FACTOR


@dataclass(frozen=True, slots=True)
class Trimmed:
    """The bytes to parse, and what was cut out of them."""

    data: bytes
    oversized: tuple[OversizedPart, ...] = ()
    text_cut: int = 0  # encoded bytes of inline text cut out (LIM-1)


def trim(data: bytes, caps: Caps) -> Trimmed:
    """Apply the caps to the raw bytes of a message."""
    header_end = header_block_end(data)
    if (header_end if header_end is not None else len(data)) > caps.header_bytes:
        raise OverCap(f"the header block is over the {caps.header_bytes:,}-byte cap")
    smallest = min(caps.attachment_bytes, caps.text_factor * caps.body_bytes)
    if len(data) <= smallest and data.count(b"\n--") + data.count(b"\r--") < caps.multiparts:
        # the common case, in microseconds: no part can be over a limit, and with so few lines
        # that could be delimiters (a delimiter starts a line, which ends in LF, CRLF or a lone
        # CR) there can be no more parts or multiparts than that
        return Trimmed(data)
    delimiters = _delimiters(data, header_end, caps)
    if not delimiters:
        return Trimmed(data)
    if len(data) <= smallest:
        return Trimmed(data)

    keep: list[memoryview] = []
    oversized: list[OversizedPart] = []
    text_cut = 0
    view = memoryview(data)
    done = 0  # data[:done] is decided on
    for (at, start, closing), (end, _, _) in zip(delimiters, delimiters[1:]):
        if closing or end - start <= smallest:
            continue  # an epilogue, or a part too small to be over a limit
        cut = _oversized(data, start, end, caps)
        if cut is None:
            continue
        if isinstance(cut, int):
            text_cut += cut
        else:
            oversized.append(cut)
        keep.append(view[done:at])  # the part goes with its delimiter line: one part fewer
        done = end
    if done == 0:
        return Trimmed(data)
    keep.append(view[done:])
    return Trimmed(b"".join(keep), tuple(oversized), text_cut)


def _delimiters(data: bytes, header_end: int | None, caps: Caps) -> list[tuple[int, int, bool]]:
    """Every delimiter line of every multipart, as (start, end, closing), in order. Found from
    the header blocks down, as a parser meets them: the message's own header block names its
    boundary, the delimiter lines of a boundary open parts, and each part's header block (or,
    for an attached message, the header block of the message in it) may name another. Only
    header blocks are searched with a pattern; delimiter lines are found with bytes.find."""
    if header_end is None:
        return []
    found: list[tuple[int, int, bool]] = []
    boundaries: set[bytes] = set()
    todo = [(0, header_end)]  # header blocks to read: (start, end)
    while todo:
        start, end = todo.pop()
        m = _BOUNDARY.search(data, start, end)
        ctype = _CONTENT_TYPE.search(data, start, end)
        if ctype and ctype.group(1).lower().startswith(b"message/"):
            inner = _header_end(data, end, caps)
            if inner is not None:
                todo.append((end, inner))
            continue
        boundary = m and (m.group(1) or m.group(2))
        if not boundary or boundary in boundaries:
            continue
        boundaries.add(boundary)
        if len(boundaries) > caps.multiparts:  # say how many there are, as a parser would find them
            n = len({m.group(1) or m.group(2) for m in _BOUNDARY.finditer(data)})
            raise OverCap(f"{n:,} MIME multiparts, over the cap of {caps.multiparts:,}")
        lines = _delimiter_lines(data, boundary)
        found += lines
        if len(found) > caps.parts:
            raise OverCap(f"{len(found):,} MIME parts, over the cap of {caps.parts:,}")
        for _, line_end, closing in lines:
            part_end = None if closing else _header_end(data, line_end, caps)
            if part_end is not None:
                todo.append((line_end, part_end))
    return sorted(found)


def _header_end(data: bytes, start: int, caps: Caps) -> int | None:
    """The end of the header block that starts at `start` (within the cap), or None."""
    window = 4096
    while True:
        end = header_block_end(data[start:start + window])
        if end is not None:
            return start + end
        if window >= caps.header_bytes or start + window >= len(data):
            return None
        window *= 8


def _delimiter_lines(data: bytes, boundary: bytes) -> list[tuple[int, int, bool]]:
    """The lines `--boundary` and `--boundary--` (RFC 2046: at the start of a line, then only
    white space before the line end, LF, CRLF or a lone CR)."""
    out = []
    needle = b"--" + boundary
    i = data.find(needle)
    while i >= 0:
        j = i + len(needle)
        closing = data[j:j + 2] == b"--"
        k = j + 2 if closing else j
        while data[k:k + 1] in (b" ", b"\t"):
            k += 1
        eol = data[k:k + 2]
        line_end = k + 2 if eol == b"\r\n" else k + 1 if eol[:1] in (b"\n", b"\r") else k if k >= len(data) else -1
        if line_end >= 0 and (i == 0 or data[i - 1:i] in (b"\n", b"\r")):
            out.append((i, line_end, closing))
        i = data.find(needle, j)
    return out


def _oversized(data: bytes, start: int, end: int, caps: Caps) -> OversizedPart | int | None:
    """The part in data[start:end] (its header block, then its body), if it is over a limit:
    an OversizedPart for an attachment, the encoded size for inline text; else None."""
    head_end = header_block_end(data[start:min(end, start + caps.header_bytes)])
    if head_end is None:
        return None
    head_end += start
    headers = BytesHeaderParser(policy=compat32).parsebytes(data[start:head_end])
    ctype = headers.get_content_type()
    if ctype.startswith(("multipart/", "message/")):
        return None
    disposition = str(headers.get("content-disposition") or "").split(";")[0].strip().lower()
    encoding = str(headers.get("content-transfer-encoding") or "").strip().lower()
    if ctype.startswith("text/") and disposition != "attachment":
        size = _before_delimiter(data, end) - head_end
        return size if size > caps.text_factor * caps.body_bytes else None
    size, digest = _decoded_size_and_digest(data, head_end, end, encoding)
    if size <= caps.attachment_bytes:
        return None
    return OversizedPart(
        filename=str(headers.get_filename() or headers.get_param("name") or ""),
        content_type=ctype,
        size=size,
        sha256=digest,
    )


def _before_delimiter(data: bytes, end: int) -> int:
    """The line break before a delimiter line belongs to the delimiter (RFC 2046)."""
    if data[end - 2:end] == b"\r\n":
        return end - 2
    return end - 1 if data[end - 1:end] == b"\n" else end


def _decoded_size_and_digest(data: bytes, start: int, end: int, encoding: str) -> tuple[int, str]:
    """The decoded size and SHA-256 of a part's body, data[start:end], a few MB at a time."""
    end = _before_delimiter(data, end)
    digest, size, carry = hashlib.sha256(), 0, b""
    view = memoryview(data)
    for pos in range(start, end, _CHUNK):
        chunk = bytes(view[pos:min(pos + _CHUNK, end)])
        if encoding == "base64":
            chunk = carry + chunk.translate(None, b" \t\r\n")
            whole = len(chunk) - len(chunk) % 4
            chunk, carry = chunk[:whole], chunk[whole:]
            try:
                chunk = binascii.a2b_base64(chunk)
            except binascii.Error:
                chunk = b""
        elif encoding == "quoted-printable":
            chunk = carry + chunk
            cut = chunk.rfind(b"\n") + 1 if pos + _CHUNK < end else len(chunk)
            chunk, carry = binascii.a2b_qp(chunk[:cut]), chunk[cut:]
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()
