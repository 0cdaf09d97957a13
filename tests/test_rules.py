"""The rule engine over values built in code: no files, no mocks. Test names cite rule ids."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import Snapshot, eml
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from crmlog.model import (
    Accepted,
    Address,
    Attachment,
    Code,
    DealAddress,
    Duplicate,
    LogPath,
    Message,
    NewContact,
    OversizedPart,
    Rejected,
    Settings,
    Skipped,
)
from crmlog.parse import parse
from crmlog.records import Contact, Deal, Seat, TeamInbox, User
from crmlog.rules.attribution import attribute, session_user
from crmlog.rules.contacts import is_never_logged
from crmlog.rules.engine import decide

LOG, FWD = "log@crm.example.com", "fwd@crm.example.com"
SETTINGS = Settings(bcc=(LOG,), forward=(FWD,), max_body_bytes=1000, max_attachment_bytes=100)

ANNA = User(
    id=1, email="anna@ourco.example", inboxes=(("anna@ourco.example", "2026-01-01T00:00:00+00:00"),), logins=("anna",)
)
BEN = User(id=2, email="ben@ourco.example", seat=Seat.READ_ONLY)
CARL = User(id=3, email="carl@ourco.example", personal_inbox_access=False)
DORA = User(id=4, email="dora@ourco.example", aliases=("d.sales@ourco.example",), logins=("dora",))
TEAM = Snapshot(
    users=(ANNA, BEN, CARL, DORA),
    team_inboxes=(TeamInbox(address="sales@ourco.example", connected_by="anna@ourco.example"),),
)


def addr(email: str, name: str = "") -> Address:
    return Address(email=email, name=name)


def message(**kw) -> Message:
    base = dict(
        identity="m1@ourco.example",
        message_id="m1@ourco.example",
        date=datetime(2026, 6, 1, 7, tzinfo=UTC),
        subject="Hello",
        sender=addr("anna@ourco.example"),
        to=(addr("li.wei@acme.example", "Li Wei"),),
        bcc=(addr(LOG),),
        text="hi",
        body_bytes=2,
    )
    base.update(kw)
    return Message(**base)


def accepted(decision) -> Accepted:
    assert isinstance(decision, Accepted), decision
    return decision


def rejected(decision, code: Code) -> Rejected:
    assert isinstance(decision, Rejected), decision
    assert decision.code == code
    return decision


# ------------------------------------------------------------------ ADDR


@pytest.mark.parametrize(
    "fields",
    [
        dict(to=(addr(LOG),), bcc=()),
        dict(cc=(addr(LOG),), bcc=()),
        dict(bcc=(addr(LOG),)),
        dict(bcc=(), envelope_to=(LOG,)),  # Delivered-To, X-Original-To, Received for, ...
    ],
    ids=["to", "cc", "bcc", "envelope"],
)
def test_addr_2_addressed_anywhere_is_considered(fields):
    d = decide(message(**fields), TEAM, SETTINGS)
    assert not isinstance(d, Skipped)


def test_addr_2_not_addressed_is_skipped():
    assert isinstance(decide(message(bcc=(), envelope_to=("other@crm.example.com",)), TEAM, SETTINGS), Skipped)


def test_addr_3_forwarding_address_takes_the_forward_path():
    assert accepted(decide(forward(), TEAM, SETTINGS)).path == LogPath.FORWARD


def test_addr_3_bcc_address_takes_the_bcc_path():
    assert accepted(decide(message(), TEAM, SETTINGS)).path == LogPath.BCC


# ------------------------------------------------------------------ ATTR and SESSION


@pytest.mark.parametrize(
    "sender, session, users, expect_user, expect_rule, ambiguous",
    [
        ("sales@ourco.example", None, TEAM.users, "anna@ourco.example", "ATTR-T", False),
        ("sales@ourco.example", DORA, TEAM.users, "dora@ourco.example", "ATTR-T", False),
        ("anna@ourco.example", None, TEAM.users, "anna@ourco.example", "ATTR-1", False),
        ("dora@ourco.example", None, TEAM.users, "dora@ourco.example", "ATTR-2", False),
        ("d.sales@ourco.example", None, TEAM.users, "dora@ourco.example", "ATTR-3", False),
    ],
    ids=["ATTR-T-connector", "ATTR-T-session-user", "ATTR-1", "ATTR-2", "ATTR-3"],
)
def test_attr_t_attr_1_attr_2_attr_3_single_match(sender, session, users, expect_user, expect_rule, ambiguous):
    a = attribute(sender, users, TEAM.team_inboxes, session)
    assert (a.user, a.rule, a.ambiguous) == (expect_user, expect_rule, ambiguous)


def test_attr_1_personal_inbox_wins_over_account_email():
    eve = User(id=5, email="shared@ourco.example")
    fred = User(id=6, email="fred@ourco.example", inboxes=(("shared@ourco.example", "2026-01-01T00:00:00+00:00"),))
    a = attribute("shared@ourco.example", (eve, fred), (), None)
    assert (a.user, a.rule) == ("fred@ourco.example", "ATTR-1")


SHARED = "shared@ourco.example"
U_LATE = User(id=1, email="late@ourco.example", inboxes=((SHARED, "2026-03-01T00:00:00+00:00"),))
U_EARLY = User(id=2, email="early@ourco.example", inboxes=((SHARED, "2026-01-01T00:00:00+00:00"),), logins=("early",))
U_TIE = User(id=3, email="tie@ourco.example", inboxes=((SHARED, "2026-01-01T00:00:00+00:00"),))


def test_attr_4_shared_inbox_earliest_connection_flagged_ambiguous():
    a = attribute(SHARED, (U_LATE, U_TIE, U_EARLY), (), None)
    assert (a.user, a.rule, a.ambiguous) == ("early@ourco.example", "ATTR-4", True)
    assert set(a.candidates) == {"late@ourco.example", "early@ourco.example", "tie@ourco.example"}


def test_attr_4_session_user_among_candidates_wins_not_ambiguous():
    a = attribute(SHARED, (U_LATE, U_EARLY), (), U_LATE)
    assert (a.user, a.rule, a.ambiguous) == ("late@ourco.example", "ATTR-4", False)


def test_attr_4_never_random_same_answer_in_any_order():
    answers = {
        attribute(SHARED, users, (), None).user
        for users in [(U_LATE, U_TIE, U_EARLY), (U_EARLY, U_TIE, U_LATE), (U_TIE, U_EARLY, U_LATE)]
    }
    assert answers == {"early@ourco.example"}


def test_attr_5_unknown_sender_rejected():
    rejected(decide(message(sender=addr("stranger@evil.example")), TEAM, SETTINGS), Code.SENDER_NOT_A_USER)


def test_attr_5_no_from_rejected():
    rejected(decide(message(sender=None), TEAM, SETTINGS), Code.SENDER_NOT_A_USER)


# Received values as Postfix writes them (newest first in a message). The SESSION tests below
# put them into a delivered copy and parse it, as a run reads a BCC mailbox.
MX = "mx.ourco.example"
SUBMIT = "submit.ourco.example"
DATE = "Mon, 1 Jun 2026 09:00:00 +0000"
OUTSIDE = f"from evil.example (evil.example [203.0.113.9]) by {MX} (Postfix) with ESMTP id 1; {DATE}"
FROM_SUBMIT = f"from {SUBMIT} ({SUBMIT} [10.0.0.2])\n\tby {MX} (Postfix) with ESMTPS id 3; {DATE}"
FILTER = f"from localhost (localhost [127.0.0.1])\n\tby {MX} (Postfix) with ESMTP id 4; {DATE}"


def submitted(login: str, by: str = MX) -> str:
    """The Received of an authenticated submission (smtpd_sasl_authenticated_header = yes)."""
    return f"from laptop (unknown [198.51.100.7])\n\t(Authenticated sender: {login})\n\tby {by} (Postfix) with ESMTPSA id 2; {DATE}"


def delivered_copy(sender: str, *received: str) -> Message:
    """The copy of a message that a delivery agent put into the BCC mailbox, parsed."""
    return parse(eml(frm=sender, headers={"Received": list(received), "Delivered-To": LOG}))


def test_attr_6_decision_records_rule_candidates_and_session():
    d = accepted(decide(message(received=(submitted("anna"),)), TEAM, SETTINGS))
    assert d.attribution.rule == "ATTR-1"
    assert d.attribution.candidates == ("anna@ourco.example",)
    assert d.attribution.session_user == "anna@ourco.example"
    assert "ATTR-6" in d.rules and "SESSION" in d.rules


def test_session_from_ingest_user_option_beats_authenticated_sender():
    m = message(sender=addr("sales@ourco.example"), received=(submitted("anna"),))
    d = accepted(decide(m, TEAM, SETTINGS, session_login="dora"))
    assert d.attribution.user == "dora@ourco.example"


def test_session_from_authenticated_sender_login():
    m = message(sender=addr("sales@ourco.example"), received=(submitted("Dora"),))  # logins compare lower-cased
    d = accepted(decide(m, TEAM, SETTINGS))
    assert (d.attribution.user, d.attribution.session_user) == ("dora@ourco.example", "dora@ourco.example")


def test_session_forged_clause_below_an_outside_hop_does_not_choose_the_user():
    # an outsider sends as the team inbox and writes an older Received naming our MX and dora
    forged = delivered_copy("sales@ourco.example", OUTSIDE, submitted("dora"))
    for settings in (Settings(bcc=(LOG,), trusted_hosts=frozenset({MX})), Settings(bcc=(LOG,))):
        d = accepted(decide(forged, TEAM, settings))
        a = d.attribution
        assert (a.user, a.rule, a.session_user) == ("anna@ourco.example", "ATTR-T", None)  # the connector
        assert "SESSION" not in d.rules


def test_session_clause_inside_the_trusted_chain_chooses_the_user():
    # laptop -> submission host (dora authenticates) -> MX -> content filter on loopback -> MX
    hops = (FILTER, FROM_SUBMIT, submitted("dora", by=SUBMIT))
    trusted = Settings(bcc=(LOG,), trusted_hosts=frozenset({MX, SUBMIT, "127.0.0.1"}))
    d = accepted(decide(delivered_copy("sales@ourco.example", *hops), TEAM, trusted))
    assert (d.attribution.user, d.attribution.rule, d.attribution.session_user) == (
        "dora@ourco.example",
        "ATTR-T",
        "dora@ourco.example",
    )
    assert "SESSION" in d.rules
    # the same clause one hop beyond the chain (the submission host is not trusted) does not
    untrusted = Settings(bcc=(LOG,), trusted_hosts=frozenset({MX, "127.0.0.1"}))
    d = accepted(decide(delivered_copy("sales@ourco.example", *hops), TEAM, untrusted))
    assert (d.attribution.user, d.attribution.session_user) == ("anna@ourco.example", None)


def test_session_without_trusted_hosts_only_the_newest_received_counts():
    newest = accepted(decide(delivered_copy("sales@ourco.example", submitted("dora")), TEAM, SETTINGS))
    assert (newest.attribution.user, newest.attribution.session_user) == ("dora@ourco.example", "dora@ourco.example")
    older = accepted(
        decide(delivered_copy("sales@ourco.example", FROM_SUBMIT, submitted("dora", by=SUBMIT)), TEAM, SETTINGS)
    )
    assert (older.attribution.user, older.attribution.session_user) == ("anna@ourco.example", None)


def test_session_unknown_login_is_no_session():
    assert session_user(TEAM.users, "nobody") is None
    assert session_user(TEAM.users, "") is None


# ------------------------------------------------------------------ PERM


def test_perm_1_read_only_seat_rejected():
    rejected(decide(message(sender=addr("ben@ourco.example")), TEAM, SETTINGS), Code.READ_ONLY_SEAT)


def test_perm_2_no_inbox_permission_rejected():
    rejected(decide(message(sender=addr("carl@ourco.example")), TEAM, SETTINGS), Code.NO_INBOX_PERMISSION)


# ------------------------------------------------------------------ BCC


def test_bcc_1_to_and_cc_become_contacts_colleagues_and_logging_addresses_do_not():
    m = message(
        to=(addr("li.wei@acme.example", "Li Wei"), addr("dora@ourco.example"), addr(LOG)),
        cc=(addr("hans@beispiel.de", "Hans"), addr("sales@ourco.example"), addr("d.sales@ourco.example")),
    )
    d = accepted(decide(m, TEAM, SETTINGS))
    assert d.contacts == ("li.wei@acme.example", "hans@beispiel.de")
    assert [(c.email, c.name, c.source) for c in d.new_contacts] == [
        ("li.wei@acme.example", "Li Wei", "bcc-recipient"),
        ("hans@beispiel.de", "Hans", "bcc-recipient"),
    ]


@pytest.mark.parametrize(
    "pattern, address, never",
    [
        ("noreply@*", "noreply@acme.example", True),
        ("example.org", "a@example.org", True),
        ("example.org", "a@mail.example.org", True),
        ("example.org", "a@notexample.org", False),
        ("boss@acme.example", "boss@acme.example", True),
        ("boss@acme.example", "li@acme.example", False),
        ("*.gov", "x@agency.gov", True),
    ],
)
def test_bcc_1_never_log_patterns(pattern, address, never):
    assert is_never_logged(address, (pattern,)) is never


def test_bcc_1_never_log_address_is_not_a_contact():
    s = Settings(bcc=(LOG,), never_log=("noreply@*",))
    m = message(to=(addr("noreply@acme.example"), addr("li.wei@acme.example")))
    assert accepted(decide(m, TEAM, s)).contacts == ("li.wei@acme.example",)


def test_bcc_2_bcc_only_recipient_gets_no_contact_nor_association():
    existing = Snapshot(users=TEAM.users, contacts={"secret@acme.example": Contact(email="secret@acme.example")})
    m = message(bcc=(addr(LOG), addr("secret@acme.example")))
    d = accepted(decide(m, existing, SETTINGS))
    assert "secret@acme.example" not in d.contacts
    assert all(c.email != "secret@acme.example" for c in d.new_contacts)


def test_bcc_3_existing_contact_company_and_five_newest_open_deals():
    li = "li.wei@acme.example"
    deals = (
        *tuple(
            Deal(id=i, name=f"d{i}", stage=stage, created=f"2026-0{m}-01T00:00:00+00:00", contacts=(li,))
            for i, stage, m in [
                (1, "open", 1),
                (2, "open", 2),
                (3, "won", 9),
                (4, "open", 3),
                (5, "lost", 9),
                (6, "open", 4),
                (7, "open", 5),
                (8, "open", 6),
                (9, "open", 6),
            ]
        ),
        Deal(id=10, name="other", stage="open", created="2026-09-01T00:00:00+00:00", contacts=("x@y.example",)),
    )
    view = Snapshot(users=TEAM.users, contacts={li: Contact(email=li, company="acme-group.example")}, deals=deals)
    d = accepted(decide(message(), view, SETTINGS))
    assert d.new_contacts == ()
    assert d.companies == ("acme-group.example",)
    assert d.deals == (8, 9, 7, 6, 4)  # newest first, ties by id; won/lost and others' deals left out


def test_bcc_4_only_colleagues_rejected_no_recipients():
    rejected(decide(message(to=(addr("dora@ourco.example"),)), TEAM, SETTINGS), Code.NO_RECIPIENTS)


def test_bcc_4_only_bcc_recipients_rejected_no_recipients():
    rejected(decide(message(to=(), bcc=(addr(LOG), addr("li@acme.example"))), TEAM, SETTINGS), Code.NO_RECIPIENTS)


# ------------------------------------------------------------------ BCC-5

LI = "li.wei@acme.example"
DEALS = (
    *(
        Deal(id=i, name=f"d{i}", stage="open", created=f"2026-0{i}-01T00:00:00+00:00", contacts=(LI,))
        for i in range(1, 8)
    ),
    Deal(id=40, name="won", stage="won", created="2026-01-01T00:00:00+00:00", contacts=(LI,)),
    Deal(id=42, name="someone else's", stage="open", created="2025-01-01T00:00:00+00:00", contacts=("x@y.example",)),
)
DEAL_VIEW = Snapshot(
    users=TEAM.users,
    team_inboxes=TEAM.team_inboxes,
    contacts={LI: Contact(email=LI, company="acme-group.example")},
    deals=DEALS,
)
NEWEST = (7, 6, 5, 4, 3)  # BCC-3 without a +deal-N


def on(address: str, *tags: str) -> tuple[DealAddress, ...]:
    return tuple(DealAddress(address=address, tag=tag) for tag in tags)


def test_bcc_5_named_deal_replaces_the_five_newest_contacts_and_company_as_usual():
    d = accepted(decide(message(deal_addresses=on(LOG, "deal-42")), DEAL_VIEW, SETTINGS))
    assert d.deals == (42,) and d.deals_named and d.unknown_deals == ()
    assert d.contacts == (LI,) and d.companies == ("acme-group.example",)
    assert d.rules[-2:] == ("BCC-3", "BCC-5")


def test_bcc_5_a_won_or_lost_deal_named_explicitly_is_associated():
    d = accepted(decide(message(deal_addresses=on(LOG, "deal-40")), DEAL_VIEW, SETTINGS))
    assert d.deals == (40,) and d.unknown_deals == ()


def test_bcc_5_unknown_deal_associated_as_bcc_3_and_noted():
    d = accepted(decide(message(deal_addresses=on(LOG, "deal-99")), DEAL_VIEW, SETTINGS))
    assert d.deals == NEWEST and not d.deals_named
    assert d.unknown_deals == on(LOG, "deal-99")
    assert "BCC-5" in d.rules


@pytest.mark.parametrize(
    "tag", ["deal-abc", "deal-", "deal-4a", "deal--4", "deal-4.0", "deal-\u0664\u0662", "deal-1234567890123456789"]
)
def test_bcc_5_a_suffix_that_is_not_a_deal_number_is_an_unknown_deal(tag):
    assert DealAddress(address=LOG, tag=tag).deal_id is None
    d = accepted(decide(message(deal_addresses=on(LOG, tag)), DEAL_VIEW, SETTINGS))
    assert d.deals == NEWEST and d.unknown_deals == on(LOG, tag)


def test_bcc_5_several_deals_each_known_one_associated_each_unknown_one_noted_once():
    subs = (*on(LOG, "deal-42", "deal-99", "deal-3", "deal-abc", "deal-042"), *on(FWD, "deal-99"))
    d = accepted(decide(message(deal_addresses=subs), DEAL_VIEW, SETTINGS))
    assert d.deals == (42, 3) and d.deals_named
    assert d.unknown_deals == on(LOG, "deal-99", "deal-abc")


def test_bcc_5_forwarding_address_with_a_deal_sub_address():
    d = accepted(decide(forward(deal_addresses=on(FWD, "deal-42")), DEAL_VIEW, SETTINGS))
    assert d.path == LogPath.FORWARD and d.contacts == (LI,)
    assert d.deals == (42,) and d.rules[-2:] == ("FWD-6", "BCC-5")
    d = accepted(decide(forward(deal_addresses=on(FWD, "deal-77")), DEAL_VIEW, SETTINGS))
    assert d.deals == NEWEST and d.unknown_deals == on(FWD, "deal-77")


def test_bcc_5_a_deal_sub_address_on_any_other_address_is_ignored():
    m = message(
        to=(addr(LI), addr("chen@acme.example")),
        deal_addresses=(*on(LI, "deal-42"), *on("log@other.example", "deal-42"), *on("chen@acme.example", "deal-x")),
    )
    d = accepted(decide(m, DEAL_VIEW, SETTINGS))
    assert d.deals == NEWEST and d.unknown_deals == () and not d.deals_named
    assert "BCC-5" not in d.rules


@pytest.mark.parametrize(
    "headers",
    [
        {"Delivered-To": "log+deal-42@crm.example.com"},
        {"X-Original-To": "Log+Deal-42@CRM.example.com"},
        {
            "Received": "from a.example by mx.crm.example.com (Postfix) for <log+deal-42@crm.example.com>; Mon, 1 Jun 2026"
        },
    ],
    ids=["delivered-to", "x-original-to", "received-for"],
)
def test_bcc_5_tag_kept_only_in_the_envelope_headers_counts(headers):
    # Postfix with recipient_delimiter "+" delivers a BCC to log+deal-42@ to log@ and keeps
    # the sub-address only in the headers it writes
    m = parse(eml(to=f"Li Wei <{LI}>", headers=headers))
    assert m.deal_addresses == on(LOG, "deal-42")
    d = accepted(decide(m, DEAL_VIEW, SETTINGS))
    assert d.deals == (42,) and d.contacts == (LI,)


def test_bcc_5_tag_in_the_senders_own_bcc_field_counts():
    m = parse(eml(to=f"Li Wei <{LI}>", bcc="log+deal-40@crm.example.com"))
    assert accepted(decide(m, DEAL_VIEW, SETTINGS)).deals == (40,)


# ------------------------------------------------------------------ COMP


@pytest.mark.parametrize(
    "email, company",
    [
        ("li@mail.acme.co.uk", "acme.co.uk"),
        ("li@acme.example.com", "example.com"),
        ("maria@gmail.com", None),
        ("wang@qq.com", None),
        ("hans@web.de", None),
        ("x@localhost", None),
    ],
)
def test_comp_1_company_from_registrable_domain_unless_free_mail(email, company):
    d = accepted(decide(message(to=(addr(email),)), TEAM, SETTINGS))
    assert d.new_contacts[0].company == company
    assert d.companies == ((company,) if company else ())


def test_comp_1_can_be_turned_off():
    s = Settings(bcc=(LOG,), auto_create_companies=False)
    d = accepted(decide(message(to=(addr("li@acme.co.uk"),)), TEAM, s))
    assert d.new_contacts[0].company is None and d.companies == ()


# ------------------------------------------------------------------ LIM


def test_lim_1_body_over_limit_rejected():
    rejected(decide(message(body_bytes=1001), TEAM, SETTINGS), Code.BODY_TOO_LARGE)


def test_lim_1_body_at_limit_logged():
    accepted(decide(message(body_bytes=1000), TEAM, SETTINGS))


def test_lim_2_attachment_over_limit_dropped_rest_kept_lim_3():
    small = Attachment(filename="a.txt", content_type="text/plain", data=b"x" * 100)
    big = Attachment(filename="b.bin", content_type="application/octet-stream", data=b"y" * 101)
    d = accepted(decide(message(attachments=(small, big)), TEAM, SETTINGS))
    assert d.kept_attachments == (small,)
    assert d.dropped_attachments == (big,)
    assert "LIM-2" in d.rules


def test_lim_2_part_cut_out_before_parsing_is_dropped_with_the_others():
    small = Attachment(filename="a.txt", content_type="text/plain", data=b"x" * 100)
    cut = OversizedPart(filename="huge.iso", content_type="application/octet-stream", size=10**9, sha256="ab" * 32)
    d = accepted(decide(message(attachments=(small,), oversized=(cut,)), TEAM, SETTINGS))
    assert (d.kept_attachments, d.dropped_attachments) == ((small,), (cut,))
    assert "LIM-2" in d.rules


def test_lim_1_inline_text_cut_out_before_parsing_is_too_large():
    d = rejected(decide(message(body_bytes=0, oversized_text_bytes=50_000), TEAM, SETTINGS), Code.BODY_TOO_LARGE)
    assert "50,000 bytes" in d.reason and d.rules == ("LIM-1",)


# ------------------------------------------------------------------ ONCE


def test_once_1_already_logged_identity_is_a_duplicate():
    view = Snapshot(users=TEAM.users, logged=frozenset({"m1@ourco.example"}))
    assert isinstance(decide(message(), view, SETTINGS), Duplicate)


# ------------------------------------------------------------------ SEC-4 (setting)


SEC4 = Settings(
    bcc=(LOG,), require_authenticated_sender=True, trusted_hosts=frozenset({MX}), authserv_ids=frozenset({MX})
)
SUBMITTED = submitted("anna")


def delivered(**kw) -> Message:
    return message(bcc=(), envelope_to=(LOG,), delivered=True, **kw)


def test_sec_4_delivered_copy_without_authentication_rejected_when_required():
    d = rejected(decide(delivered(received=(OUTSIDE,)), TEAM, SEC4), Code.UNAUTHENTICATED_SENDER)
    assert "anna@ourco.example" in d.reason and d.rules == ("SEC-4",)
    assert "SEC-4" in accepted(decide(delivered(received=(SUBMITTED,)), TEAM, SEC4)).rules


def test_sec_4_dkim_pass_from_the_trusted_host_lets_a_delivered_copy_in():
    ar = f"{MX}; dkim=pass header.d=ourco.example; spf=fail smtp.mailfrom=evil.example"
    accepted(decide(delivered(received=(OUTSIDE,), auth_results=(ar,)), TEAM, SEC4))
    forged = "evil.example; dkim=pass header.d=ourco.example"
    rejected(decide(delivered(received=(OUTSIDE,), auth_results=(forged,)), TEAM, SEC4), Code.UNAUTHENTICATED_SENDER)
    no_writer = Settings(bcc=(LOG,), require_authenticated_sender=True, trusted_hosts=frozenset({MX}))
    rejected(decide(delivered(received=(OUTSIDE,), auth_results=(ar,)), TEAM, no_writer), Code.UNAUTHENTICATED_SENDER)


def test_sec_4_own_sent_copy_needs_no_proof_but_a_delivered_bcc_header_does():
    accepted(decide(message(), TEAM, SEC4))  # the sender's own Sent copy: Bcc header, never delivered
    forged_sent = message(envelope_to=(LOG,), delivered=True, received=(OUTSIDE,))  # Bcc header written by an outsider
    rejected(decide(forged_sent, TEAM, SEC4), Code.UNAUTHENTICATED_SENDER)


def test_sec_4_off_by_default_logs_an_unproven_delivered_copy():
    accepted(decide(delivered(received=(OUTSIDE,)), TEAM, Settings(bcc=(LOG,))))


# ------------------------------------------------------------------ properties


emails = st.sampled_from(
    [
        "anna@ourco.example",
        "ben@ourco.example",
        "sales@ourco.example",
        "li@acme.example",
        LOG,
        FWD,
        "x@gmail.com",
        "d.sales@ourco.example",
    ]
)
addresses = st.builds(Address, email=emails, name=st.text(max_size=5))


@hsettings(max_examples=200, deadline=None)
@given(
    sender=st.none() | addresses,
    to=st.lists(addresses, max_size=3).map(tuple),
    cc=st.lists(addresses, max_size=3).map(tuple),
    bcc=st.lists(addresses, max_size=3).map(tuple),
    env=st.lists(emails, max_size=2).map(tuple),
    login=st.sampled_from(["", "anna", "dora", "nobody"]),
    body=st.integers(min_value=0, max_value=2000),
)
def test_decide_is_total_and_deterministic(sender, to, cc, bcc, env, login, body):
    received = (submitted(login),) if login else ()
    m = message(sender=sender, to=to, cc=cc, bcc=bcc, envelope_to=env, received=received, body_bytes=body)
    first = decide(m, TEAM, SETTINGS)
    assert isinstance(first, (Accepted, Rejected, Skipped, Duplicate))
    assert decide(m, TEAM, SETTINGS) == first


def test_rej_2_unparseable_rejected_unless_a_copy_of_a_logged_message():
    from crmlog.rules import decide_unparseable

    rejected(decide_unparseable(None, "boom", TEAM), Code.UNPARSEABLE)
    partial = message()
    rejected(decide_unparseable(partial, "boom", TEAM), Code.UNPARSEABLE)
    logged = Snapshot(users=TEAM.users, logged=frozenset({partial.identity}))
    assert isinstance(decide_unparseable(partial, "boom", logged), Duplicate)


# ------------------------------------------------------------------ FWD


GMAIL_FORWARD = """Please log this.

---------- Forwarded message ---------
From: Li Wei <li.wei@acme.example>
Date: Tue, Mar 9, 2021 at 4:12 PM
Subject: Re: Quote for 200 pumps
To: Anna <anna@ourco.example>
Cc: Chen Jie <chen.jie@acme.example>, Tom <tom@partner.example>

We accept the quote.
"""


def forward(text: str = GMAIL_FORWARD, **kw) -> Message:
    base = dict(subject="Fwd: Re: Quote for 200 pumps", to=(addr(FWD),), bcc=(), text=text, body_bytes=len(text))
    base.update(kw)
    return message(**base)


def test_fwd_1_one_forwarded_message_is_logged_with_what_its_header_says():
    d = accepted(decide(forward(), TEAM, SETTINGS))
    f = d.forwarded
    assert f is not None and f.client == "gmail"
    assert (f.sender, f.subject, f.date) == (
        addr("li.wei@acme.example", "Li Wei"),
        "Re: Quote for 200 pumps",
        "2021-03-09T16:12:00",
    )
    assert "FWD-1" in d.rules


def test_fwd_2_no_forward_header_rejected_forward_not_recognized():
    r = rejected(decide(forward("Li called, she accepts."), TEAM, SETTINGS), Code.FORWARD_NOT_RECOGNIZED)
    assert "FWD-2" in r.rules and "Forwarded message" in r.reason


def test_fwd_3_two_forwards_rejected_forward_is_thread():
    text = GMAIL_FORWARD + "\n" + GMAIL_FORWARD.split("\n\n", 1)[1]
    r = rejected(decide(forward(text), TEAM, SETTINGS), Code.FORWARD_IS_THREAD)
    assert "FWD-3" in r.rules


def test_fwd_3_forwarded_message_written_by_another_user_is_a_thread():
    text = GMAIL_FORWARD.replace("Li Wei <li.wei@acme.example>", "Dora <d.sales@ourco.example>")  # Dora's alias
    r = rejected(decide(forward(text), TEAM, SETTINGS), Code.FORWARD_IS_THREAD)
    assert "d.sales@ourco.example" in r.reason


def test_fwd_3_forwarded_message_written_by_the_forwarder_is_a_thread():
    text = GMAIL_FORWARD.replace("Li Wei <li.wei@acme.example>", "Anna <anna@ourco.example>")
    rejected(decide(forward(text), TEAM, SETTINGS), Code.FORWARD_IS_THREAD)


def test_fwd_4_contact_is_the_forwarded_sender_created_as_forward_sender():
    d = accepted(decide(forward(), TEAM, SETTINGS))
    assert d.contacts == ("li.wei@acme.example",)
    assert d.new_contacts == (
        NewContact(email="li.wei@acme.example", name="Li Wei", source="forward-sender", company="acme.example"),
    )
    assert d.forwarded is not None and d.forwarded.note == "Please log this."
    assert d.forwarded.body == "We accept the quote."


def test_fwd_5_forwarded_to_and_cc_are_not_contacts():
    d = accepted(decide(forward(), TEAM, SETTINGS))
    created = {c.email for c in d.new_contacts}
    assert "chen.jie@acme.example" not in created and "tom@partner.example" not in created
    assert d.contacts == ("li.wei@acme.example",) and d.companies == ("acme.example",)


def test_fwd_6_associations_as_bcc_3_for_the_one_contact():
    li = "li.wei@acme.example"
    deals = (
        *tuple(
            Deal(id=i, name=f"d{i}", stage="open", created=f"2026-0{i}-01T00:00:00+00:00", contacts=(li,))
            for i in range(1, 8)
        ),
        Deal(
            id=9, name="theirs", stage="open", created="2026-09-01T00:00:00+00:00", contacts=("chen.jie@acme.example",)
        ),
    )
    view = Snapshot(
        users=TEAM.users,
        team_inboxes=TEAM.team_inboxes,
        contacts={li: Contact(email=li, company="acme-group.example")},
        deals=deals,
    )
    d = accepted(decide(forward(), view, SETTINGS))
    assert d.new_contacts == ()
    assert d.companies == ("acme-group.example",)
    assert d.deals == (7, 6, 5, 4, 3)


def test_fwd_7_attribution_and_permissions_are_the_forwarders():
    rejected(decide(forward(sender=addr("ben@ourco.example")), TEAM, SETTINGS), Code.READ_ONLY_SEAT)
    rejected(decide(forward(sender=addr("carl@ourco.example")), TEAM, SETTINGS), Code.NO_INBOX_PERMISSION)
    rejected(decide(forward(sender=addr("li.wei@acme.example")), TEAM, SETTINGS), Code.SENDER_NOT_A_USER)
    d = accepted(decide(forward(sender=addr("sales@ourco.example")), TEAM, SETTINGS))
    assert (d.attribution.user, d.attribution.rule) == ("anna@ourco.example", "ATTR-T")


def test_fwd_4_never_logged_forwarded_sender_gives_no_contact():
    settings = Settings(bcc=(LOG,), forward=(FWD,), never_log=("acme.example",))
    rejected(decide(forward(), TEAM, settings), Code.NO_RECIPIENTS)


def test_fwd_1_forward_as_attachment_logs_the_attached_message_and_its_files():
    inner = (
        b"From: Li Wei <li.wei@acme.example>\nTo: anna@ourco.example\nSubject: Re: Quote\n"
        b"Date: Tue, 9 Mar 2021 16:12:05 +0100\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\n\nSigned, see PDF.\n'
        b'--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename="po.pdf"\n'
        b"Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--b--\n"
    )
    raw = (
        (
            f"From: anna@ourco.example\nTo: {FWD}\nSubject: Fwd: Re: Quote\nMessage-ID: <f1@ourco.example>\n"
            'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="o"\n\n'
            "--o\nContent-Type: text/plain\n\nSee attached.\n--o\nContent-Type: message/rfc822\n\n"
        ).encode()
        + inner
        + b"\n--o--\n"
    )
    m = parse(raw, forward_addresses=(FWD,))  # the parse stage reads the attached message for the rules
    d = accepted(decide(m, TEAM, SETTINGS))
    assert d.forwarded is not None and d.forwarded.client == "attachment"
    assert d.forwarded.sender.email == "li.wei@acme.example" and d.forwarded.date == "2021-03-09T15:12:05+00:00"
    assert [(a.filename, a.data) for a in d.kept_attachments] == [("po.pdf", b"%PDF-1.4\n")]


def test_fwd_1_forward_parts_are_read_for_the_forward_path_only():
    raw = eml(to=f"Bob <{FWD}>", body="see below")
    assert parse(raw, forward_addresses=(FWD,)).forward_parts is not None
    assert parse(raw, forward_addresses=("other@crm.example.com",)).forward_parts is None
    assert parse(raw).forward_parts is None
