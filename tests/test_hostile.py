"""Hostile input: each message of tests/hostile.py goes through the real `crmlog ingest`, in a
process whose address space is capped, and must end logged or rejected with a reason. The caps
themselves (crmlog/caps.py) are checked table-driven on small limits.

The memory cap is what the tests hold: with it, the 60 MB attachment passes only because it is
cut out before mail-parser reads it (read whole, mail-parser held it in about 750 MB). Time is
measured by benchmarks/hostile.py; the timeout here only catches a hang."""

from __future__ import annotations

import base64
import hashlib
import json
import resource

import hostile
import pytest
from conftest import LOG, Cli, eml, make_maildir

from crmlog.parse import ParseError, parse
from crmlog.read.caps import Caps, OverCap, trim

ADDRESS_SPACE = 300 << 20  # the whole address space of the ingest process (Python itself: about 55 MB)
HANG = 300  # seconds: a hang, not a speed target


def capped_ingest(cli: Cli, box) -> dict:
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))

    proc = cli.process("ingest", box, "--json", preexec_fn=limit, timeout=HANG)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize(
    "name, outcome, detail",
    [
        ("60 MB attachment", "logged", None),
        ("45 MB attachment (under the limit)", "logged", None),
        ("3 MB body", "body-too-large", "3,145,"),
        ("10,000 recipients", "logged", None),
        ("5,000-deep multiparts", "unparseable", "5,001 MIME multiparts, over the cap of 100"),
        ("20,000 parts", "unparseable", "20,001 MIME parts, over the cap of 10,000"),
        ("50,000 header fields", "logged", None),
        ("a 20 MB header block that never ends", "unparseable", "header block is over the 4,194,304-byte cap"),
        ("subject of 20,000 encoded words", "logged", None),
        ("NUL bytes", "logged", None),
        ("UTF-8 BOM before the headers", "logged", None),
        ("no header fields", "skipped", None),
    ],
)
def test_rej_2_hostile_input_ends_logged_or_rejected_within_the_memory_cap(team, tmp_path, name, outcome, detail):
    box = make_maildir(tmp_path / "M", {"": [("1.host", hostile.HOSTILE[name]())]})
    summary = capped_ingest(team, box)
    assert summary["scanned"] == 1
    if outcome == "logged":
        assert summary["logged"] == 1, summary
    elif outcome == "skipped":
        assert summary["skipped"] == 1, summary
    else:
        assert summary["rejections"] == {outcome: 1}, summary
        (rejection,) = team.json("rejections")
        assert detail in rejection["reason"] and rejection["sender"] == "anna@ourco.example"


def test_lim_2_attachment_cut_before_parsing_is_named_exactly(team, tmp_path):
    raw = hostile.attachment(60)
    box = make_maildir(tmp_path / "M", {"": [("1.host", raw)]})
    assert capped_ingest(team, box)["notices"] == 1
    (email,) = team.json("emails", "list")
    expected = hashlib.sha256(hostile._noise(60 << 20, 1)).hexdigest()
    assert email["attachments"] == [
        {
            "filename": "big.bin",
            "content_type": "application/octet-stream",
            "size": 60 << 20,
            "sha256": expected,
            "stored": False,
        }
    ]
    (notice,) = team.json("notices")
    assert "'big.bin' (62,914,560 bytes)" in notice["detail"]
    assert team.attachments() == set()


def test_lim_3_attachment_just_under_the_limit_is_kept_byte_for_byte_within_the_memory_cap(team, tmp_path):
    box = make_maildir(tmp_path / "M", {"": [("1.host", hostile.attachment(45))]})
    assert capped_ingest(team, box)["notices"] == 0
    (email,) = team.json("emails", "list")
    (att,) = email["attachments"]
    assert (att["filename"], att["size"], att["stored"]) == ("big.bin", 45 << 20, True)
    assert team.attachments() == {att["sha256"]}
    team("emails", "show", email["id"], "--save-attachments", tmp_path / "saved")
    assert (tmp_path / "saved" / "big.bin").read_bytes() == hostile._noise(45 << 20, 1)


def test_bcc_1_hostile_recipients_become_contacts_but_never_the_bcc(team, tmp_path):
    box = make_maildir(tmp_path / "M", {"": [("1.host", hostile.recipients(10_000))]})
    capped_ingest(team, box)
    emails = {c["email"] for c in team.json("contacts", "list")}
    assert len(emails) == 10_001 and LOG not in emails  # 10,000 Cc and the To


# ---------------------------------------------------------------- the caps, on small limits

CAPS = Caps(attachment_bytes=1000, body_bytes=500)
BLOB = bytes(range(256)) * 8  # 2,048 bytes


def mixed(*parts: bytes, epilogue: bytes = b"") -> bytes:
    body = b"".join(b"--B\r\n" + p + b"\r\n" for p in parts) + b"--B--\r\n" + epilogue
    return (
        b"From: anna@ourco.example\r\nTo: li@acme.example\r\nBcc: " + LOG.encode() + b"\r\nMessage-ID: <c@x>\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="B"\r\n\r\n' + body
    )


TEXT = b"Content-Type: text/plain\r\n\r\nhello"


def attach(
    data: bytes, encoding: str = "base64", name: str = "f.bin", ctype: str = "application/octet-stream"
) -> bytes:
    payload = {"base64": base64.encodebytes(data).replace(b"\n", b"\r\n"), "8bit": data}.get(encoding)
    if encoding == "quoted-printable":
        import quopri

        payload = quopri.encodestring(data)
    return (
        f"Content-Type: {ctype}\r\nContent-Transfer-Encoding: {encoding}\r\n"
        f'Content-Disposition: attachment; filename="{name}"\r\n\r\n'
    ).encode() + payload.rstrip(b"\r\n")


@pytest.mark.parametrize(
    "data, sizes",
    [
        (mixed(TEXT, attach(BLOB)), [2048]),
        (mixed(TEXT, attach(BLOB, "quoted-printable")), [2048]),
        (mixed(TEXT, attach(BLOB[:1000])), []),  # at the limit: kept (LIM-3)
        (mixed(TEXT, attach(BLOB, "8bit", ctype="image/png")), [2048]),
        (mixed(TEXT, attach(BLOB), attach(BLOB[:100]), attach(BLOB * 2)), [2048, 4096]),
        (mixed(TEXT, epilogue=b"x" * 5000), []),  # a long epilogue is no part
    ],
)
def test_lim_2_parts_over_the_limit_are_cut_out_before_parsing_with_exact_size_and_digest(data, sizes):
    trimmed = trim(data, CAPS)
    assert [p.size for p in trimmed.cut] == sizes and all(p.data is None for p in trimmed.cut)
    message = parse(data, CAPS)
    for part in message.oversized:
        assert part.sha256 == hashlib.sha256((BLOB * 2)[: part.size]).hexdigest()
        assert part.filename == "f.bin"
    assert message.text == "hello"
    assert all(a.size <= 1000 for a in message.attachments)  # what is left is parsed as before
    assert len(message.attachments) + len(message.oversized) == data.count(b"attachment;")


def test_lim_2_kept_attachment_beside_a_cut_one_is_byte_for_byte():
    small = bytes(range(200))
    message = parse(mixed(TEXT, attach(BLOB), attach(small, name="small.bin")), CAPS)
    assert [(a.filename, a.data) for a in message.attachments] == [("small.bin", small)]


def test_lim_1_inline_text_far_over_the_body_limit_is_cut_and_rejected_unread():
    data = mixed(b"Content-Type: text/plain\r\n\r\n" + b"words " * 1000)  # 6,000 > 8 x 500
    message = parse(data, CAPS)
    assert message.oversized_text_bytes == 6000 and message.text == ""
    small = parse(mixed(b"Content-Type: text/plain\r\n\r\n" + b"words " * 100), CAPS)
    assert small.oversized_text_bytes == 0 and small.body_bytes == 600  # left to LIM-1 as read


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"Subject: x\r\n" + b"X-A: b\r\n" * 700_000 + b"\r\nbody", "header block is over the 4,194,304-byte cap"),
        (b"Subject: x\r\n" + b"X-A: b\r\n" * 700_000, "header block is over the 4,194,304-byte cap"),  # never ends
        (
            mixed(*[b'Content-Type: multipart/mixed; boundary="i%d"\r\n\r\n--i%d--' % (i, i) for i in range(101)]),
            "102 MIME multiparts",
        ),
        (hostile.nested(200).replace(b"\r\n", b"\r"), "201 MIME multiparts"),  # CR-only line ends
    ],
)
def test_rej_2_structural_caps_reject_before_parsing(data, reason):
    with pytest.raises(OverCap, match=reason):
        trim(data, Caps(attachment_bytes=1000, body_bytes=500))
    with pytest.raises(ParseError, match=reason):
        parse(data, Caps(attachment_bytes=1000, body_bytes=500))


def test_caps_leave_ordinary_mail_alone():
    data = eml(bcc=LOG, attachments=[("a.pdf", "application/pdf", b"%PDF" * 100)])
    assert trim(data, CAPS).data is data
    assert parse(data, CAPS) == parse(data)


# ---------------------------------------------------------------- big attachments under the limit

EXTRACT = Caps(attachment_bytes=1_000_000, body_bytes=100_000, extract_bytes=10_000)
PDF = bytes(range(256)) * 200  # 51,200 bytes: over extract_bytes as sent, under the limit


def b64_part(
    data: bytes, disposition: str, *, width: int = 76, eol: bytes = b"\r\n", ctype=b"application/pdf"
) -> bytes:
    text = base64.b64encode(data)
    lines = eol.join(text[i : i + width] for i in range(0, len(text), width))
    return (
        b"Content-Type: "
        + ctype
        + eol
        + b"Content-Transfer-Encoding: base64"
        + eol
        + disposition.encode("utf-8")
        + eol
        + eol
        + lines
    )


ATTACHED = b"Content-Type: message/rfc822\r\n\r\nFrom: li@acme.example\r\nSubject: inner\r\n\r\nhi"


@pytest.mark.parametrize(
    "parts, extracted",
    [
        ([TEXT, b64_part(PDF, 'Content-Disposition: attachment; filename="quote.pdf"')], 1),
        ([TEXT, b64_part(PDF, "Content-Disposition: attachment; filename*=utf-8''%E6%8A%A5%E4%BB%B7.pdf")], 1),
        ([TEXT, b64_part(PDF, 'Content-Disposition: attachment; filename="=?utf-8?B?5oql5Lu3LnBkZg==?="')], 1),
        ([TEXT, b64_part(PDF, 'Content-Disposition: attachment; filename="caf\u00e9.pdf"')], 1),  # raw 8-bit name
        (
            [
                TEXT,
                b64_part(PDF, 'Content-Disposition: inline; filename="a.png"', width=64, eol=b"\n", ctype=b"image/png"),
            ],
            1,
        ),
        ([TEXT, b64_part(PDF, 'Content-Disposition: attachment; filename="one-line.bin"', width=10**9)], 1),
        (
            [
                TEXT,
                b64_part(PDF, 'Content-Disposition: attachment; filename="a.pdf"'),
                b64_part(PDF[::-1], 'Content-Disposition: attachment; filename="b.pdf"'),
                attach(BLOB[:100], name="small.bin"),
            ],
            2,
        ),
        (
            [TEXT, b64_part(PDF[:-1], 'Content-Disposition: attachment; filename="unpadded.pdf"').rstrip(b"=")],
            0,
        ),  # left to the parser
        ([TEXT, b64_part(PDF, "Content-Disposition: attachment")], 0),  # no file name: mail-parser names it at random
        (
            [TEXT, b64_part(PDF, 'Content-Disposition: attachment; filename="f.pdf"'), ATTACHED],
            0,
        ),  # the forward path reads it whole
    ],
)
def test_lim_3_big_attachments_decoded_before_parsing_are_the_parsers_byte_for_byte(parts, extracted):
    data = mixed(*parts)
    trimmed = trim(data, EXTRACT)
    assert len([c for c in trimmed.cut if c.data is not None]) == extracted
    capped, plain = parse(data, EXTRACT), parse(data)
    named = all(b"filename" in p or not p.startswith(b"Content-Type: application") for p in parts)
    key = lambda a: (a.filename if named else "", a.content_type, a.data)  # noqa: E731  (mail-parser names a nameless one at random)
    assert sorted(map(key, capped.attachments)) == sorted(map(key, plain.attachments))
    assert capped.oversized == () and (capped.text, capped.html) == (plain.text, plain.html)
    if extracted:
        assert len(trimmed.data) < len(data) - extracted * len(PDF)  # not handed to the parser


def test_lim_2_a_big_attachment_over_the_limit_keeps_no_bytes():
    data = mixed(TEXT, b64_part(PDF * 30, 'Content-Disposition: attachment; filename="big.pdf"'))  # 1.5 MB > 1 MB
    (cut,) = trim(data, EXTRACT).cut
    assert (cut.size, cut.data) == (len(PDF) * 30, None)
    (dropped,) = parse(data, EXTRACT).oversized
    assert (dropped.filename, dropped.sha256) == ("big.pdf", hashlib.sha256(PDF * 30).hexdigest())
