"""BCC-5, the deal sub-address: the parse stage keeps the `+deal-` tags that ADDR-1 strips,
the projection turns a tag naming no deal into an `unknown-deal` notice, and the CLI logs an
e-mail BCC'd to log+deal-N on deal N, end to end."""

from __future__ import annotations

from datetime import UTC, datetime

from conftest import LOG, Snapshot, eml, make_maildir

from crmlog.model import Accepted, DealAddress, RawMessage, Settings
from crmlog.parse import parse
from crmlog.records import Contact, Deal, User
from crmlog.rules.engine import decide
from crmlog.store import project

LI = "li.wei@acme.example"
ANNA = User(id=1, email="anna@ourco.example")


def deal_addresses(raw: bytes) -> list[tuple[str, str]]:
    return [(d.address, d.tag) for d in parse(raw).deal_addresses]


# ------------------------------------------------------------------ the parse stage


def test_bcc_5_parse_keeps_the_deal_tags_of_every_recipient_header():
    raw = eml(
        to=f"Li Wei <{LI}>, Sales <sales+deal-7@ourco.example>",
        cc="Log <Log+Deal-42@CRM.example.com>",
        bcc="log+deal-abc@crm.example.com, log+news@crm.example.com",
        headers={
            "Delivered-To": "log+deal-5@crm.example.com",
            "Received": "from a.example by mx.crm.example.com for <log+deal-6@crm.example.com>; Mon, 1 Jun 2026",
        },
    )
    assert deal_addresses(raw) == [
        ("sales@ourco.example", "deal-7"),
        ("log@crm.example.com", "deal-42"),
        ("log@crm.example.com", "deal-abc"),
        ("log@crm.example.com", "deal-5"),
        ("log@crm.example.com", "deal-6"),
    ]
    m = parse(raw)
    assert LOG in m.all_recipients() and "log+deal-42@crm.example.com" not in m.all_recipients()  # ADDR-1


def test_bcc_5_parse_reads_no_deal_tag_in_from_or_reply_to_and_keeps_each_once():
    raw = eml(
        frm="anna+deal-1@ourco.example",
        to=f"{LI}, log+deal-2@crm.example.com",
        bcc="log+deal-2@crm.example.com",
        headers={"Reply-To": "log+deal-3@crm.example.com", "X-Original-To": "log+deal-2@crm.example.com"},
    )
    assert deal_addresses(raw) == [("log@crm.example.com", "deal-2")]


def test_bcc_5_deal_number():
    assert DealAddress(address=LOG, tag="deal-42").deal_id == 42
    assert DealAddress(address=LOG, tag="deal-007").deal_id == 7
    assert DealAddress(address=LOG, tag="deal-abc").deal_id is None
    assert DealAddress(address=LOG, tag="deal-").deal_id is None


# ------------------------------------------------------------------ the notice (projection)


def notices_of(raw: bytes, view: Snapshot) -> list[tuple[str, str, str]]:
    message = parse(raw)
    d = decide(message, view, Settings(bcc=(LOG,)))
    assert isinstance(d, Accepted), d
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    logged = project.logged(RawMessage(source="box", key="k", data=raw), message, d, now)
    return [(n.kind, n.user, n.detail) for n in logged.notices]


VIEW = Snapshot(
    users=(ANNA,),
    contacts={LI: Contact(email=LI)},
    deals=(Deal(id=3, name="pilot", stage="open", created="2026-05-01T00:00:00+00:00", contacts=(LI,)),),
)


def test_bcc_5_unknown_deal_notice_for_the_sending_user_says_what_was_done():
    assert notices_of(eml(to=LI, bcc="log+deal-42@crm.example.com"), VIEW) == [
        (
            "unknown-deal",
            "anna@ourco.example",
            "the e-mail was sent to log+deal-42@crm.example.com but there is no deal 42; it was "
            "associated as usual: with the contact's newest open deals",
        )
    ]


def test_bcc_5_a_suffix_that_is_not_a_number_is_named_in_one_line():
    ((kind, _, detail),) = notices_of(eml(to=LI, bcc="log+deal-abc@crm.example.com"), VIEW)
    assert kind == "unknown-deal" and "\n" not in detail
    assert detail.startswith(
        "the e-mail was sent to log+deal-abc@crm.example.com but 'abc' after '+deal-' is not a deal number"
    )


def test_bcc_5_unknown_beside_a_known_deal_says_the_known_ones_were_kept():
    ((_, _, detail),) = notices_of(eml(to=LI, bcc="log+deal-3@crm.example.com, log+deal-9@crm.example.com"), VIEW)
    assert detail.endswith("there is no deal 9; it was associated with the other deals its address names")


def test_bcc_5_a_known_deal_gives_no_notice():
    assert notices_of(eml(to=LI, bcc="log+deal-3@crm.example.com"), VIEW) == []


# ------------------------------------------------------------------ end to end through the CLI


def test_bcc_5_cli_logs_on_the_named_deal_and_notes_an_unknown_one(team, tmp_path):
    for name, created in [("Older", "2026-01-01T00:00:00Z"), ("Pilot", "2026-05-01T00:00:00Z")]:
        team("deals", "add", name, "--contact", LI, "--created", created)
    team("deals", "add", "Framework", "--contact", LI, "--stage", "won", "--created", "2026-02-01T00:00:00Z")
    assert [d["id"] for d in team.json("deals", "list")] == [1, 2, 3]
    box = make_maildir(
        tmp_path / "M",
        {
            "": [
                ("a", eml(to=f"Li Wei <{LI}>", bcc="log+deal-1@crm.example.com", message_id="<a@ourco.example>")),
                ("b", eml(to=LI, bcc="log+deal-3@crm.example.com", message_id="<b@ourco.example>")),
                ("c", eml(to=LI, bcc="log+deal-42@crm.example.com", message_id="<c@ourco.example>")),
                (
                    "d",
                    eml(to=LI, headers={"Delivered-To": "log+deal-x@crm.example.com"}, message_id="<d@ourco.example>"),
                ),
            ]
        },
    )
    summary = team.json("ingest", box)
    assert (summary["logged"], summary["notices"]) == (4, 2)  # the two unknown-deal notices are counted
    deals = {e["message_id"]: e["deals"] for e in team.json("emails", "list")}
    assert deals == {
        "a@ourco.example": [1],  # not the newer deal 2 (BCC-3 would give [2, 1])
        "b@ourco.example": [3],  # a won deal, named by its address
        "c@ourco.example": [2, 1],  # no deal 42: BCC-3
        "d@ourco.example": [2, 1],  # not a deal number: BCC-3
    }
    notices = sorted((n["message_id"], n["kind"], n["user"]) for n in team.json("notices"))
    assert notices == [
        ("c@ourco.example", "unknown-deal", "anna@ourco.example"),
        ("d@ourco.example", "unknown-deal", "anna@ourco.example"),
    ]
    details = [n["detail"] for n in team.json("notices")]
    assert any("there is no deal 42" in d for d in details)
    assert any("'x' after '+deal-' is not a deal number" in d for d in details)
