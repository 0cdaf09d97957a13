"""LIFE-6 and LIFE-7 through the real CLI: runs recorded, listed and shown; undoing the newest
run leaves the CRM as if it had never happened (records, files on disk, the mailboxes' state),
in order, only with --yes off a terminal, and crash-safe under SIGKILL at any moment; `ingest
--list` (with --dry-run, with --reprocess) says message by message what a run does or would do.

CRMLOG_UNDO_KILLS sets the number of timed kills of the crash test (24 by default)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import crmlog_state as crm_state
import pytest
from conftest import LOG, Cli, eml, make_maildir
from stored import tables as stored_tables

from crmlog.records import Email
from crmlog.store import Store

RUN_KEYS = {
    "id",
    "started",
    "finished",
    "paths",
    "user",
    "dry_run",
    "undone",
    "scanned",
    "logged",
    "rejected",
    "skipped",
    "duplicates",
    "contacts_created",
}
MESSAGE_KEYS = {
    "identity",  # ONCE-1: the Message-ID, or the sha256 of a message without one
    "deals",  # of a logged one
    "source",
    "key",
    "message_id",
    "from",
    "subject",
    "outcome",
    "code",
    "reason",
    "user",
    "contacts",
    "email_id",
    "change",
    "before",
}
ANNA, BEN, CARL = "anna@ourco.example", "ben@ourco.example", "carl@ourco.example"
FROM_ = b"From anna@ourco.example Mon Jun  1 09:00:00 2026\n"
ATTACHMENT_LIMIT = 2000  # bytes: a bigger attachment is left out, with a delivery-error notice


def mbox_of(*messages: bytes) -> bytes:
    return b"".join(FROM_ + m + b"\n" for m in messages)


def message(n: int | str, *, frm: str = ANNA, to: str = "Li Wei <li@acme.example>", **kw) -> bytes:
    """A message to the logging address, numbered n (its Message-ID and subject)."""
    return eml(frm=frm, bcc=LOG, to=to, message_id=f"<m{n}@ourco.example>", subject=f"message {n}", **kw)


def not_for_us(n: int) -> bytes:
    return eml(to="Li Wei <li@acme.example>", message_id=f"<x{n}@ourco.example>", subject=f"private {n}")


def limit_attachments(cli: Cli, limit: int = ATTACHMENT_LIMIT) -> None:
    text = cli.config.read_text()
    assert "max_attachment_bytes = 52428800" in text
    cli.config.write_text(text.replace("max_attachment_bytes = 52428800", f"max_attachment_bytes = {limit}"))


def files(cli: Cli, folder: str) -> set[str]:
    """The files of crm.bodies or crm.attachments (on a server: its packs, its attachments)."""
    if isinstance(cli.db, str):
        return {name.split("/")[1] for name in crm_state.files(cli.db) if name.startswith(f"{folder}/")}
    where = cli.db.parent / f"{cli.db.stem}.{folder}"
    return {p.name for p in where.iterdir()} if where.exists() else set()


def stored(cli: Cli) -> dict:
    """The database's records as stored, but for the runs themselves and the file counters: what
    an undone run must leave exactly as before it (a mailbox folder's keys as a set)."""
    data = crm_state.tables(cli.db) if isinstance(cli.db, str) else stored_tables(cli.db)
    data.pop("runs", None)
    for meta in data.get("meta", {}).values():
        meta.pop("packs", None)  # pack numbers are never used twice: the counter stays on
        meta.pop("garbage", None)  # files an undo removed, named for a crash in between
    for source in data.get("sources", {}).values():
        source["keys"] = sorted(source.get("keys", ()))
    return {table: docs for table, docs in data.items() if docs}


def everything(cli: Cli, *, runs: bool = False) -> dict:
    """The whole CRM as a user sees it: every export, every listing, every e-mail's body (read
    from its pack), the records as stored, and the files beside the database; with
    `runs`, the runs listed too."""
    state: dict = {"runs list": [{k: r[k] for k in RUN_KEYS} for r in cli.json("runs", "list")]} if runs else {}
    for kind in ("contacts", "companies", "deals", "emails"):
        out = cli("export", kind, "--format", "jsonl").stdout
        state[f"export {kind}"] = [json.loads(line) for line in out.splitlines()]
    for view in (
        ("contacts", "list"),
        ("companies", "list"),
        ("deals", "list"),
        ("emails", "list"),
        ("rejections",),
        ("notices",),
        ("users", "list"),
        ("team-inboxes", "list"),
    ):
        state[" ".join(view)] = cli.json(*view)
    with Store.reader(cli.db) as store:
        state["bodies read"] = {e.id: store.body(e).to_doc() for e in store.read(Email)}
    state["stored"] = stored(cli)
    state["bodies"] = files(cli, "bodies")
    state["attachments"] = files(cli, "attachments")
    return state


def in_id_order(state: dict) -> dict:
    """A state with its exported e-mails in id order."""
    return {**state, "export emails": sorted(state["export emails"], key=lambda e: e["id"])}


def without_ids(messages: list[dict]) -> list[dict]:
    return [{**m, "email_id": None} for m in messages]


# ------------------------------------------------------------------ LIFE-6: runs recorded


def test_life_6_runs_list_and_show_newest_first_with_counts_user_and_the_listing(team, tmp_path):
    first = make_maildir(
        tmp_path / "First",
        {"": [("1", message(1)), ("2", message(2, frm=BEN)), ("3", not_for_us(3))]},
    )
    second = make_maildir(
        tmp_path / "Second",
        {
            "": [
                ("4", message(4, to="Wang Fang <wang@huaxin.example>")),
                ("5", message(5, frm="stranger@else.example")),
                ("6", message(6, to="Hans <hans@beispiel.example>")),
            ],
            ".Sent": [("1", message(1))],  # the copy of a message logged by the first run
        },
    )
    one = team.json("ingest", first, "--list")
    two = team.json("ingest", second, "--list", "--user", "anna")
    assert (one["run"], two["run"]) == (1, 2)

    listed = team.json("runs", "list")
    assert [r["id"] for r in listed] == [2, 1]  # newest first
    assert all(set(r) >= RUN_KEYS for r in listed)
    counts = [{k: r[k] for k in RUN_KEYS - {"id", "started", "finished"}} for r in listed]
    assert counts == [
        {
            "paths": [str(second)],
            "user": "anna",
            "dry_run": False,
            "undone": False,
            "scanned": 4,
            "logged": 2,
            "rejected": 1,
            "skipped": 0,
            "duplicates": 1,
            "contacts_created": 2,
        },
        {
            "paths": [str(first)],
            "user": None,
            "dry_run": False,
            "undone": False,
            "scanned": 3,
            "logged": 1,
            "rejected": 1,
            "skipped": 1,
            "duplicates": 0,
            "contacts_created": 1,
        },
    ]
    assert all(r["started"] <= r["finished"] for r in listed)
    assert listed[1]["finished"] <= listed[0]["started"]

    for summary in (one, two):
        shown = team.json("runs", "show", str(summary["run"]))
        row = next(r for r in listed if r["id"] == summary["run"])
        assert {k: shown[k] for k in RUN_KEYS} == {k: row[k] for k in RUN_KEYS}
        assert all(set(m) == MESSAGE_KEYS for m in shown["messages"])
        assert without_ids(shown["messages"]) == without_ids(summary["messages"])  # what ingest --list said
        assert all(m["change"] is None and m["before"] is None for m in shown["messages"])
    assert [(m["subject"], m["outcome"], m["code"], m["user"]) for m in two["messages"]] == [
        ("message 4", "logged", None, ANNA),
        ("message 5", "rejected", "sender-not-a-user", None),
        ("message 6", "logged", None, ANNA),
        ("message 1", "duplicate", None, None),
    ]
    logged = {e["message_id"]: e["id"] for e in team.json("emails", "list")}
    assert {m["message_id"]: m["email_id"] for m in two["messages"] if m["outcome"] == "logged"} == {
        "m4@ourco.example": logged["m4@ourco.example"],
        "m6@ourco.example": logged["m6@ourco.example"],
    }

    # a dry run is not recorded, nor a run that found nothing new (it writes nothing)
    before = team.snapshot()
    assert team.json("ingest", first, "--dry-run", "--reprocess")["run"] is None
    assert team.json("ingest", first, second)["run"] is None
    assert team.snapshot() == before
    assert [r["id"] for r in team.json("runs", "list")] == [2, 1]
    team("runs", "show", "3", "--json", expect=1)


# ------------------------------------------------------------------ LIFE-6: undo is exact


@pytest.fixture
def earlier(team, tmp_path):
    """A CRM after a first run: a logged e-mail with an attachment, on a deal; a rejected one
    (its sender, Carl, is no user yet); a message not for the CRM. Attachments are limited."""
    limit_attachments(team)
    team("deals", "add", "Acme pilot", "--contact", "li@acme.example", "--created", "2026-05-01T10:00:00Z")
    box = make_maildir(
        tmp_path / "Maildir",
        {
            "": [
                ("1", message(1, attachments=[("quote.pdf", "application/pdf", b"%PDF quote " * 20)])),
                ("2", message(2, frm=CARL, to="Hans <hans@beispiel.example>")),
                ("3", not_for_us(3)),
            ]
        },
    )
    summary = team.json("ingest", box)
    assert (summary["run"], summary["logged"], summary["rejected"]) == (1, 1, 1)
    team.box = box
    return team


def test_life_6_undo_leaves_the_crm_exactly_as_before_the_run(earlier, tmp_path):
    team, box = earlier, earlier.box
    team("users", "add", CARL, "--name", "Carl")  # his rejected message is logged when decided again
    make_maildir(
        box,
        {
            "": [
                (
                    "4",
                    message(
                        4,
                        to="Wang Fang <wang@huaxin.example>",
                        attachments=[
                            ("notes.txt", "text/plain", b"new notes"),
                            ("drawings.bin", "application/octet-stream", b"\x00" * (ATTACHMENT_LIMIT + 1)),
                        ],
                    ),
                ),
                ("5", message(5, frm=BEN)),  # read-only seat
                # the same attachment as the first run's e-mail: its file is the first run's
                ("6", message(6, attachments=[("quote.pdf", "application/pdf", b"%PDF quote " * 20)])),
            ]
        },
    )
    mbox = tmp_path / "mail.mbox"
    mbox.write_bytes(
        mbox_of(
            message(7, to="Maria Rossi <maria@rossi.example>", attachments=[("m.txt", "text/plain", b"maria")]),
            message(8, frm="stranger@else.example"),
        )
    )
    before = everything(team)
    assert before["rejections"][0]["sender"] == CARL
    (earlier_attachment,) = before["attachments"]

    run = team.json("ingest", box, mbox, "--reprocess", "--user", "anna", "--list")
    assert (run["run"], run["logged"], run["rejected"], run["contacts_created"], run["notices"]) == (2, 5, 2, 3, 1)
    assert {m["subject"]: m["change"] for m in run["messages"]} == {
        "message 1": "same",
        "message 2": "changed",
        "message 4": "new",
        "message 5": "new",
        "message 6": "new",
        "message 7": "new",
        "message 8": "new",
    }
    after = everything(team)
    assert CARL not in [r["sender"] for r in after["rejections"]]  # logged now: his rejection is gone
    assert len(after["notices"]) == 1 and after["notices"][0]["kind"] == "delivery-error"
    assert {c["domain"] for c in after["companies list"]} > {c["domain"] for c in before["companies list"]}
    new_attachments = after["attachments"] - before["attachments"]
    new_packs = after["bodies"] - before["bodies"]
    assert len(new_attachments) == 2 and new_packs and earlier_attachment in after["attachments"]

    undone = team("runs", "undo", "2", "--yes")
    assert undone.stdout.startswith("undid run 2:")
    assert everything(team) == before  # records, listings, bodies, the mailboxes' state, the files
    assert not (new_attachments | new_packs) & (files(team, "attachments") | files(team, "bodies"))
    assert files(team, "attachments") == {earlier_attachment}
    (back,) = team.json("rejections")  # the first run's rejection, as it was
    assert (back["sender"], back["code"]) == (CARL, "sender-not-a-user")
    listed = team.json("runs", "list")
    assert [(r["id"], r["undone"]) for r in listed] == [(2, True), (1, False)]
    assert len(team.json("runs", "show", "2")["messages"]) == 7  # what it did stays on record


@pytest.mark.parametrize("kind", ["maildir", "mbox"])
def test_life_6_after_undo_the_next_plain_run_reads_the_messages_again_and_logs_them_again(team, tmp_path, kind):
    first = [message(1), message(2, frm="stranger@else.example"), not_for_us(3)]
    then = [
        message(4, to="Wang Fang <wang@huaxin.example>", attachments=[("a.txt", "text/plain", b"four")]),
        message(5, to="Hans <hans@beispiel.example>", attachments=[("b.txt", "text/plain", b"five")]),
        message(6, frm=BEN),
        not_for_us(7),
        message(8, to="Maria Rossi <maria@rossi.example>"),
    ]
    if kind == "maildir":
        box = make_maildir(tmp_path / "Maildir", {"": [(f"{n}", m) for n, m in enumerate(first)]})
    else:
        box = tmp_path / "mail.mbox"
        box.write_bytes(mbox_of(*first))
    assert team.json("ingest", box)["run"] == 1
    before = everything(team)
    if kind == "maildir":
        make_maildir(box, {"": [(f"then-{n}", m) for n, m in enumerate(then)]})
    else:
        with box.open("ab") as fh:
            fh.write(mbox_of(*then))

    run = team.json("ingest", box, "--list")
    assert (run["run"], run["scanned"], run["logged"], run["rejected"], run["skipped"]) == (2, 5, 3, 1, 1)
    after = everything(team)
    team("runs", "undo", "2", "--yes")
    assert everything(team) == before

    again = team.json("ingest", box, "--list")  # no --reprocess: the undone run's messages are undecided
    assert (again["run"], again["scanned"], again["logged"], again["rejected"], again["skipped"]) == (3, 5, 3, 1, 1)
    assert [(m["message_id"], m["outcome"], m["code"]) for m in again["messages"]] == [
        (m["message_id"], m["outcome"], m["code"]) for m in run["messages"]
    ]
    redone = everything(team)
    if team.engine == "postgresql":  # a server's ids come from sequences, never given twice (two hosts): new ids
        redone, after = (
            {**state, "emails list": [{**e, "id": None} for e in state["emails list"]],
             "export emails": [{**e, "id": None} for e in state["export emails"]]}
            for state in (redone, after)
        )  # fmt: skip
    for key in ("emails list", "export emails", "rejections", "notices", "attachments", "companies list"):
        if key == "rejections":
            assert [{**r, "date": None} for r in redone[key]] == [{**r, "date": None} for r in after[key]]
        else:
            assert redone[key] == after[key], key
    assert [{**c, "created": None} for c in redone["export contacts"]] == [
        {**c, "created": None} for c in after["export contacts"]
    ]
    if kind == "maildir":  # and then they are decided: nothing new
        assert team.json("ingest", box)["run"] is None


# ------------------------------------------------------------------ LIFE-6: order, refusals


def test_life_6_runs_are_undone_newest_first_once_and_only_with_yes(team, tmp_path):
    empty = everything(team)
    box = make_maildir(tmp_path / "Maildir", {"": [("1", message(1)), ("2", message(2, frm=BEN))]})
    assert team.json("ingest", box)["run"] == 1
    after_one = everything(team)
    make_maildir(box, {"": [("3", message(3, to="Hans <hans@beispiel.example>"))]})
    assert team.json("ingest", box)["run"] == 2

    def refused(*args: str, code: int, says: str) -> None:
        db = team.snapshot()
        result = team("runs", "undo", *args, expect=code)
        assert result.stdout == ""
        assert result.stderr.count("\n") == 1 and says in result.stderr, result.stderr
        assert team.snapshot() == db  # nothing changed

    refused("1", "--yes", code=1, says="run 2")  # a newer run is not undone
    refused("2", code=2, says="--yes")  # not on a terminal: --yes is needed (LIFE-8)
    refused("3", "--yes", code=1, says="no run with id 3")
    assert [r["undone"] for r in team.json("runs", "list")] == [False, False]

    team("runs", "undo", "2", "--yes")
    assert everything(team) == after_one
    refused("2", "--yes", code=1, says="undone already")
    team("runs", "undo", "1", "--yes")
    assert everything(team) == empty
    assert [(r["id"], r["undone"]) for r in team.json("runs", "list")] == [(2, True), (1, True)]
    refused("1", "--yes", code=1, says="undone already")
    # the two runs' messages are read again: the next run logs both runs' e-mails
    again = team.json("ingest", box)
    assert (again["run"], again["logged"], again["rejected"]) == (3, 2, 1)


# ------------------------------------------------------------------ LIFE-7: --list


def test_life_7_dry_run_lists_what_a_run_would_do_and_reprocess_what_would_change(team, tmp_path):
    team("users", "add", CARL, "--name", "Carl", "--login", "carl")
    team("team-inboxes", "add", "sales@ourco.example", "--connected-by", ANNA)
    box = make_maildir(
        tmp_path / "Maildir",
        {
            "": [
                ("1", message(1)),
                ("2", message(2, frm=BEN)),
                ("3", message(3, to="Wang Fang <wang@huaxin.example>", attachments=[("a.txt", "text/plain", b"a")])),
                ("4", not_for_us(4)),
                ("6", message(6, frm="sales@ourco.example", to="Hans <hans@beispiel.example>")),
                ("7", message(7, frm=CARL)),
            ]
        },
    )
    db = team.snapshot()
    dry = team.json("ingest", box, "--dry-run", "--list")
    assert dry["run"] is None and team.snapshot() == db and files(team, "attachments") == set()
    assert all(set(m) == MESSAGE_KEYS for m in dry["messages"])
    assert [(m["key"], m["outcome"], m["code"], m["user"], m["contacts"], m["email_id"]) for m in dry["messages"]] == [
        ("1", "logged", None, ANNA, ["li@acme.example"], None),
        ("2", "rejected", "read-only-seat", None, [], None),
        ("3", "logged", None, ANNA, ["wang@huaxin.example"], None),
        ("6", "logged", None, ANNA, ["hans@beispiel.example"], None),  # the team inbox Anna connected
        ("7", "logged", None, CARL, ["li@acme.example"], None),
    ]  # the message not for the CRM is not listed
    assert all(m["change"] is None and m["before"] is None for m in dry["messages"])
    assert all(m["source"] == str(box) for m in dry["messages"])

    real = team.json("ingest", box, "--list")
    assert real["run"] == 1
    assert without_ids(real["messages"]) == dry["messages"]

    team("users", "edit", ANNA, "--seat", "read-only")
    team("users", "deactivate", BEN)
    make_maildir(box, {"": [("5", message(5, to="Hans <hans@beispiel.example>"))]})
    db = team.snapshot()
    would = team.json("ingest", box, "--dry-run", "--reprocess", "--list", "--user", "carl")
    assert would["run"] is None and team.snapshot() == db
    logged = {"outcome": "logged", "code": None, "user": ANNA}
    assert [(m["key"], m["outcome"], m["code"], m["user"], m["change"], m["before"]) for m in would["messages"]] == [
        ("1", "rejected", "read-only-seat", None, "changed", logged),  # newly rejected
        (
            "2",
            "rejected",
            "user-deactivated",
            None,
            "changed",
            {**logged, "outcome": "rejected", "code": "read-only-seat", "user": None},
        ),
        ("3", "rejected", "read-only-seat", None, "changed", logged),
        ("5", "rejected", "read-only-seat", None, "new", None),  # never decided before
        ("6", "logged", None, CARL, "changed", logged),  # another user: the session user (ATTR-T)
        ("7", "logged", None, CARL, "same", {**logged, "user": CARL}),
    ]

    before = everything(team)
    applied = team.json("ingest", box, "--reprocess", "--list", "--user", "carl")
    assert applied["run"] == 2
    assert [{**m, "email_id": None} for m in applied["messages"]] == [
        {**m, "email_id": None} for m in would["messages"]
    ]
    assert sorted((e["message_id"], e["user"]) for e in team.json("emails", "list")) == [
        ("m6@ourco.example", CARL),
        ("m7@ourco.example", CARL),
    ]  # 1 and 3 no longer logged, 6 credited to Carl
    assert sorted((r["message_id"], r["code"]) for r in team.json("rejections")) == [
        ("m1@ourco.example", "read-only-seat"),
        ("m2@ourco.example", "user-deactivated"),
        ("m3@ourco.example", "read-only-seat"),
        ("m5@ourco.example", "read-only-seat"),
    ]
    team("emails", "show", "m1@ourco.example", expect=1)

    team("runs", "undo", "2", "--yes")
    assert in_id_order(everything(team)) == before  # the e-mails are back, exactly, bodies and attachments too
    assert sorted((e["message_id"], e["user"]) for e in team.json("emails", "list")) == [
        ("m1@ourco.example", ANNA),
        ("m3@ourco.example", ANNA),
        ("m6@ourco.example", ANNA),
        ("m7@ourco.example", CARL),
    ]


def test_life_7_ingest_list_prints_a_row_per_message(team, tmp_path):
    box = make_maildir(
        tmp_path / "Maildir",
        {"": [("1", message(1)), ("2", message(2, frm=BEN)), ("3", not_for_us(3))]},
    )
    out = team("ingest", box, "--list").stdout
    lines = out.splitlines()
    one = next(line for line in lines if "message 1" in line)
    two = next(line for line in lines if "message 2" in line)
    assert "logged" in one and ANNA in one and "li@acme.example" in one
    assert "rejected" in two and "read-only-seat" in two and BEN in two
    assert "private 3" not in out
    assert "Messages (2)" in out and "Ingest" in out  # the table, then the summary

    team("users", "edit", BEN, "--seat", "full")
    again = team("ingest", box, "--list", "--reprocess", "--dry-run").stdout
    two = next(line for line in again.splitlines() if "message 2" in line)
    assert "changed" in two and "rejected read-only-seat" in two  # what was stored of it
    one = next(line for line in again.splitlines() if "message 1" in line)
    assert "same" in one
    shown = team("runs", "show", "1").stdout
    assert "message 1" in shown and "message 2" in shown and "read-only-seat" in shown


def test_life_7_a_copy_of_a_message_decided_already_changes_nothing(team, tmp_path):
    box = make_maildir(tmp_path / "Maildir", {"": [("1", message(1)), ("2", message(2))]})
    team("ingest", box)
    team("emails", "delete", "m1@ourco.example", "--yes")  # decided for good (LIFE-5)
    make_maildir(box, {".Sent": [("1", message(1)), ("3", message(3))], ".Copies": [("3", message(3))]})
    would = team.json("ingest", box, "--reprocess", "--dry-run", "--list")
    logged = {"outcome": "logged", "code": None, "user": ANNA}
    assert sorted((m["message_id"], m["outcome"], m["change"], m["before"]) for m in would["messages"]) == [
        ("m1@ourco.example", "duplicate", "same", None),  # deleted: read again, not logged again
        ("m1@ourco.example", "duplicate", "same", None),
        ("m2@ourco.example", "logged", "same", logged),
        ("m3@ourco.example", "duplicate", "same", None),  # the second copy of a new message
        ("m3@ourco.example", "logged", "new", None),
    ]


def test_life_7_a_new_deal_is_a_change_the_dry_run_shows_and_a_reprocess_without_one_writes_nothing(team, tmp_path):
    """What the dry run calls `changed` the real run rewrites, and what it calls `same` it leaves:
    a reprocess that changes nothing (a rejection for the same reason included) is no run."""
    box = make_maildir(tmp_path / "Maildir", {"": [("1", message(1)), ("2", message(2, frm="dora@else.example"))]})
    team("ingest", box)
    team("deals", "add", "Pilot", "--contact", "li@acme.example")
    would = team.json("ingest", box, "--reprocess", "--dry-run", "--list")["messages"]
    assert sorted((m["message_id"], m["change"], m["deals"]) for m in would) == [
        ("m1@ourco.example", "changed", [1]),  # the same user, a new deal: the e-mail is written again
        ("m2@ourco.example", "same", []),  # rejected sender-not-a-user again
    ]
    done = team.json("ingest", box, "--reprocess", "--list")
    assert done["run"] == 2 and [e["deals"] for e in team.json("emails", "list")] == [[1]]
    before = team.snapshot()
    again = team.json("ingest", box, "--reprocess", "--list")
    assert {m["change"] for m in again["messages"]} == {"same"}
    assert again["run"] is None and team.snapshot() == before  # nothing written, no run recorded


# ------------------------------------------------------------------ LIFE-6: undo under SIGKILL

UNDO_KILLS = int(os.environ.get("CRMLOG_UNDO_KILLS", "24"))
BIG_RUN = 300  # messages of the run undone, each with its own attachment file


def crash_messages() -> tuple[list[tuple[str, bytes]], list[tuple[str, bytes]]]:
    """The earlier run's messages, and the undone run's: logged ones with an attachment each
    (their own file; every 10th over the limit: a notice), rejected ones, and messages not for
    the CRM."""
    earlier = [(f"e{i}", message(f"e{i}", to=f"C{i} <c{i}@early{i % 5}.example>")) for i in range(40)]
    run = []
    for i in range(BIG_RUN):
        kind = i % 6
        if kind == 4:
            run.append((f"r{i}", message(f"r{i}", frm=BEN)))
        elif kind == 5:
            run.append((f"r{i}", not_for_us(i)))
        else:
            size = ATTACHMENT_LIMIT + 1 if i % 10 == 0 else 300
            attachment = (f"quote-{i}.pdf", "application/pdf", f"%PDF {i} ".encode().ljust(size, b"."))
            to = f"Contact {i} <k{i}@company{i % 40}.example>"
            run.append((f"r{i}", message(f"r{i}", to=to, attachments=[attachment])))
    return earlier, run


def referenced(cli: Cli) -> tuple[set[str], set[str]]:
    """The body packs and attachment files the stored e-mails point to."""
    data = stored_tables(cli.db)
    emails = data.get("emails", {}).values()
    packs = {f"{e['body'][0]:06d}.pack" for e in emails if e.get("body")}
    attachments = {a["sha256"] for e in emails for a in e.get("attachments", ()) if a.get("stored")}
    return packs, attachments


def records(state: dict) -> dict:
    """A state but for the files on disk."""
    return {k: v for k, v in state.items() if k not in ("bodies", "attachments")}


def assert_no_stray_files(cli: Cli) -> None:
    """After a writer opened the CRM: no temp file, no file that no record points to."""
    packs, attachments = referenced(cli)
    assert files(cli, "bodies") == packs
    assert files(cli, "attachments") == attachments
    assert [p.name for p in cli.db.parent.rglob("*.tmp")] == []
    manifest = json.loads(cli.db.read_bytes())["parts"]["1"]  # the parts: those the root names, and
    assert files(cli, "tables") <= {*manifest["files"].values(), *manifest["replaced"]}  # those kept one write


class Copy(Cli):
    """A copy of a CRM (configuration and data) in its own folder."""

    def __init__(self, root: Path, of: Cli):
        super().__init__(root)
        shutil.copytree(of.config.parent, self.config.parent)
        shutil.copytree(of.db.parent, self.db.parent)


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A CRM whose second run is big enough for its undo to take a while, with its state before
    the undo (A) and after a clean one (B)."""
    root = tmp_path_factory.mktemp("undo")
    earlier, run = crash_messages()
    box = make_maildir(root / "Maildir", {"": earlier})
    crm = Cli(root / "crm")
    crm.init()
    limit_attachments(crm)
    crm("users", "add", ANNA, "--name", "Anna", "--inbox", ANNA, "--login", "anna")
    crm("users", "add", BEN, "--name", "Ben", "--seat", "read-only")
    assert crm.json("ingest", box)["run"] == 1
    before_run = everything(crm)
    make_maildir(box, {".Sent": run})
    second = crm.json("ingest", box, "--batch-size", "25")
    assert (second["run"], second["logged"], second["rejected"]) == (2, 200, 50)
    a = everything(crm, runs=True)
    clean = Copy(root / "clean", crm)
    clean("runs", "undo", "2", "--yes")
    b = everything(clean, runs=True)
    assert {k: v for k, v in b.items() if k != "runs list"} == before_run
    assert [r["undone"] for r in a["runs list"]] == [False, False]
    assert [r["undone"] for r in b["runs list"]] == [True, False]
    return box, crm, a, b


def delays(total: float):
    """Kill moments spread over an undo, none twice alike (as the ingest crash test picks them),
    from a third of its time on (before that, the interpreter is still starting) to a little past
    its end: reading the database, the write, the files' removal."""
    k = 0
    while True:
        k += 1
        yield total * (0.35 + 0.75 * ((k * 0.6180339887) % 1.0))


# The real CLI in a process that kills itself with SIGKILL at a named step of its N-th write of
# the database: "before-write" (the new database written to its temp file, not yet renamed
# over the old one), "after-write" (renamed; for an undo, no file removed yet), or at the N-th
# removal of a body pack or attachment file ("removing").
STEP_KILLER = """
import os, signal, sys
from pathlib import Path

step, n = sys.argv[1], int(sys.argv[2])
real_replace, real_unlink, writes, removed = os.replace, Path.unlink, [], []


def die():
    os.kill(os.getpid(), signal.SIGKILL)


def replace(src, dst, *args, **kwargs):
    database = str(dst).endswith(".json") and not Path(dst).parent.name.endswith(".tables")  # the root
    writes.extend([dst] if database else [])
    if database and step == "before-write" and len(writes) == n:
        die()
    real_replace(src, dst, *args, **kwargs)
    if database and step == "after-write" and len(writes) == n:
        die()


def unlink(self, *args, **kwargs):
    real_unlink(self, *args, **kwargs)
    if self.parent.name.endswith((".bodies", ".attachments")):
        removed.append(self)
        if step == "removing" and len(removed) == n:
            die()


os.replace, Path.unlink = replace, unlink
from crmlog.cli import main

sys.argv = ["crmlog", *sys.argv[3:]]
main()
"""


def killed_at(cli: Cli, step: str, n: int, *args: str) -> None:
    """The real CLI, killed at a named step (STEP_KILLER)."""
    argv = [sys.executable, "-c", STEP_KILLER, step, str(n), *cli.argv(*args)[3:]]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr


def test_life_6_undo_killed_at_any_moment_leaves_the_run_done_or_undone_never_a_mix(big, tmp_path):
    box, crm, done, undone = big
    logged = done["runs list"][0]["logged"]
    files_of_run = len(done["bodies"] - undone["bodies"]) + len(done["attachments"] - undone["attachments"])

    durations = []  # of whole undos, the last two warm (the first loads the interpreter from disk)
    for n in range(3):
        probe = Copy(tmp_path / f"probe-{n}", crm)
        start = os.times().elapsed
        assert probe.process("runs", "undo", "2", "--yes").returncode == 0
        durations.append(os.times().elapsed - start)
    moments = delays(min(durations))

    def killed(n: int, started: subprocess.Popen, copy: Copy) -> str:
        """The state a killed (or finished) undo left: "done" or "undone", nothing else; then
        the CRM works on: a plain ingest, and where the run is still done, undo again."""
        _out, err = started.communicate()
        assert started.returncode in (0, -signal.SIGKILL), err
        state, database = everything(copy, runs=True), copy.db.read_bytes()
        # the files a crash after the write leaves are removed by the next writer (below)
        assert records(state) in (records(done), records(undone)), f"kill {n}: neither done nor undone"
        packs, attachments = referenced(copy)
        assert files(copy, "bodies") >= packs and files(copy, "attachments") >= attachments
        outcome = "done" if records(state) == records(done) else "undone"
        again = copy.json("ingest", box)  # the next writer: it works, and cleans up after the kill
        if outcome == "done":
            assert again["run"] is None  # nothing new, and nothing written
            assert copy.db.read_bytes() == database
            assert_no_stray_files(copy)
            copy("runs", "undo", "2", "--yes")
            assert everything(copy, runs=True) == undone
        else:
            assert (again["run"], again["logged"]) == (3, logged)  # the run's messages read again
        assert_no_stray_files(copy)
        shutil.rmtree(copy.tmp)
        return outcome

    seen: dict[str, list[str]] = {"done": [], "undone": []}
    kills = 0
    for n in range(UNDO_KILLS):
        copy = Copy(tmp_path / f"kill-{n}", crm)
        proc = copy.start("runs", "undo", "2", "--yes")
        moment = next(moments)
        try:
            proc.wait(timeout=moment)  # the kill moment: not waiting for anything
            what = f"{moment:.3f} s (ended first)"
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            kills += 1
            what = f"{moment:.3f} s"
        seen[killed(n, proc, copy)].append(what)

    steps = [("before-write", 1), ("after-write", 1), ("removing", 1), ("removing", files_of_run // 2)]
    steps.append(("removing", files_of_run - 1))
    for step, count in steps:
        copy = Copy(tmp_path / f"{step}-{count}", crm)
        argv = [sys.executable, "-c", STEP_KILLER, step, str(count), *copy.argv("runs", "undo", "2", "--yes")[3:]]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        proc.wait(timeout=120)
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
        if step == "after-write":  # the run's files are still there, named for the next writer
            assert (files(copy, "bodies"), files(copy, "attachments")) == (done["bodies"], done["attachments"])
        expected = "done" if step == "before-write" else "undone"
        assert killed(len(seen["done"]) + len(seen["undone"]), proc, copy) == expected, step

    print(
        f"\n{UNDO_KILLS} timed moments, {kills} kills: {len(seen['done'])} left the run done, "
        f"{len(seen['undone'])} undone ({', '.join(seen['undone'])}); {len(steps)} kills at named steps"
    )


@pytest.mark.json_only(
    "kills the run at the n-th rename of a JSON part file (PostgreSQL: tests/test_concurrent_ingest.py)"
)
def test_life_6_a_run_killed_midway_is_recorded_and_undone_like_any_other(team, tmp_path):
    limit_attachments(team)
    box = make_maildir(
        tmp_path / "Maildir",
        {
            "": [
                (
                    f"{i}",
                    message(
                        i, to=f"C{i} <c{i}@company{i}.example>", attachments=[(f"{i}.txt", "text/plain", b"%d" % i)]
                    ),
                )
                for i in range(6)
            ]
        },
    )
    before = everything(team)
    killed_at(team, "before-write", 2, "ingest", box, "--batch-size", "2")  # after the first batch's write
    (cut,) = team.json("runs", "list")
    assert (cut["id"], cut["finished"], cut["logged"], cut["undone"]) == (1, None, 2, False)
    rest = team.json("ingest", box)
    assert (rest["run"], rest["logged"]) == (2, 4)
    team("runs", "undo", "1", "--yes", expect=1)
    team("runs", "undo", "2", "--yes")
    team("runs", "undo", "1", "--yes")
    assert everything(team) == before


def test_life_6_undo_keeps_an_attachment_that_the_undo_of_an_older_run_puts_back(team, tmp_path):
    quote = ("quote.pdf", "application/pdf", b"%PDF the quote")
    box = make_maildir(tmp_path / "Maildir", {"": [("1", message(1, attachments=[quote]))]})
    empty = everything(team)
    assert team.json("ingest", box)["run"] == 1
    logged = everything(team)
    team("users", "edit", ANNA, "--seat", "read-only")
    assert team.json("ingest", box, "--reprocess")["rejected"] == 1  # run 2: no longer logged
    team("users", "edit", ANNA, "--seat", "full")
    assert team.json("ingest", box, "--reprocess")["logged"] == 1  # run 3: logged again, the file was there
    team("runs", "undo", "3", "--yes")
    assert files(team, "attachments") == logged["attachments"]  # kept: run 2's undo puts its e-mail back
    team("runs", "undo", "2", "--yes")
    restored = everything(team)
    assert {k: v for k, v in restored.items() if k != "users list"} == {
        k: v for k, v in logged.items() if k != "users list"
    }  # (Anna's seat was edited back and forth, not by a run)
    team("runs", "undo", "1", "--yes")
    assert {k: v for k, v in everything(team).items() if k != "users list"} == {
        k: v for k, v in empty.items() if k != "users list"
    }


# ------------------------------------------------------------------ waiting for fixes in the store and the reader


def test_life_6_runs_show_keeps_the_email_ids_that_ingest_list_gave(team, tmp_path):
    box = make_maildir(tmp_path / "Maildir", {"": [("1", message(1)), ("2", message(2, frm=BEN))]})
    run = team.json("ingest", box, "--list")
    (email,) = team.json("emails", "list")
    assert [m["email_id"] for m in run["messages"]] == [email["id"], None]
    assert team.json("runs", "show", "1")["messages"] == run["messages"]


def test_life_6_undo_puts_records_back_in_their_place(team, tmp_path):
    """The e-mails a --reprocess run took out come back where they were: an export lists them
    in the order they were stored, as before the run."""
    box = make_maildir(tmp_path / "Maildir", {"": [("1", message(1)), ("2", message(2, frm=CARL))]})
    team("users", "add", CARL, "--name", "Carl")
    assert team.json("ingest", box)["logged"] == 2
    before = everything(team)
    team("users", "edit", ANNA, "--seat", "read-only")
    assert team.json("ingest", box, "--reprocess")["rejected"] == 1  # message 1 (the first stored) taken out
    team("users", "edit", ANNA, "--seat", "full")
    team("runs", "undo", "2", "--yes")
    assert [e["message_id"] for e in everything(team)["export emails"]] == ["m1@ourco.example", "m2@ourco.example"]
    assert everything(team) == before


def test_once_2_an_mbox_read_on_from_where_it_stopped_is_not_read_again_next_time(team, tmp_path):
    box = tmp_path / "mail.mbox"
    box.write_bytes(mbox_of(message(1), not_for_us(2)))
    assert team.json("ingest", box)["logged"] == 1
    with box.open("ab") as fh:
        fh.write(mbox_of(message(3), not_for_us(4)))
    assert team.json("ingest", box)["scanned"] == 2  # on from where the first run stopped
    again = team.json("ingest", box)
    assert (again["scanned"], again["run"]) == (0, None)  # nothing new


def test_life_6_a_journal_keeps_consecutive_ids_as_ranges_and_gives_them_all_back():
    from crmlog.store import journal

    j = journal.empty()
    journal.note_added(j, "emails", [1, 2, 3, 5])
    journal.note_added(j, "emails", [6, 7, 9])
    journal.note_added(j, "contacts", [4])
    assert j["added"] == {"emails": [[1, 3], [5, 7], 9], "contacts": [4]}
    assert list(journal.added(j, "emails")) == [1, 2, 3, 5, 6, 7, 9]
    assert list(journal.added({"added": {"emails": [1, 2, 3]}}, "emails")) == [1, 2, 3]  # as written before
    assert list(journal.added(j, "deals")) == []
    big = journal.empty()
    journal.note_added(big, "emails", range(1, 100_001))
    assert big["added"] == {"emails": [[1, 100_000]]}  # an import's journal: one pair
