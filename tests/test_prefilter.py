"""ADDR-2 decided from the header block alone (HeaderFilter) agrees exactly with the full rule
(parse() + the addressed test of rules.decide) on every message: the real corpus, a generated
corpus, table cases of every form an address takes in a header, and generated header blocks.
No false negative (a missed BCC is lost data), and no false positive (a parse for nothing)."""

from __future__ import annotations

import email
import sys

import pytest
from conftest import FWD, LOG, ROOT, corpus_files, corpus_or_skip
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from crmlog.parse import HeaderFilter, ParseError, parse
from crmlog.read.headerblock import header_block, header_block_end

sys.path.insert(0, str(ROOT / "benchmarks"))
import make_corpus

OURS = frozenset({LOG, FWD})


def full_rule(data: bytes, addresses: frozenset[str]) -> bool | None:
    """ADDR-2 as the rules decide it after a full parse; None where the message cannot be
    parsed (it is then rejected `unparseable` if the filter lets it through, REJ-2)."""
    try:
        message = parse(data)
    except ParseError:
        return None
    return bool(set(message.all_recipients()) & addresses)


def agree(data: bytes, addresses: frozenset[str] = OURS) -> tuple[bool, bool | None]:
    return HeaderFilter(addresses)(data), full_rule(data, addresses)


# ------------------------------------------------------------------ table


def msg(*headers: str, body: str = "Hello\n", eol: str = "\n") -> bytes:
    return (
        eol.join(["From: Anna <anna@ourco.example>", *headers, "Subject: hi", "Message-ID: <t@x>"]) + eol + eol + body
    ).encode()


CASES = [
    # (id, message, addressed)
    ("bcc", msg("To: li@acme.example", "Bcc: log@crm.example.com"), True),
    ("bcc-tag-case", msg("To: li@acme.example", "Bcc: LOG+Acme@Crm.Example.COM"), True),
    ("to-with-name", msg('To: "Log, CRM" <log@crm.example.com>'), True),
    ("cc-among-many", msg("To: li@acme.example", "Cc: a@b.example, Log <log@crm.example.com>, c@d.example"), True),
    ("folded-to", msg("To: li@acme.example,\n\tlog@crm.example.com"), True),
    ("folded-inside-address", msg("To: x <log\n @\n crm.example.com>"), True),
    ("comment-in-address", msg("To: log(the crm)@crm.example.com"), True),
    ("nested-comments", msg("To: log((a(b(c)d)e)f) @ crm . (x) example.com"), True),
    ("spaces-in-address", msg("To: log @ crm .example.com"), True),
    ("group", msg("To: sales: li@acme.example, log@crm.example.com;"), True),
    ("route", msg("To: <@relay.example:log@crm.example.com>"), True),
    ("delivered-to", msg("Delivered-To: log@crm.example.com", "To: li@acme.example"), True),
    ("x-original-to", msg("X-Original-To: log+deal7@crm.example.com", "To: li@acme.example"), True),
    ("envelope-to", msg("Envelope-To: log@crm.example.com", "To: li@acme.example"), True),
    ("x-envelope-to", msg("X-Envelope-To: <log@crm.example.com>", "To: li@acme.example"), True),
    ("resent-to", msg("Resent-To: log@crm.example.com", "To: li@acme.example"), True),
    ("resent-bcc", msg("Resent-Bcc: fwd@crm.example.com", "To: li@acme.example"), True),
    (
        "received-for",
        msg(
            "Received: from a by mx.crm.example.com\n\tfor <log@crm.example.com>; Mon, 1 Jun 2026 09:00:00 +0000",
            "To: li@acme.example",
        ),
        True,
    ),
    (
        "received-for-tag",
        msg("Received: by mx for log+x@crm.example.com; Mon, 1 Jun 2026 09:00:00 +0000", "To: li@acme.example"),
        True,
    ),
    (
        "second-delivered-to",
        msg("Delivered-To: anna@ourco.example", "Delivered-To: log@crm.example.com", "To: li@acme.example"),
        True,
    ),
    ("forward-address", msg("To: fwd@crm.example.com"), True),
    ("crlf", msg("To: li@acme.example", "Bcc: log@crm.example.com", eol="\r\n"), True),
    ("cr-only", msg("To: li@acme.example", "Bcc: log@crm.example.com", eol="\r"), True),
    ("8bit-name", b"From: a@b.example\nTo: Caf\xe9 <log@crm.example.com>\nSubject: x\n\nbody\n", True),
    ("bom", b"\xef\xbb\xbf" + msg("Bcc: log@crm.example.com", "To: li@acme.example"), True),
    (
        "long-header-block",
        msg(*[f"X-Pad-{i}: {'x' * 70}" for i in range(400)], "Bcc: log@crm.example.com", "To: li@acme.example"),
        True,
    ),
    # not addressed: the address stands where ADDR-2 does not look, or is another address
    ("in-body", msg("To: li@acme.example", body="Please bcc log@crm.example.com\n"), False),
    ("in-subject", msg("To: li@acme.example", "X-Note: stop writing to log@crm.example.com"), False),
    ("reply-to", msg("To: li@acme.example", "Reply-To: log@crm.example.com"), False),
    ("in-message-id", msg("To: li@acme.example", "References: <abc.log@crm.example.com>"), False),
    ("longer-domain", msg("To: log@crm.example.community"), False),
    ("longer-local", msg("To: blog@crm.example.com"), False),
    ("other-subdomain", msg("To: log@mail.crm.example.com"), False),
    ("quoted-local", msg('To: "log"@crm.example.com'), False),
    ("encoded-word-address", msg("To: =?utf-8?q?log=40crm=2Eexample=2Ecom?="), False),
    ("display-name-only", msg("To: log@crm.example.com <li@acme.example>"), False),
    ("after-header-block", b"From: a@b.example\nTo: li@acme.example\n\nBcc: log@crm.example.com\n", False),
    (
        "after-non-header-line",
        b"From: a@b.example\nTo: li@acme.example\nthis line ends the headers\nBcc: log@crm.example.com\n\nx\n",
        False,
    ),
    ("from-only", msg("To: li@acme.example").replace(b"anna@ourco.example", b"log@crm.example.com"), False),
]


@pytest.mark.parametrize("data, addressed", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_addr_2_header_filter_agrees_with_the_full_rule(data, addressed):
    assert agree(data) == (addressed, addressed)


def test_addr_2_header_block_ends_where_the_stdlib_parser_ends_it():
    for eol in ("\n", "\r\n", "\r"):
        data = msg("To: li@acme.example", "X-Long: a\n b", eol=eol) + b"Body: not a header\n"
        end = header_block_end(data)
        assert data[end:].startswith(b"Hello")
        whole = email.message_from_bytes(data)
        assert email.message_from_bytes(data[:end]).items() == whole.items()
    assert header_block_end(b"\nbody") == 1 and header_block_end(b"\r\nbody") == 2
    assert header_block_end(b"To: x\nSubject: still going") is None
    assert header_block(b"\xef\xbb\xbfTo: x\n\nbody") == b"To: x\n\n"


# ------------------------------------------------------------------ corpora


def test_addr_2_filter_agrees_with_the_full_rule_on_every_real_message():
    """Each message of the real corpus, with our addresses (nearly none is for us), with each
    of its own recipients as the logging address (each must be found), and with a recipient
    of the next message (must agree, found or not)."""
    corpus_or_skip()
    files = corpus_files()
    recipients: list[set[str] | None] = []  # what the full parse finds, once per file
    for path in files:
        try:
            recipients.append(set(parse(path.read_bytes()).all_recipients()))
        except ParseError:
            recipients.append(None)  # rejected `unparseable` if the filter lets it through
    checked = found = 0
    for n, path in enumerate(files):
        data, full = path.read_bytes(), recipients[n]
        trials = [OURS] + [frozenset({a}) for a in sorted(full or ())[:4]]
        trials += [frozenset({a}) for a in sorted(recipients[(n + 1) % len(files)] or ())[:1]]
        for addresses in trials:
            if full is not None:
                assert HeaderFilter(addresses)(data) == bool(full & addresses), (path, addresses)
            checked += 1
            found += full is not None and bool(full & addresses)
    assert found > 1500 and checked > 2500


def test_addr_2_filter_agrees_with_the_full_rule_on_a_generated_corpus():
    hits = 0
    for i in range(1000):
        _, _, data = make_corpus.message(i, addressed=0.3, seed=5)
        filtered, full = agree(data)
        assert filtered == full, i
        hits += filtered
        assert filtered == make_corpus.is_addressed(i, 0.3, seed=5), i  # the generator's own count
    assert 230 < hits < 380


def test_addr_2_near_misses_of_the_generated_corpus_are_skipped():
    seen = set()
    for i in range(40_000):
        rng_miss = make_corpus.near_miss(i, 0.03)
        if rng_miss and rng_miss not in seen:
            seen.add(rng_miss)
            _, _, data = make_corpus.message(i, 0.03)
            assert agree(data) == (False, False), rng_miss
    assert seen == set(make_corpus.NEAR_MISSES)


# ------------------------------------------------------------------ generated header blocks

cfws = st.sampled_from(["", " ", "\n ", "\t", " (c) ", "(a(b))", "\r\n\t"])
forms = st.builds(
    lambda local, tag, a, b, c, d, dom: f"{local}{tag}{a}@{b}{dom[0]}{c}.{d}{dom[1]}",
    st.sampled_from(["log", "LOG", "Log", "blog", "fwd", "lo g"]),
    st.sampled_from(["", "+acme", "+", "+a.b"]),
    cfws,
    cfws,
    cfws,
    cfws,
    st.sampled_from(
        [("crm", "example.com"), ("CRM", "Example.Com"), ("crm", "example.community"), ("crm2", "example.com")]
    ),
)
placement = st.sampled_from(
    [
        "To",
        "Cc",
        "Bcc",
        "Delivered-To",
        "X-Original-To",
        "Resent-Cc",
        "Reply-To",
        "Subject",
        "X-Other",
        "Received-for",
        "Comments",
    ]
)


@hsettings(max_examples=300, deadline=None)
@given(
    address=forms,
    where=placement,
    wrapper=st.sampled_from(["{}", "<{}>", "Name <{}>", "a@b.example, {}", "g: {};"]),
    eol=st.sampled_from(["\n", "\r\n"]),
)
def test_addr_2_filter_agrees_with_the_full_rule_on_generated_headers(address, where, wrapper, eol):
    value = wrapper.format(address)
    field = (
        f"Received: from a by b for {value}; Mon, 1 Jun 2026 09:00:00 +0000"
        if where == "Received-for"
        else f"{where}: {value}"
    )
    data = msg("To: li@acme.example", field, eol=eol)
    filtered, full = agree(data)
    assert full is not None and filtered == full
