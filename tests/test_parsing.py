"""Bytes to Message: addresses (ADDR-1), envelope recipients (ADDR-2), SESSION, sizes, and
every file of the real corpus without a crash (REJ-2)."""

from __future__ import annotations

import time

import pytest
from conftest import LOG, Snapshot, corpus_files, corpus_or_skip, eml

from crmlog.model import normalize_email, normalize_message_id
from crmlog.parse import HeaderFilter, ParseError, parse
from crmlog.rules.authenticity import authenticated_login


@pytest.mark.parametrize(
    "raw, normal",
    [
        ("Log@CRM.Example.com", "log@crm.example.com"),
        ("log+acme@crm.example.com", "log@crm.example.com"),
        ("<LOG+x+y@crm.example.com>", "log@crm.example.com"),
        ("  Anna <anna@OurCo.example> ", "anna@ourco.example"),
        ("not an address", ""),
        ("", ""),
    ],
)
def test_addr_1_normalize_email(raw, normal):
    assert normalize_email(raw) == normal


def test_addr_1_rfc2047_names_decoded_and_addresses_normalised():
    m = parse(
        eml(
            to="=?utf-8?q?J=C3=B6rg_M=C3=BCller?= <Joerg+news@Beispiel.DE>",
            frm="=?gb2312?b?1cXI/Q==?= <zhang@Example.cn>",
        )
    )
    assert (m.to[0].email, m.to[0].name) == ("joerg@beispiel.de", "Jörg Müller")
    assert (m.sender.email, m.sender.name) == ("zhang@example.cn", "张三")


@pytest.mark.parametrize(
    "header",
    ["Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "Resent-To", "Resent-Cc", "Resent-Bcc"],
)
def test_addr_2_envelope_headers_are_recipients(header):
    m = parse(eml(headers={header: "LOG+tag@crm.example.com"}))
    assert LOG in m.envelope_to
    assert LOG in m.all_recipients()


def test_addr_2_received_for_clause_is_a_recipient():
    received = [
        "from mx.ourco.example by mail.crm.example.com (Postfix) with ESMTP id 1A2B\n\tfor <log@crm.example.com>; Mon, 1 Jun 2026 09:00:01 +0200",
        "by relay.example with SMTP for someone@else.example; Mon, 1 Jun 2026 09:00:00 +0200",
    ]
    m = parse(eml(headers={"Received": received}))
    assert m.envelope_to == ("log@crm.example.com", "someone@else.example")


def test_addr_2_every_delivered_to_counts_not_only_the_first():
    m = parse(eml(headers={"Delivered-To": ["anna@ourco.example", "log@crm.example.com"]}))
    assert set(m.envelope_to) == {"anna@ourco.example", LOG}


def test_session_received_values_kept_newest_first_as_written():
    # SESSION and SEC-4 read the trusted chain from these: order and clauses must survive
    received = [
        "from submit.ourco.example (submit.ourco.example [10.0.0.2])\n\tby mx.ourco.example (Postfix); Mon, 1 Jun 2026 09:00:02 +0200",
        "from laptop (unknown [198.51.100.7])\n\t(Authenticated sender: Anna)\n\tby submit.ourco.example (Postfix); Mon, 1 Jun 2026 09:00:01 +0200",
        "from x (x [192.0.2.1]) (Authenticated sender: older) by y; Mon, 1 Jun 2026 09:00:00 +0200",
    ]
    m = parse(eml(headers={"Received": received}))
    assert m.received == tuple(received)
    assert authenticated_login(m.received, frozenset({"mx.ourco.example", "submit.ourco.example"})) == "Anna"


def test_message_id_normalised_and_identity():
    m = parse(eml(message_id="  <Abc.123@OurCo.Example>"))
    assert m.message_id == "Abc.123@ourco.example" and m.identity == m.message_id
    assert normalize_message_id("abc.123@ourco.example") == normalize_message_id("<abc.123@OURCO.example>")


def test_once_1_identity_without_message_id_is_hash_of_bytes():
    data = eml(message_id=None)
    m = parse(data)
    assert m.message_id == "" and m.identity.startswith("sha256:") and len(m.identity) == 71
    assert parse(data).identity == m.identity
    assert parse(data + b"x").identity != m.identity


def test_folded_subject_is_one_line_and_an_encoded_line_break_is_kept():
    """A long Subject is folded by the sender's client; the line break is folding, not part
    of the subject (RFC 5322 2.2.3). One inside an encoded word is content and stays (SEC-5
    shows it escaped). Of two Subject fields the first counts."""
    long = "Quarterly pricing review for the northern region, with the revised volume discounts"
    assert b"\n " in eml(subject=long)  # the sample really is folded
    assert parse(eml(subject=long)).subject == long
    encoded = b"From: a@ourco.example\r\nSubject: =?utf-8?q?line=0A=20indented?=\r\n\r\nx\r\n"
    assert parse(encoded).subject == "line\n indented"
    eight_bit = "From: a@ourco.example\nSubject: Caf\xe9 [x]\n\tfolded\n\nx\n".encode()
    assert parse(eight_bit).subject == "Café [x]\tfolded"
    assert parse(b"From: a@ourco.example\nSubject: first\nSubject: second\n\nx\n").subject == "first"


def test_date_is_timezone_aware_utc():
    m = parse(eml(date="Mon, 01 Jun 2026 09:00:00 +0200"))
    assert m.date.isoformat() == "2026-06-01T07:00:00+00:00"


def test_lim_sizes_are_decoded_bytes_and_attachments_byte_for_byte():
    blob = bytes(range(256)) * 40
    m = parse(
        eml(
            body="x" * 5000 + "\n",
            attachments=[("a.bin", "application/octet-stream", blob), ("n.txt", "text/plain", b"caf\xc3\xa9\n")],
        )
    )
    assert m.body_bytes == 5001
    assert [(a.filename, a.content_type, a.data) for a in m.attachments] == [
        ("a.bin", "application/octet-stream", blob),
        ("n.txt", "text/plain", b"caf\xc3\xa9\n"),
    ]


@pytest.mark.parametrize("data", [b"", b"   \n\n", b"just some words without any header"])
def test_rej_2_unreadable_bytes_raise_parse_error_not_anything_else(data):
    with pytest.raises(ParseError):
        parse(data)


def test_addr_2_header_filter_sees_tagged_and_cased_addresses_in_headers_only():
    addressed = HeaderFilter(frozenset({LOG}))
    assert addressed(b"To: x\r\nBcc: LOG+acme@Crm.Example.com\r\n\r\nbody")
    assert not addressed(b"To: x\n\nlog@crm.example.com in the body")


def test_rej_2_every_real_corpus_file_parses_or_raises_parse_error():
    corpus_or_skip()
    files = corpus_files()
    assert len(files) > 800
    parsed = failed = 0
    slowest = 0.0
    for path in files:
        start = time.perf_counter()
        try:
            m = parse(path.read_bytes())
            assert m.identity
            parsed += 1
        except ParseError:
            failed += 1
        slowest = max(slowest, time.perf_counter() - start)
    print(f"corpus: {parsed} parsed, {failed} unreadable (ParseError), slowest {slowest:.3f}s")
    assert parsed > 850


def test_rej_2_every_real_corpus_message_goes_through_the_whole_rule_book():
    """Each corpus message, made addressed to us by taking its own first recipient as the
    BCC address and its sender as a user, runs through every rule without an exception."""
    from crmlog.model import Accepted, Rejected, Settings
    from crmlog.records import User
    from crmlog.rules.engine import decide

    corpus_or_skip()
    outcomes: dict[str, int] = {}
    for path in corpus_files():
        try:
            m = parse(path.read_bytes())
        except ParseError:
            continue
        recipients = m.all_recipients()
        if not recipients:
            continue
        users = (User(id=1, email=m.sender.email),) if m.sender else ()
        d = decide(m, Snapshot(users=users), Settings(bcc=(recipients[0],)))
        assert isinstance(d, (Accepted, Rejected))
        key = "accepted" if isinstance(d, Accepted) else str(d.code)
        outcomes[key] = outcomes.get(key, 0) + 1
    print("corpus through decide:", outcomes)
    assert outcomes.get("accepted", 0) > 200 and sum(outcomes.values()) > 750
