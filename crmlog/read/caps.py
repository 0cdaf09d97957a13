"""Caps set before parsing: what a message may hold before mail-parser ever sees it.

mail-parser (and the stdlib parser under it) holds a message several times over while it reads
it: a 60 MB attachment cost 750 MB. So before parsing, on the raw bytes:

- the header block may be at most `header_bytes` long;
- at most `multiparts` distinct MIME boundaries (nesting and side-by-side containers) and at
  most `parts` body parts in all;
- a part over the attachment limit (LIM-2) that is not inline text is cut out of the bytes
  before parsing. Its size and SHA-256 are read while streaming over it (decoded, a few MB
  at a time), so the notice and the e-mail's attachment list still name it exactly;
- a big base64 attachment under the limit (over `extract_bytes` as sent) is cut out too and
  decoded here, once, instead of by the parser, which held it five times over (a 45 MB one
  cost 540 MB). Not where the message holds an attached message (the forward path reads
  attached messages whole), nor where its base64 is not clean: the parser has the last word;
- an inline text part whose encoded size is over `text_factor` times the body limit is cut
  out too: its text would be over the limit (LIM-1) whatever its encoding, so the message is
  rejected without reading it.

A message over a structural cap is unparseable (REJ-2), with the cap in its reason.
"""

from __future__ import annotations

import binascii
import hashlib
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from .headerblock import header_block_end, parse_headers

HEADER_BYTES = 4 << 20  # a 50,000-field header block is about 1.5 MB
MULTIPARTS = 100  # real mail nests a handful
PARTS = 10_000
TEXT_FACTOR = 8  # encoded text over 8x the body limit cannot decode to less than the limit
EXTRACT_BYTES = 1 << 20  # a base64 attachment bigger than this as sent is decoded here
_CHUNK = 4 << 20

_BOUNDARY = re.compile(rb'boundary\s*=\s*(?:"([^"\r\n]{1,200})"|([^\s;"]{1,200}))', re.I)
_BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
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
    extract_bytes: int = EXTRACT_BYTES


@dataclass(frozen=True, slots=True)
class CutPart:
    """An attachment cut out of the bytes before parsing: its header block as sent (the parser
    names it from that), its decoded size and SHA-256, and its decoded bytes when it is under
    the limit and kept (None: over the limit, LIM-2)."""

    header: bytes
    size: int
    sha256: str
    data: bytes | None = None


@dataclass(frozen=True, slots=True)
class Trimmed:
    """The bytes to parse, and what was cut out of them."""

    data: bytes
    cut: tuple[CutPart, ...] = ()
    text_cut: int = 0  # encoded bytes of inline text cut out (LIM-1)


def trim(data: bytes, caps: Caps) -> Trimmed:
    """Apply the caps to the raw bytes of a message."""
    header_end = header_block_end(data)
    if (header_end if header_end is not None else len(data)) > caps.header_bytes:
        raise OverCap(f"the header block is over the {caps.header_bytes:,}-byte cap")
    smallest = min(caps.attachment_bytes, caps.text_factor * caps.body_bytes, caps.extract_bytes)
    if len(data) <= smallest and data.count(b"\n--") + data.count(b"\r--") < caps.multiparts:
        # the common case, in microseconds: no part can be cut, and with so few lines that
        # could be delimiters (a delimiter starts a line, which ends in LF, CRLF or a lone CR)
        # there can be no more parts or multiparts than that
        return Trimmed(data)
    delimiters, attached_message = _delimiters(data, header_end, caps)
    if len(data) <= smallest or not delimiters:
        return Trimmed(data)

    keep: list[memoryview] = []
    cut: list[CutPart] = []
    text_cut = 0
    view = memoryview(data)
    done = 0  # data[:done] is decided on
    for (at, start, closing), (end, _, _) in itertools.pairwise(delimiters):
        if closing or end - start <= smallest:
            continue  # an epilogue, or a part too small to cut
        part = _cut(data, start, end, caps, extract=not attached_message)
        if part is None:
            continue
        if isinstance(part, int):
            text_cut += part
        else:
            cut.append(part)
        keep.append(view[done:at])  # the part goes with its delimiter line: one part fewer
        done = end
    if done == 0:
        return Trimmed(data)
    keep.append(view[done:])
    return Trimmed(b"".join(keep), tuple(cut), text_cut)


def _delimiters(data: bytes, header_end: int | None, caps: Caps) -> tuple[list[tuple[int, int, bool]], bool]:
    """Every delimiter line of every multipart, as (start, end, closing), in order, and whether
    the message holds an attached message. Found from
    the header blocks down, as a parser meets them: the message's own header block names its
    boundary, the delimiter lines of a boundary open parts, and each part's header block (or,
    for an attached message, the header block of the message in it) may name another. Only
    header blocks are searched with a pattern; delimiter lines are found with bytes.find."""
    if header_end is None:
        return [], False
    found: list[tuple[int, int, bool]] = []
    attached_message = False
    boundaries: set[bytes] = set()
    todo = [(0, header_end)]  # header blocks to read: (start, end)
    while todo:
        start, end = todo.pop()
        m = _BOUNDARY.search(data, start, end)
        ctype = _CONTENT_TYPE.search(data, start, end)
        if ctype and ctype.group(1).lower().startswith(b"message/"):
            attached_message = True
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
    return sorted(found), attached_message


def _header_end(data: bytes, start: int, caps: Caps) -> int | None:
    """The end of the header block that starts at `start` (within the cap), or None."""
    window = 4096
    while True:
        end = header_block_end(data[start : start + window])
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
        closing = data[j : j + 2] == b"--"
        k = j + 2 if closing else j
        while data[k : k + 1] in (b" ", b"\t"):
            k += 1
        eol = data[k : k + 2]
        line_end = k + 2 if eol == b"\r\n" else k + 1 if eol[:1] in (b"\n", b"\r") else k if k >= len(data) else -1
        if line_end >= 0 and (i == 0 or data[i - 1 : i] in (b"\n", b"\r")):
            out.append((i, line_end, closing))
        i = data.find(needle, j)
    return out


def _cut(data: bytes, start: int, end: int, caps: Caps, *, extract: bool) -> CutPart | int | None:
    """The part in data[start:end] (its header block, then its body), if it is to be cut out:
    a CutPart for an attachment, the encoded size for inline text too big to log; else None."""
    head_end = _header_end(data, start, caps)
    if head_end is None or head_end > end:
        return None
    headers = parse_headers(data[start:head_end])
    ctype = headers.get_content_type()
    if ctype.startswith(("multipart/", "message/")):
        return None
    disposition = str(headers.get("content-disposition") or "").split(";")[0].strip().lower()
    encoding = str(headers.get("content-transfer-encoding") or "").strip().lower()
    body_end = _before_delimiter(data, end)
    if ctype.startswith("text/") and disposition != "attachment":
        size = body_end - head_end
        return size if size > caps.text_factor * caps.body_bytes else None
    # at most this many bytes decoded (base64 counted; the other encodings never grow)
    most = _base64_size(data, head_end, body_end) if encoding == "base64" else body_end - head_end
    # decoded bytes are kept only while they may be kept: a clean base64 attachment with a
    # file name, big enough to be worth it, and under the limit so far
    keeping = (
        extract
        and encoding == "base64"
        and body_end - head_end > caps.extract_bytes
        and bool(headers.get_filename())
        and most <= caps.attachment_bytes + 2
    )
    if not keeping and most <= caps.attachment_bytes:
        return None  # cannot be over the limit: the parser reads it
    digest, size, kept = hashlib.sha256(), 0, []
    for chunk, clean in _decoded(data, head_end, body_end, encoding):
        digest.update(chunk)
        size += len(chunk)
        keeping = keeping and clean and size <= caps.attachment_bytes
        if keeping:
            kept.append(chunk)
    header = data[start:head_end]
    if size > caps.attachment_bytes:
        return CutPart(header=header, size=size, sha256=digest.hexdigest())
    if keeping:
        return CutPart(header=header, size=size, sha256=digest.hexdigest(), data=b"".join(kept))
    return None


def _base64_size(data: bytes, start: int, end: int) -> int:
    """What the base64 in data[start:end] decodes to, at most (counted, not decoded)."""
    spaces = sum(data.count(c, start, end) for c in (b"\r", b"\n", b" ", b"\t"))
    return (end - start - spaces) * 3 // 4


def _before_delimiter(data: bytes, end: int) -> int:
    """The line break before a delimiter line belongs to the delimiter (RFC 2046)."""
    if data[end - 2 : end] == b"\r\n":
        return end - 2
    return end - 1 if data[end - 1 : end] == b"\n" else end


def _decoded(data: bytes, start: int, end: int, encoding: str) -> Iterator[tuple[bytes, bool]]:
    """A part's body, data[start:end], decoded a few MB at a time: (bytes, clean) pairs, where
    clean says the base64 held nothing but its alphabet, white space and final padding (the
    only kind decoded here for keeping: the parser reads anything else its own way)."""
    carry = b""
    view = memoryview(data)
    for pos in range(start, end, _CHUNK):
        chunk = bytes(view[pos : min(pos + _CHUNK, end)])
        last = pos + _CHUNK >= end
        clean = True
        if encoding == "base64":
            chunk = carry + chunk.translate(None, b" \t\r\n")
            whole = len(chunk) - len(chunk) % 4
            chunk, carry = chunk[:whole], chunk[whole:]
            body = chunk.rstrip(b"=") if last else chunk
            clean = not body.translate(None, _BASE64) and len(chunk) - len(body) <= 2 and not (last and carry)
            try:
                chunk = binascii.a2b_base64(chunk)
            except binascii.Error:
                chunk, clean = b"", False
        elif encoding == "quoted-printable":
            chunk = carry + chunk
            cut = len(chunk) if last else chunk.rfind(b"\n") + 1
            chunk, carry = binascii.a2b_qp(chunk[:cut]), chunk[cut:]
        yield chunk, clean
