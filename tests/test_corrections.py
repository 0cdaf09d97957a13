"""Correcting the CRM after the fact, end to end through the real CLI: editing users, contacts,
companies and deals (LIFE-1), deactivating and removing users (LIFE-2), forgetting a contact
(LIFE-3), merging contacts (LIFE-4), deleting a logged e-mail (LIFE-5), and the confirmation
the destructive commands ask for (LIFE-8)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import select
import subprocess
import sys
import zlib
from pathlib import Path

import crmlog_state as crm_state
import pytest
from conftest import LOG, Cli, eml, make_maildir
from stored import tables as stored_tables

ANNA = "anna@ourco.example"
BEN = "ben@ourco.example"
LI = "li.wei@acme.example"
MARIA = "maria@beta.example"


# ------------------------------------------------------------------ helpers


def mail(n: int | str, to: str = f"Li Wei <{LI}>", *, frm: str = f"Anna <{ANNA}>", **kw) -> bytes:
    """Message `n`, BCC'd to the logging address, with its own Message-ID <cN@ourco.example>."""
    kw.setdefault("subject", f"Message {n}")
    return eml(frm=frm, to=to, bcc=LOG, message_id=f"<c{n}@ourco.example>", **kw)


def mid(n: int | str) -> str:
    return f"c{n}@ourco.example"


def put(box: Path, *messages: tuple[str, bytes]) -> Path:
    """Deliver messages into the Maildir `box` (new/), as a mail server would."""
    return make_maildir(box, {"": list(messages)})


def ingest(cli: Cli, box: Path, *extra: str) -> dict:
    return cli.json("ingest", box, *extra)


def user(cli: Cli, email: str) -> dict:
    return next(u for u in cli.json("users", "list") if u["email"] == email)


def email_row(cli: Cli, message_id: str) -> dict:
    return next(e for e in cli.json("emails", "list") if e["message_id"] == message_id)


def store_files(cli: Cli) -> dict[str, bytes]:
    """Every file of the store (the database, its body packs and attachments), by name; the
    lock file is the lock's, not the store's. On a server, every row as a file would hold it
    (crmlog_state.files: a table's rows as JSON, a pack's bodies, an attachment's bytes)."""
    if isinstance(cli.db, str):
        return crm_state.files(cli.db)
    root = cli.db.parent
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")
    }


def store_size(cli: Cli) -> int:
    return sum(len(data) for data in store_files(cli).values())


def packs(cli: Cli) -> set[str]:
    return {name for name in store_files(cli) if name.endswith(".pack")}


def inflate(pack: bytes) -> list[bytes]:
    """The bodies of a pack: a concatenation of zlib streams, each read to its end."""
    streams = []
    rest = pack
    while rest:
        reader = zlib.decompressobj()
        streams.append(reader.decompress(rest) + reader.flush())
        assert reader.eof, "a body pack ends inside a zlib stream"
        rest = reader.unused_data
    return streams


def readable(name: str, data: bytes) -> list[bytes]:
    """What a file holds, in every form a reader could get it in: its bytes; a JSON document
    also written out again without escapes; a body pack also decompressed, each body too."""
    forms = [data]
    docs = inflate(data) if name.endswith(".pack") else [data] if name.endswith(".json") else []
    for doc in docs:
        forms.append(doc)
        forms.append(json.dumps(json.loads(doc), ensure_ascii=False).encode())
    return forms


def where_found(cli: Cli, *needles: str) -> list[tuple[str, str]]:
    """(file, needle) for each needle found, in any case, anywhere in the store."""
    found = []
    for name, data in store_files(cli).items():
        text = b"\n".join(readable(name, data)).lower()
        found += [(name, n) for n in needles if n.lower().encode() in text]
    return found


def one_line_error(result) -> str:
    """A refused command says why on one line of stderr, and nothing on stdout."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    return lines[0]


def refused(cli: Cli, *args: str, expect: int, words: str) -> None:
    """The command fails with one line naming `words`, and the store is byte for byte as it was."""
    before = store_files(cli)
    line = one_line_error(cli(*args, expect=expect))
    assert words.lower() in line.lower(), line
    assert store_files(cli) == before


# ------------------------------------------------------------------ LIFE-1: users


def test_life_1_users_edit_seat_read_only_rejects_the_next_message_and_full_logs_it_under_reprocess(team, tmp_path):
    box = put(tmp_path / "M", ("1", mail(1)))
    assert ingest(team, box)["logged"] == 1
    team("users", "edit", ANNA, "--seat", "read-only")
    assert user(team, ANNA)["seat"] == "read-only"
    put(box, ("2", mail(2)))
    assert ingest(team, box)["rejections"] == {"read-only-seat": 1}
    assert [e["message_id"] for e in team.json("emails", "list")] == [mid(1)]  # the one logged before stays

    team("users", "edit", ANNA, "--seat", "full")
    assert user(team, ANNA)["seat"] == "full"
    assert ingest(team, box)["scanned"] == 0  # decided already: only --reprocess decides it again
    again = ingest(team, box, "--reprocess")
    assert again["rejections"] == {}
    assert sorted(e["message_id"] for e in team.json("emails", "list")) == [mid(1), mid(2)]
    assert team.json("rejections") == []


def test_life_1_users_edit_inboxes_aliases_logins_name_and_inbox_permission(team, tmp_path):
    new_inbox, alias = "anna.s@ourco.example", "a.schmidt@ourco.example"
    box = put(tmp_path / "M", ("1", mail(1, frm=new_inbox)))
    assert ingest(team, box)["rejections"] == {"sender-not-a-user": 1}

    out = team(
        "users",
        "edit",
        ANNA,
        "--name",
        "Anna S.",
        "--add-inbox",
        new_inbox,
        "--add-alias",
        alias,
        "--add-login",
        "aschmidt",
    ).stdout
    assert ANNA in out
    u = user(team, ANNA)
    assert (u["name"], u["inboxes"], u["aliases"], u["logins"]) == (
        "Anna S.",
        [ANNA, new_inbox],
        [alias],
        ["anna", "aschmidt"],
    )
    put(box, ("2", mail(2, frm=new_inbox)), ("3", mail(3, frm=alias)))
    assert ingest(team, box)["logged"] == 2
    assert [team.json("attribution", "explain", mid(n))[k] for n in (2, 3) for k in ("user", "rule")] == [
        ANNA,
        "ATTR-1",
        ANNA,
        "ATTR-3",
    ]
    assert ingest(team, box, "--reprocess")["rejections"] == {}  # the message rejected before: logged now
    assert team.json("attribution", "explain", mid(1))["user"] == ANNA and team.json("rejections") == []

    # a login chooses the user of a team inbox's mail (SESSION), from the edit on
    team("team-inboxes", "add", "sales@ourco.example", "--connected-by", BEN)
    team_box = put(tmp_path / "T", ("t1", mail("t1", frm="sales@ourco.example")))
    team("users", "edit", ANNA, "--remove-login", "aschmidt")
    assert "aschmidt" in team("ingest", team_box, "--user", "aschmidt", expect=2).stderr  # no such login now
    team("users", "edit", ANNA, "--add-login", "aschmidt")
    assert ingest(team, team_box, "--user", "aschmidt")["logged"] == 1
    explained = team.json("attribution", "explain", mid("t1"))
    assert (explained["user"], explained["rule"], explained["session_user"]) == (ANNA, "ATTR-T", ANNA)

    team("users", "edit", ANNA, "--remove-inbox", new_inbox, "--remove-alias", alias, "--remove-login", "aschmidt")
    u = user(team, ANNA)
    assert (u["inboxes"], u["aliases"], u["logins"]) == ([ANNA], [], ["anna"])
    put(box, ("4", mail(4, frm=new_inbox)), ("5", mail(5, frm=alias)))
    assert ingest(team, box)["rejections"] == {"sender-not-a-user": 2}

    team("users", "edit", ANNA, "--no-inbox-permission")
    assert user(team, ANNA)["personal_inbox_access"] is False
    put(box, ("6", mail(6)))
    assert ingest(team, box)["rejections"] == {"no-inbox-permission": 1}
    team("users", "edit", ANNA, "--inbox-permission")
    assert user(team, ANNA)["personal_inbox_access"] is True
    put(box, ("7", mail(7)))
    assert ingest(team, box)["logged"] == 1


@pytest.mark.parametrize(
    "option, value",
    [("--remove-inbox", "nope@ourco.example"), ("--remove-alias", "nope@ourco.example"), ("--remove-login", "nope")],
)
def test_life_1_users_edit_removing_a_value_the_user_lacks_is_a_usage_error_that_changes_nothing(team, option, value):
    # with a valid change in the same command: none of it is made
    refused(team, "users", "edit", ANNA, "--name", "Changed", option, value, expect=2, words=value)
    assert user(team, ANNA)["name"] == "Anna"


def test_life_1_users_edit_of_an_unknown_user_changes_nothing(team):
    refused(team, "users", "edit", "nobody@ourco.example", "--name", "X", expect=1, words="nobody@ourco.example")


# ------------------------------------------------------------------ LIFE-1: contacts, companies, deals


def test_life_1_contacts_edit_name_company_and_no_company_apply_to_messages_from_then_on(team, tmp_path):
    box = put(tmp_path / "M", ("1", mail(1)))
    ingest(team, box)
    assert team.json("contacts", "show", LI)["company"] == "acme.example"

    team("contacts", "edit", LI, "--name", "Li Wei (Acme)")
    team("contacts", "edit", LI, "--company", "Acme-Group.example")
    c = team.json("contacts", "show", LI)
    assert (c["name"], c["company"]) == ("Li Wei (Acme)", "acme-group.example")
    companies = {x["domain"]: x for x in team.json("companies", "list")}
    assert set(companies) == {"acme.example", "acme-group.example"}  # created, as it was missing
    assert companies["acme-group.example"]["contacts"] == 1

    put(box, ("2", mail(2)))
    ingest(team, box)
    assert email_row(team, mid(2))["companies"] == ["acme-group.example"]
    assert email_row(team, mid(1))["companies"] == ["acme.example"]  # logged before: as it was logged

    team("contacts", "edit", LI, "--no-company")
    assert team.json("contacts", "show", LI)["company"] is None
    put(box, ("3", mail(3)))
    ingest(team, box)
    assert email_row(team, mid(3))["companies"] == []

    team("contacts", "edit", LI, "--company", "acme.example")  # an existing company: not created again
    assert [x["domain"] for x in team.json("companies", "list")] == ["acme-group.example", "acme.example"]
    assert team.json("contacts", "show", LI)["company"] == "acme.example"

    refused(team, "contacts", "edit", LI, "--company", "x.example", "--no-company", expect=2, words="--no-company")
    refused(team, "contacts", "edit", LI, "--company", "not a domain", expect=2, words="not a domain")
    refused(team, "contacts", "edit", "nobody@nowhere.example", "--name", "N", expect=1, words="nobody@nowhere")


def test_life_1_companies_edit_name(team, tmp_path):
    ingest(team, put(tmp_path / "M", ("1", mail(1))))
    assert team.json("companies", "show", "acme.example")["name"] == "acme.example"
    team("companies", "edit", "ACME.example", "--name", "Acme Industrial")
    shown = team.json("companies", "show", "acme.example")
    assert (shown["name"], shown["contacts"]) == ("Acme Industrial", [LI])
    assert team.json("companies", "list")[0]["name"] == "Acme Industrial"
    refused(team, "companies", "edit", "nowhere.example", "--name", "N", expect=1, words="nowhere.example")


def test_life_1_deals_edit_name_stage_contacts_and_reopen(team, tmp_path):
    team("deals", "add", "Pilot", "--contact", LI)
    box = put(tmp_path / "M", ("1", mail(1, to=MARIA)))
    ingest(team, box)
    assert email_row(team, mid(1))["deals"] == []

    team("deals", "edit", "1", "--name", "Pilot, phase 2", "--add-contact", MARIA)
    (deal,) = team.json("deals", "list")
    assert (deal["name"], deal["stage"], deal["contacts"]) == ("Pilot, phase 2", "open", [LI, MARIA])
    put(box, ("2", mail(2, to=MARIA)))
    ingest(team, box)
    assert email_row(team, mid(2))["deals"] == [1]  # a BCC after --add-contact: with the deal
    assert [d["id"] for d in team.json("contacts", "show", MARIA)["deals"]] == [1]

    team("deals", "edit", "1", "--remove-contact", LI)
    assert team.json("deals", "list")[0]["contacts"] == [MARIA]
    put(box, ("3", mail(3)))
    ingest(team, box)
    assert email_row(team, mid(3))["deals"] == []

    team("deals", "edit", "1", "--stage", "won")
    assert team.json("deals", "list")[0]["stage"] == "won"
    put(box, ("4", mail(4, to=MARIA)))
    ingest(team, box)
    assert email_row(team, mid(4))["deals"] == []  # BCC-3: open deals only

    assert "open" in team("deals", "reopen", "1").stdout
    assert team.json("deals", "list")[0]["stage"] == "open"
    put(box, ("5", mail(5, to=MARIA)))
    ingest(team, box)
    assert email_row(team, mid(5))["deals"] == [1]

    ingest(team, box, "--reprocess")  # the change applies to the messages decided before, now
    assert email_row(team, mid(1))["deals"] == [1] and email_row(team, mid(4))["deals"] == [1]

    refused(team, "deals", "edit", "1", "--remove-contact", LI, expect=2, words=LI)
    refused(team, "deals", "edit", "99", "--name", "N", expect=1, words="99")
    refused(team, "deals", "reopen", "99", expect=1, words="99")
    before = store_files(team)
    team("deals", "edit", "1", "--stage", "pending", expect=2)
    assert store_files(team) == before


# ------------------------------------------------------------------ LIFE-2


def test_life_2_a_deactivated_user_keeps_their_history_and_new_mail_is_rejected(team, tmp_path):
    box = put(tmp_path / "M", ("1", mail(1)), ("2", mail(2, to=MARIA)))
    assert ingest(team, box)["logged"] == 2
    emails, attribution = team.json("emails", "list"), team.json("attribution")
    assert attribution[0]["user"] == ANNA and attribution[0]["logged"] == 2

    assert ANNA in team("users", "deactivate", ANNA).stdout
    assert [(u["email"], u["active"]) for u in team.json("users", "list")] == [(ANNA, False), (BEN, True)]
    put(box, ("3", mail(3)))
    assert ingest(team, box)["rejections"] == {"user-deactivated": 1}
    (rejection,) = team.json("rejections")
    assert (rejection["code"], rejection["sender"], rejection["message_id"]) == ("user-deactivated", ANNA, mid(3))
    assert team.json("emails", "list") == emails
    assert team.json("attribution") == attribution
    assert team.json("attribution", "explain", mid(1))["user"] == ANNA
    assert len(team.json("contacts", "show", LI)["emails"]) == 1

    assert ANNA in team("users", "activate", ANNA).stdout
    assert user(team, ANNA)["active"] is True
    put(box, ("4", mail(4)))
    assert ingest(team, box)["logged"] == 1
    ingest(team, box, "--reprocess")  # the one rejected while she was away: logged now
    assert team.json("rejections") == []
    assert sorted(e["message_id"] for e in team.json("emails", "list")) == [mid(n) for n in (1, 2, 3, 4)]


def test_life_2_users_remove_is_refused_while_emails_are_attributed_and_nothing_changes(team, tmp_path):
    ingest(team, put(tmp_path / "M", ("1", mail(1))))
    refused(team, "users", "remove", ANNA, "--yes", expect=1, words="attributed")
    team("users", "deactivate", ANNA)
    refused(team, "users", "remove", ANNA, "--yes", expect=1, words="attributed")
    assert [u["email"] for u in team.json("users", "list")] == [ANNA, BEN]
    assert email_row(team, mid(1))["user"] == ANNA


def test_life_2_users_remove_of_a_fresh_user_with_yes_removes_them_and_says_so(team):
    team("users", "add", "dora@ourco.example", "--name", "Dora")
    out = team("users", "remove", "dora@ourco.example", "--yes").stdout
    assert "removed user" in out and "dora@ourco.example" in out
    assert [u["email"] for u in team.json("users", "list")] == [ANNA, BEN]
    refused(team, "users", "remove", "dora@ourco.example", "--yes", expect=1, words="dora@ourco.example")


def test_life_2_users_remove_is_refused_for_the_user_who_connected_a_team_inbox(team):
    team("users", "add", "dora@ourco.example")
    team("team-inboxes", "add", "sales@ourco.example", "--connected-by", "dora@ourco.example")
    refused(team, "users", "remove", "dora@ourco.example", "--yes", expect=1, words="sales@ourco.example")


def test_life_2_users_list_json_has_the_contract_fields(team):
    rows = team.json("users", "list")
    assert all(set(r) >= {"email", "name", "seat", "active", "inboxes", "aliases", "logins"} for r in rows)
    assert [(r["email"], r["seat"], r["active"]) for r in rows] == [(ANNA, "full", True), (BEN, "read-only", True)]


# ------------------------------------------------------------------ LIFE-4


def test_life_4_merge_moves_emails_and_deals_and_keeps_the_address_as_an_alias(team, tmp_path):
    a, b = "li@acme.example", LI
    team("deals", "add", "Pilot", "--contact", a)
    team("deals", "add", "Framework", "--contact", b)
    box = put(
        tmp_path / "M",
        ("1", mail(1, to=f"Li <{a}>")),
        ("2", mail(2, to=f"Li Wei <{b}>")),
        ("3", mail(3, to=f"Li <{a}>, Li Wei <{b}>")),
    )
    ingest(team, box)
    assert {c["email"] for c in team.json("contacts", "list")} == {a, b}

    out = team("contacts", "merge", a, b, "--yes").stdout
    assert a in out and b in out
    shown = team.json("contacts", "show", a)  # a merged address shows the contact it went into
    assert shown["email"] == b and shown["aliases"] == [a]
    assert team.json("contacts", "show", b) == shown
    assert sorted(e["message_id"] for e in shown["emails"]) == [mid(1), mid(2), mid(3)]
    assert sorted(d["name"] for d in shown["deals"]) == ["Framework", "Pilot"]
    assert [e["contacts"] for e in team.json("emails", "list")] == [[b], [b], [b]]  # each once
    assert [d["contacts"] for d in team.json("deals", "list")] == [[b], [b]]
    assert [(c["email"], c["emails"]) for c in team.json("contacts", "list")] == [(b, 3)]

    put(box, ("4", mail(4, to=f"Li <{a}>")))
    assert ingest(team, box)["contacts_created"] == 0
    later = email_row(team, mid(4))
    assert later["contacts"] == [b] and sorted(later["deals"]) == [1, 2]
    assert [c["email"] for c in team.json("contacts", "list")] == [b]


def test_life_4_merging_a_contact_into_itself_changes_nothing(team, tmp_path):
    a, b = "li@acme.example", LI
    ingest(team, put(tmp_path / "M", ("1", mail(1, to=a)), ("2", mail(2, to=b))))
    refused(team, "contacts", "merge", b, b, "--yes", expect=2, words="same contact")
    refused(team, "contacts", "merge", b, "nobody@acme.example", "--yes", expect=1, words="nobody@acme.example")
    team("contacts", "merge", a, b, "--yes")
    refused(team, "contacts", "merge", a, b, "--yes", expect=2, words="same contact")  # a is b's now


# ------------------------------------------------------------------ LIFE-3

X = "xerxes.quill@zylo.example"
X_LOCAL = "xerxes.quill"
Y = "yara.north@beta.example"
ONLY_X = b"for Xerxes only: the zylo price list\n" * 20
SHARED = b"%PDF-1.4 the shared brochure\n" * 20
OTHER = b"%PDF-1.4 a sheet only Yara got\n" * 20


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def crm_with_x(team, tmp_path):
    """A CRM where contact X has e-mails of their own (one with an attachment only they got,
    and one shared with Yara's own e-mail), an e-mail shared with Yara that names X in its body
    and in an attachment's file name (over the limit: a notice names it), rejections that name
    X (sent from X's address; X in the subject), and a deal with X and Yara."""
    config = team.config.read_text()
    team.write_config(re.sub(r"max_attachment_bytes = \d+", "max_attachment_bytes = 4000", config))
    team("deals", "add", "Zylo and Beta", "--contact", X, "--contact", Y)
    box = put(
        tmp_path / "M",
        (
            "1",
            mail(1, to=f"Xerxes Quill <{X}>", attachments=[("prices.txt", "text/plain", ONLY_X)]),
        ),
        ("2", mail(2, to=X, attachments=[("brochure.pdf", "application/pdf", SHARED)])),
        (
            "3",
            mail(
                3,
                to=f"Xerxes Quill <{X}>, Yara North <{Y}>",
                subject="Both of you",
                body=f"Hello both,\nXerxes, write to me at anna@ourco.example, not {X.title()}.\n",
                attachments=[
                    ("sheet.pdf", "application/pdf", OTHER),
                    (f"big-{X}.bin", "application/octet-stream", b"\0" * 5000),
                ],
            ),
        ),
        ("4", mail(4, to=Y, body="Yara's own\n", attachments=[("brochure.pdf", "application/pdf", SHARED)])),
        ("5", mail(5, frm=f"Xerxes Quill <{X}>", to=f"Anna <{ANNA}>", subject="A question")),
        ("6", mail(6, frm="dora@ourco.example", to=Y, subject=f"Meet {X}")),
    )
    summary = ingest(team, box)
    assert (summary["logged"], summary["rejections"]) == (4, {"sender-not-a-user": 2})
    assert len(team.json("notices")) == 1 and X in team.json("notices")[0]["detail"]
    assert {d["contacts"] and tuple(d["contacts"]) for d in team.json("deals", "list")} == {(X, Y)}
    assert where_found(team, X)  # the scan finds what is there
    team.box = box
    return team


def test_life_3_forget_erases_the_address_from_every_stored_byte(crm_with_x, capsys):
    cli = crm_with_x
    size_before, packs_before = store_size(cli), packs(cli)
    assert sha(ONLY_X) in cli.attachments()

    out = cli("contacts", "forget", X, "--yes").stdout
    assert X in out and "2 e-mail(s) removed" in out and "1 e-mail(s) changed" in out
    assert "2 rejection(s) removed" in out and "1 notice(s) removed" in out

    size_after = store_size(cli)
    with capsys.disabled():
        print(f"\nLIFE-3 store size: {size_before:,} bytes before forget, {size_after:,} after")
    assert where_found(cli, X, X_LOCAL) == []
    assert [c["email"] for c in cli.json("contacts", "list")] == [Y]
    cli("contacts", "show", X, expect=1)
    assert sorted(e["message_id"] for e in cli.json("emails", "list")) == [mid(3), mid(4)]
    assert cli.json("rejections") == [] and cli.json("notices") == []
    assert [d["contacts"] for d in cli.json("deals", "list")] == [[Y]]

    shared = cli.json("emails", "show", mid(3))
    assert shared["contacts"] == [Y] and shared["to"] == [Y]
    assert shared["text"].startswith("Hello both,\nXerxes, write to me at anna@ourco.example, not [erased].")
    assert [a["filename"] for a in shared["attachments"]] == ["sheet.pdf", "big-[erased].bin"]
    own = cli.json("emails", "show", mid(4), "--save-attachments", cli.tmp / "saved")
    assert own["text"] == "Yara's own\n"
    assert (cli.tmp / "saved" / "brochure.pdf").read_bytes() == SHARED  # shared with an e-mail of X alone: stays
    cli("emails", "show", mid(3), "--save-attachments", cli.tmp / "saved3")
    assert (cli.tmp / "saved3" / "sheet.pdf").read_bytes() == OTHER
    assert sha(ONLY_X) not in cli.attachments()
    assert sha(SHARED) in cli.attachments()
    assert packs(cli).isdisjoint(packs_before)  # every pack that held one of its bodies: written again
    assert size_after < size_before


def test_life_3_no_later_run_creates_the_contact_again_or_logs_to_it_alone(crm_with_x):
    cli = crm_with_x
    cli("contacts", "forget", X, "--yes")
    put(
        cli.box,
        ("7", mail(7, to=f"Xerxes Quill <{X}>", subject="Still there?")),
        ("8", mail(8, to=X.upper())),
    )
    later = ingest(cli, cli.box)
    assert (later["contacts_created"], later["rejections"]) == (0, {"no-recipients": 2})
    assert where_found(cli, X, X_LOCAL) == []

    put(cli.box, ("9", mail(9, to=f"{Y}", cc=X)))
    again = ingest(cli, cli.box, "--reprocess")
    assert again["contacts_created"] == 0
    assert again["rejections"].get("no-recipients") == 4  # the two of X alone before, and the two since
    assert [c["email"] for c in cli.json("contacts", "list")] == [Y]
    assert email_row(cli, mid(9))["contacts"] == [Y]
    assert sorted(e["message_id"] for e in cli.json("emails", "list")) == [mid(3), mid(4), mid(9)]
    assert all(X not in e["contacts"] for e in cli.json("emails", "list"))
    cli("contacts", "show", X, expect=1)


def test_life_3_no_later_run_brings_the_address_back_into_the_store(crm_with_x):
    """After the erasure, a run that decides a message naming X (sent from X's address, shared
    with X in Cc), --reprocess included, stores no e-mail, body, rejection or run listing that
    names X."""
    cli = crm_with_x
    cli("contacts", "forget", X, "--yes")
    put(cli.box, ("7", mail(7, frm=X, to=f"Anna <{ANNA}>", subject="Me again")), ("9", mail(9, to=Y, cc=X)))
    assert ingest(cli, cli.box)["rejections"] == {"sender-not-a-user": 1}
    assert email_row(cli, mid(9))["contacts"] == [Y]
    assert where_found(cli, X, X_LOCAL) == []
    ingest(cli, cli.box, "--reprocess")
    assert [c["email"] for c in cli.json("contacts", "list")] == [Y]
    assert where_found(cli, X, X_LOCAL) == []


def test_life_3_a_shared_email_decided_again_after_forget_keeps_the_address_out(crm_with_x):
    """Under --reprocess, an e-mail shared with a forgotten contact that is now decided
    differently (another deal) is logged again from the message itself: the erased address
    must not come back with it, in its record or its body."""
    cli = crm_with_x
    cli("contacts", "forget", X, "--yes")
    cli("deals", "add", "Beta renewal", "--contact", Y)
    ingest(cli, cli.box, "--reprocess")
    shared = cli.json("emails", "show", mid(3))
    assert shared["contacts"] == [Y] and sorted(shared["deals"]) == [1, 2]
    assert where_found(cli, X, X_LOCAL) == []


def test_life_3_forgetting_a_users_own_address_or_an_unknown_one_changes_nothing(crm_with_x):
    cli = crm_with_x
    refused(cli, "contacts", "forget", ANNA, "--yes", expect=1, words=ANNA)
    refused(cli, "contacts", "forget", "nobody@zylo.example", "--yes", expect=1, words="nobody@zylo.example")
    assert X in [c["email"] for c in cli.json("contacts", "list")]


def test_life_3_a_contact_whose_address_became_a_users_is_not_forgotten(team, tmp_path):
    ingest(team, put(tmp_path / "M", ("1", mail(1, to="dora@ourco.example"))))
    team("users", "add", "dora@ourco.example")
    refused(team, "contacts", "forget", "dora@ourco.example", "--yes", expect=1, words="dora@ourco.example")


# ------------------------------------------------------------------ LIFE-5

U1 = b"only the first e-mail has this\n" * 10
S = b"the second and third have this\n" * 10


@pytest.fixture
def three_emails(team, tmp_path):
    box = put(
        tmp_path / "M",
        ("1", mail(1, attachments=[("one.txt", "text/plain", U1)])),
        ("2", mail(2, body="Body two\n", attachments=[("s.txt", "text/plain", S)])),
        ("3", mail(3, body="Body three\n", attachments=[("s.txt", "text/plain", S)])),
    )
    assert ingest(team, box)["logged"] == 3
    assert len(packs(team)) == 1  # one batch: one pack holds the three bodies
    team.box = box
    return team


def test_life_5_delete_by_id_removes_record_body_and_unique_attachment(three_emails):
    cli = three_emails
    (old_pack,) = packs(cli)
    first = email_row(cli, mid(1))["id"]

    out = cli("emails", "delete", str(first), "--yes").stdout
    assert f"deleted e-mail {first}" in out and mid(1) in out and "1 e-mail(s) removed" in out
    assert sorted(e["message_id"] for e in cli.json("emails", "list")) == [mid(2), mid(3)]
    assert mid(1) not in [e["message_id"] for e in cli.json("contacts", "show", LI)["emails"]]
    cli("emails", "show", mid(1), expect=1)
    assert old_pack not in packs(cli) and len(packs(cli)) == 1
    assert cli.json("emails", "show", mid(2))["text"] == "Body two\n"
    assert cli.json("emails", "show", mid(3))["text"] == "Body three\n"
    assert sha(U1) not in cli.attachments() and sha(S) in cli.attachments()
    assert where_found(cli, "only the first e-mail has this") == []
    assert where_found(cli, "Body two")  # the scan reads the packs


@pytest.mark.parametrize("form", ["{mid}", "<{mid}>"])
def test_life_5_delete_by_message_id_with_or_without_brackets(three_emails, form):
    cli = three_emails
    cli("emails", "delete", form.format(mid=mid(2)), "--yes")
    assert sorted(e["message_id"] for e in cli.json("emails", "list")) == [mid(1), mid(3)]
    assert sha(S) in cli.attachments()  # the third e-mail has it too
    cli("emails", "delete", form.format(mid=mid(3)), "--yes")
    assert sha(S) not in cli.attachments()
    assert cli.json("emails", "show", mid(1))["text"] == "Hello there\n"


def test_life_5_a_deleted_email_stays_decided_under_reprocess(three_emails):
    cli = three_emails
    cli("emails", "delete", mid(1), "--yes")
    again = ingest(cli, cli.box, "--reprocess")
    assert (again["duplicates"], again["logged"], again["contacts_created"]) == (1, 2, 0)  # 2: the same again
    assert sorted(e["message_id"] for e in cli.json("emails", "list")) == [mid(2), mid(3)]
    assert cli.json("rejections") == []
    listed = ingest(cli, cli.box, "--reprocess", "--list", "--dry-run")["messages"]
    assert next(m for m in listed if m["message_id"] == mid(1))["outcome"] == "duplicate"


def test_life_5_delete_of_an_unknown_email_changes_nothing(three_emails):
    refused(three_emails, "emails", "delete", "99", "--yes", expect=1, words="99")
    refused(three_emails, "emails", "delete", "<nope@ourco.example>", "--yes", expect=1, words="nope@ourco.example")


# ------------------------------------------------------------------ LIFE-8


DESTRUCTIVE = {  # the command, and what its one line says it did
    "forget": (["contacts", "forget", MARIA], [f"forgot {MARIA}:", "1 e-mail(s) removed", "file(s) removed"]),
    "merge": (["contacts", "merge", MARIA, LI], [f"merged {MARIA} into {LI}:", "1 e-mail(s) changed"]),
    "delete": (["emails", "delete", mid(1)], [f"deleted e-mail 1 <{mid(1)}>:", "1 e-mail(s) removed"]),
    "remove": (["users", "remove", "dora@ourco.example"], ["removed user 3: dora@ourco.example"]),
    "undo": (["runs", "undo", "1"], ["undid run 1:", "record(s) removed", "file(s) removed"]),
}


@pytest.fixture
def destructible(team, tmp_path):
    team("users", "add", "dora@ourco.example")
    ingest(team, put(tmp_path / "M", ("1", mail(1)), ("2", mail(2, to=MARIA))))
    return team


@pytest.mark.parametrize("command", sorted(DESTRUCTIVE))
def test_life_8_a_destructive_command_off_a_terminal_needs_yes(destructible, command):
    args, _ = DESTRUCTIVE[command]
    refused(destructible, *args, expect=2, words="--yes")


@pytest.mark.parametrize("command", sorted(DESTRUCTIVE))
def test_life_8_with_yes_it_is_done_and_says_what_it_removed(destructible, command):
    args, said = DESTRUCTIVE[command]
    before = store_files(destructible)
    (line,) = destructible(*args, "--yes").stdout.strip().splitlines()
    assert line.startswith(said[0]) and all(words in line for words in said), line
    assert store_files(destructible) != before


def read_until(fd: int, wanted: bytes, seen: bytearray) -> bool:
    """Read the terminal's output into `seen` until `wanted` appears (True) or the process
    closes it (False). The wait is only a guard against a hang, not a measure of speed."""
    while wanted not in seen:
        ready, _, _ = select.select([fd], [], [], 120)
        assert ready, f"no {wanted!r} on the terminal; it showed {bytes(seen)!r}"
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the process ended and closed the terminal
            return False
        if not chunk:
            return False
        seen += chunk
    return True


def on_a_terminal(cli: Cli, answer: bytes, *args: str, while_asked=lambda: None) -> tuple[int, str]:
    """The real CLI with a pseudo-terminal as its stdin, stdout and stderr, answering `answer`
    to its question (after `while_asked()`): its exit status and what the terminal showed."""
    master, slave = os.openpty()
    proc = subprocess.Popen(cli.argv(*args), stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    seen = bytearray()
    try:
        assert read_until(master, b"[y/N]", seen), bytes(seen)
        while_asked()
        os.write(master, answer + b"\n")
        read_until(master, b"\0never\0", seen)
        return proc.wait(timeout=120), seen.decode("utf-8", "replace")
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("command", ["delete", "forget"])
def test_life_8_on_a_terminal_it_asks_and_no_changes_nothing(destructible, command):
    args, _ = DESTRUCTIVE[command]
    before = store_files(destructible)
    status, shown = on_a_terminal(destructible, b"n", *args)
    assert status == 1 and "nothing was changed" in shown, shown
    assert store_files(destructible) == before


@pytest.mark.parametrize("command", ["delete", "forget"])
def test_life_8_on_a_terminal_yes_does_it(destructible, command):
    args, said = DESTRUCTIVE[command]
    status, shown = on_a_terminal(destructible, b"y", *args)
    assert status == 0 and said[0] in shown, shown
    if command == "delete":
        assert [e["message_id"] for e in destructible.json("emails", "list")] == [mid(2)]
    else:
        assert [c["email"] for c in destructible.json("contacts", "list")] == [LI]


def test_life_8_the_question_holds_no_lock_and_the_answer_is_worked_out_again(destructible):
    """While the user reads the question, a cron run or an edit writes (no exit 75); the
    command, answered yes, does what is true then."""
    args, said = DESTRUCTIVE["delete"]
    status, shown = on_a_terminal(
        destructible, b"y", *args, while_asked=lambda: destructible("users", "add", "erin@ourco.example")
    )
    assert status == 0 and said[0] in shown, shown
    assert "erin@ourco.example" in [u["email"] for u in destructible.json("users", "list")]
    assert [e["message_id"] for e in destructible.json("emails", "list")] == [mid(2)]


# ------------------------------------------------------------------ with the runs' undo journals (LIFE-6)


def test_life_3_forget_after_a_reprocess_run_leaves_no_old_body_behind(crm_with_x, tmp_path):
    """A --reprocess run that logged the shared e-mail again keeps its old record in the run's
    undo journal, its old body in the old pack (here a pack of its own): forgetting X takes
    the address out of that too."""
    cli = crm_with_x
    box = put(
        tmp_path / "N",
        ("9", mail(9, to=f"{X}, {Y}", body=f"Yara, Xerxes ({X}) joins us.\n")),
        ("10", mail(10, to=Y, body=f"Yara: Xerxes is {X}.\n")),
    )
    ingest(cli, box, "--batch-size", "1")
    cli("deals", "add", "Beta renewal", "--contact", Y)
    ingest(cli, box, "--reprocess", "--batch-size", "1")  # both decided again: the new deal
    cli("contacts", "forget", X, "--yes")
    assert where_found(cli, X, X_LOCAL) == []
    assert "[erased]" in cli.json("emails", "show", mid(10))["text"]


def test_life_5_undo_of_a_run_after_a_delete_leaves_every_email_readable(three_emails):
    """A --reprocess run replaced an e-mail; an e-mail of the same old pack is deleted (the pack
    written again); undoing the run puts the replaced record back, and its body must be there."""
    cli = three_emails
    cli("deals", "add", "Pilot", "--contact", LI)
    assert ingest(cli, cli.box, "--reprocess")["logged"] == 3  # each linked to the deal now: replaced
    runs = cli.json("runs", "list")
    cli("emails", "delete", mid(1), "--yes")
    cli("runs", "undo", str(runs[0]["id"]), "--yes")
    assert sorted(e["message_id"] for e in cli.json("emails", "list")) == [mid(2), mid(3)]
    assert [cli.json("emails", "show", mid(n))["text"] for n in (2, 3)] == ["Body two\n", "Body three\n"]


def test_life_5_undo_of_a_run_does_not_bring_a_deleted_email_back(three_emails):
    cli = three_emails
    cli("deals", "add", "Pilot", "--contact", LI)
    ingest(cli, cli.box, "--reprocess")  # replaces the three e-mails (their old records in its journal)
    cli("emails", "delete", mid(2), "--yes")
    cli("runs", "undo", str(cli.json("runs", "list")[0]["id"]), "--yes")
    assert sorted(e["message_id"] for e in cli.json("emails", "list")) == [mid(1), mid(3)]
    assert where_found(cli, "Body two") == []


def test_life_4_undo_of_a_run_after_a_merge_keeps_the_emails_on_the_contact_merged_into(team, tmp_path):
    a, b = "li@acme.example", LI
    box = put(tmp_path / "M", ("1", mail(1, to=a)), ("2", mail(2, to=b)))
    ingest(team, box)
    team("deals", "add", "Pilot", "--contact", a)
    ingest(team, box, "--reprocess")  # the e-mail to a is linked to the deal now: replaced
    team("contacts", "merge", a, b, "--yes")
    team("runs", "undo", str(team.json("runs", "list")[0]["id"]), "--yes")
    assert [e["contacts"] for e in team.json("emails", "list")] == [[b], [b]]
    assert sorted(e["message_id"] for e in team.json("contacts", "show", b)["emails"]) == [mid(1), mid(2)]


def test_life_1_deals_edit_add_contact_by_a_merged_address_names_the_contact_it_went_into(team, tmp_path):
    a, b = "li@acme.example", LI
    ingest(team, put(tmp_path / "M", ("1", mail(1, to=a)), ("2", mail(2, to=b))))
    team("contacts", "merge", a, b, "--yes")
    team("deals", "add", "Pilot", "--contact", MARIA)
    team("deals", "edit", "1", "--add-contact", a)
    assert team.json("deals", "list")[0]["contacts"] == [MARIA, b]
    team("deals", "edit", "1", "--remove-contact", a)
    assert team.json("deals", "list")[0]["contacts"] == [MARIA]
    team("deals", "add", "Renewal", "--contact", a, "--contact", b)  # deals add names them the same way
    assert team.json("deals", "list")[1]["contacts"] == [b]


def test_life_3_a_forgotten_address_cannot_be_added_to_a_deal(crm_with_x):
    cli = crm_with_x
    cli("contacts", "forget", X, "--yes")
    refused(cli, "deals", "edit", "1", "--add-contact", X, expect=2, words="forget")
    refused(cli, "deals", "add", "New", "--contact", X, expect=2, words="forget")
    assert where_found(cli, X) == []


def test_life_3_forget_keeps_an_attachment_that_an_undo_puts_back(team, tmp_path):
    """Yara's e-mail, rejected under --reprocess, is kept in that run's journal with its
    attachment; the same attachment on an e-mail of X alone, forgotten, stays for the undo."""
    box = put(tmp_path / "M", ("1", mail(1, to=Y, attachments=[("brochure.pdf", "application/pdf", SHARED)])))
    ingest(team, box)
    team("users", "edit", ANNA, "--seat", "read-only")
    assert ingest(team, box, "--reprocess")["rejections"] == {"read-only-seat": 1}
    team("users", "edit", ANNA, "--seat", "full")
    put(box, ("2", mail(2, to=X, attachments=[("brochure.pdf", "application/pdf", SHARED)])))
    assert ingest(team, box)["logged"] == 1
    team("contacts", "forget", X, "--yes")
    for run in sorted((r["id"] for r in team.json("runs", "list") if not r["undone"]), reverse=True)[:2]:
        team("runs", "undo", str(run), "--yes")
    assert [e["message_id"] for e in team.json("emails", "list")] == [mid(1)]
    team("emails", "show", mid(1), "--save-attachments", tmp_path / "saved")
    assert (tmp_path / "saved" / "brochure.pdf").read_bytes() == SHARED


def stored_runs(cli: Cli) -> dict:
    return crm_state.docs(cli.db, "runs") if isinstance(cli.db, str) else stored_tables(cli.db)["runs"]


def test_life_3_and_4_leave_the_runs_they_do_not_touch_as_they_were(team, tmp_path):
    box = put(tmp_path / "M", ("1", mail(1, to="ola@gamma.example")))
    ingest(team, box)
    team("runs", "undo", "1", "--yes")  # run 1: undone, its journal spent
    ingest(team, box)  # run 2 logs it again
    put(box, ("2", mail(2, to=MARIA)), ("3", mail(3)))
    ingest(team, box)  # run 3: Maria and Li
    before = stored_runs(team)
    team("contacts", "merge", MARIA, LI, "--yes")
    assert {k: v for k, v in stored_runs(team).items() if k != "3"} == {k: before[k] for k in ("1", "2")}
    out = team("contacts", "forget", LI, "--yes").stdout
    assert "1 run listing(s) cleaned" in out  # run 3's
    assert {k: v for k, v in stored_runs(team).items() if k != "3"} == {k: before[k] for k in ("1", "2")}
    assert where_found(team, LI, MARIA) == []


def test_life_2_reprocess_keeps_a_deactivated_users_logged_emails(team, tmp_path):
    """LIFE-2: a deactivated user's logged e-mails and credit stay as they are, --reprocess
    included (only their new mail is rejected user-deactivated)."""
    box = put(tmp_path / "M", ("1", mail(1)), ("2", mail(2, to=MARIA)))
    ingest(team, box)
    emails, attribution = team.json("emails", "list"), team.json("attribution")
    team("users", "deactivate", ANNA)
    ingest(team, box, "--reprocess")
    assert team.json("emails", "list") == emails
    assert team.json("attribution") == attribution


def test_life_5_undo_after_a_delete_leaves_no_body_of_the_undone_run(three_emails):
    """The pack a delete wrote (the bodies that stayed) holds the run's e-mails' bodies: undoing
    the run leaves none of them on disk."""
    cli = three_emails
    cli("emails", "delete", mid(1), "--yes")
    cli("runs", "undo", "1", "--yes")
    assert cli.json("emails", "list") == []
    assert where_found(cli, "Body two", "Body three") == []


def test_life_3_forget_takes_the_whole_address_and_leaves_addresses_that_end_the_same(team, tmp_path):
    """`li@acme.example` is not `eli@acme.example`: forgetting the one leaves the other's
    e-mail, rejection and text whole; the forgotten one goes in every form it is written in."""
    li, eli = "li@acme.example", "eli@acme.example"
    box = put(
        tmp_path / "M",
        ("1", mail(1, to=li)),
        ("2", mail(2, to=eli, subject=f"for {eli} only", body=f"Hello {eli}, also ali@acme.example.org\n")),
        ("3", mail(3, frm=eli, to=ANNA, subject="from eli")),  # rejected sender-not-a-user, names eli
        (
            "4",
            mail(
                4,
                to=f"{eli}, {MARIA}",
                body="Write to li+sales@acme.example, <a href='mailto:li%40acme.example'>li&#64;acme.example</a>\n",
            ),
        ),
    )
    ingest(team, box)
    team("contacts", "forget", li, "--yes")
    shown = team.json("emails", "show", mid(2))
    assert (shown["subject"], shown["text"]) == (f"for {eli} only", f"Hello {eli}, also ali@acme.example.org\n")
    assert [r["sender"] for r in team.json("rejections")] == [eli]
    assert {m["message_id"] for m in team.json("runs", "show", "1")["messages"]} == {mid(2), mid(3), mid(4)}
    kept = team.json("emails", "show", mid(4))["text"]
    assert kept == "Write to [erased], <a href='mailto:[erased]'>[erased]</a>\n"
    assert not [f for f, _ in where_found(team, "li+sales@", "li%40acme", "li&#64;acme", f" {li}", f"'{li}")]


def test_life_3_and_6_an_undo_after_forget_puts_a_shared_email_back_without_the_address(team, tmp_path):
    """A --reprocess run replaced an e-mail shared by li and eli; li is forgotten; undoing the
    run puts back the e-mail as it was before the run, for eli, without li's address."""
    li, eli = "li@acme.example", "eli@acme.example"
    box = put(tmp_path / "M", ("1", mail(1, to=li, cc=eli, body=f"Dear {li} and {eli}\n")))
    ingest(team, box)
    team("deals", "add", "Eli deal", "--contact", eli)
    assert ingest(team, box, "--reprocess")["run"] == 2  # the e-mail now has the deal: replaced
    team("contacts", "forget", li, "--yes")
    team("runs", "undo", "2", "--yes")
    (email,) = team.json("emails", "list")
    assert (email["message_id"], email["contacts"], email["deals"]) == (mid(1), [eli], [])
    assert team.json("emails", "show", mid(1))["text"] == f"Dear [erased] and {eli}\n"
    whole = re.compile(rb"(?<![\w.+])li@acme\.example")  # li's address, not the end of eli's
    assert [n for n, data in store_files(team).items() if any(whole.search(t) for t in readable(n, data))] == []


def test_life_4_and_6_undo_of_the_run_that_made_the_contact_merged_into_puts_the_other_back(team, tmp_path):
    """Run 1 made li.old, run 2 made li; li.old merged into li; undoing run 2 takes li away
    and puts li.old back, with its e-mail on it, as before run 2."""
    old, new = "li.old@acme.example", "li@acme.example"
    first = put(tmp_path / "A", ("1", mail(1, to=f"Old Li <{old}>")))
    ingest(team, first)
    before = {k: team.json(*k.split()) for k in ("contacts list", "emails list", "deals list")}
    ingest(team, put(tmp_path / "B", ("2", mail(2, to=f"Li <{new}>"))))
    team("contacts", "merge", old, new, "--yes")
    team("runs", "undo", "2", "--yes")
    assert {k: team.json(*k.split()) for k in before} == before
    assert team.json("contacts", "show", old)["email"] == old


def test_life_2_users_remove_is_refused_while_an_undo_would_credit_them_again(team, tmp_path):
    """Dora's e-mail, rejected under --reprocess once her seat is read-only, is kept in that
    run's undo journal: removing her would leave an undo crediting a user who is gone."""
    team("users", "add", "dora@ourco.example", "--inbox", "dora@ourco.example")
    box = put(tmp_path / "M", ("1", mail(1, frm="dora@ourco.example")))
    ingest(team, box)
    team("users", "edit", "dora@ourco.example", "--seat", "read-only")
    assert ingest(team, box, "--reprocess")["rejections"] == {"read-only-seat": 1}
    assert team.json("emails", "list") == []
    refused(team, "users", "remove", "dora@ourco.example", "--yes", expect=1, words="undoing run 2")
    team("runs", "undo", "2", "--yes")
    assert [e["user"] for e in team.json("emails", "list")] == ["dora@ourco.example"]


KILLED_BEFORE_THE_WRITE = """
import os, sys
from crmlog.store import jsonfile
jsonfile.JsonEngine.write = lambda self, changes: os._exit(9)  # killed just before the database write
from crmlog.cli.app import main
main(sys.argv[1:])
"""


@pytest.mark.json_only("kills the process inside the JSON engine's write, and counts its files")
def test_life_3_forget_killed_before_its_write_leaves_every_run_listing_as_it_was(crm_with_x):
    """A listing written anew goes under a new name, and the database write is the switch."""
    cli = crm_with_x
    before = store_files(cli)
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            KILLED_BEFORE_THE_WRITE,
            "--config",
            str(cli.config),
            "--db",
            str(cli.db),
            "contacts",
            "forget",
            X,
            "--yes",
        ],
        capture_output=True,
    )
    assert proc.returncode == 9
    after = store_files(cli)
    assert {n: d for n, d in after.items() if n in before} == before  # every file of the store as it was
    assert len(cli.json("runs", "show", "1")["messages"]) == 6  # no row of its listing gone
    cli("contacts", "forget", X, "--yes")  # the next writer finishes the job, and removes the stray files
    assert where_found(cli, X) == []
