"""Hostile messages, built in code: each is a function returning the raw bytes of one message
addressed to the BCC address (so that it is parsed, not skipped). Used by the tests, which
bound each one's memory, and by benchmarks/hostile.py, which times them."""

from __future__ import annotations

import base64
import functools
import random

LOG = "log@crm.example.com"
HEAD = (
    "From: Anna <anna@ourco.example>\r\n"
    "To: Li Wei <li.wei@acme.example>\r\n"
    f"Bcc: {LOG}\r\n"
    "Date: Mon, 01 Jun 2026 09:00:00 +0200\r\n"
)


def _msg(message_id: str, headers: str, body: bytes) -> bytes:
    return (HEAD + f"Message-ID: <{message_id}@ourco.example>\r\n" + headers + "\r\n").encode() + body


def _noise(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


@functools.lru_cache(maxsize=2)  # 60 and 45 MB, built once per process
def attachment(mb: int = 60) -> bytes:
    """One attachment of `mb` MB (base64, 76-column lines) beside a short text."""
    data = base64.encodebytes(_noise(mb << 20, 1)).replace(b"\n", b"\r\n")
    body = (
        b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe file, as promised.\r\n"
        b"--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="big.bin"\r\n\r\n' + data + b"--b1--\r\n"
    )
    return _msg(
        "attachment", 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\nSubject: big file\r\n', body
    )


def big_body(mb: int = 3) -> bytes:
    line = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n"
    return _msg(
        "body",
        "Subject: long letter\r\nContent-Type: text/plain; charset=us-ascii\r\n",
        line * ((mb << 20) // len(line) + 1),
    )


def recipients(n: int = 10_000) -> bytes:
    to = ",\r\n ".join(f"Person {i} <p{i}@customer{i % 97}.example>" for i in range(n))
    return _msg("recipients", f"Subject: to everyone\r\nCc: {to}\r\n", b"Hello all\r\n")


def nested(depth: int = 5_000) -> bytes:
    """Multiparts inside multiparts, `depth` deep."""
    opening = b"".join(
        b'--n%d\r\nContent-Type: multipart/mixed; boundary="n%d"\r\n\r\n' % (i, i + 1) for i in range(depth)
    )
    closing = b"".join(b"--n%d--\r\n" % i for i in range(depth, -1, -1))
    body = opening + b"--n%d\r\nContent-Type: text/plain\r\n\r\ndeep inside\r\n" % depth + closing
    return _msg(
        "nested", 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="n0"\r\nSubject: nested\r\n', body
    )


def many_parts(n: int = 20_000) -> bytes:
    """One multipart with `n` small parts side by side."""
    body = b"".join(b"--p\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i for i in range(n)) + b"--p--\r\n"
    return _msg("parts", 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="p"\r\nSubject: parts\r\n', body)


def header_fields(n: int = 50_000) -> bytes:
    fields = "".join(f"X-Field-{i}: value {i}\r\n" for i in range(n))
    return _msg("fields", "Subject: many fields\r\n" + fields, b"body\r\n")


def encoded_subject(n: int = 20_000) -> bytes:
    words = "\r\n ".join("=?utf-8?B?" + base64.b64encode(f"wörd{i} ".encode()).decode() + "?=" for i in range(n))
    return _msg("subject", f"Subject: {words}\r\n", b"body\r\n")


def endless_header(mb: int = 20) -> bytes:
    """A header block that never ends: `mb` MB of header fields and no empty line."""
    return _msg("endless", "Subject: endless\r\n", b"")[:-2] + b"X-More: and more and more\r\n" * ((mb << 20) // 27)


def nul_bytes() -> bytes:
    return _msg("nul", "Subject: nul\x00bytes\r\n", b"before\x00after\r\n" * 1000 + b"\x00" * 10_000)


def bom() -> bytes:
    return b"\xef\xbb\xbf" + _msg("bom", "Subject: with a BOM\r\n", b"Hello\r\n")


def no_headers() -> bytes:
    return b"\r\nJust a body, and the BCC address nowhere: " + LOG.encode() + b"\r\n"


def bcc_only_headerless() -> bytes:
    """No header block at all, only a line naming the address: the header filter skips it."""
    return LOG.encode() + b"\r\n"


HOSTILE = {
    "60 MB attachment": attachment,
    "45 MB attachment (under the limit)": lambda: attachment(45),
    "3 MB body": big_body,
    "10,000 recipients": recipients,
    "5,000-deep multiparts": nested,
    "20,000 parts": many_parts,
    "50,000 header fields": header_fields,
    "a 20 MB header block that never ends": endless_header,
    "subject of 20,000 encoded words": encoded_subject,
    "NUL bytes": nul_bytes,
    "UTF-8 BOM before the headers": bom,
    "no header fields": no_headers,
}
