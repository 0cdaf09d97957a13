"""The command-line contract of spec/cli.md, end to end through CliRunner on real files."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import FWD, LOG, SAMPLES, eml, make_maildir

SUMMARY_KEYS = {
    "scanned",
    "addressed",
    "logged",
    "rejected",
    "skipped",
    "duplicates",
    "contacts_created",
    "notices",
    "rejections",
}
LI = "li.wei@acme-industrial.com"


@pytest.fixture
def samples(cli):
    """The README's sample run: the sample team, deals and mbox."""
    shutil.copy(SAMPLES / "config.toml", cli.config.parent.mkdir(parents=True) or cli.config)
    cli(
        "users",
        "add",
        "anna@ourco.example",
        "--name",
        "Anna Schmidt",
        "--inbox",
        "anna@ourco.example",
        "--login",
        "anna",
    )
    cli("users", "add", "ben@ourco.example", "--name", "Ben Li", "--seat", "read-only")
    cli("team-inboxes", "add", "sales@ourco.example", "--connected-by", "anna@ourco.example")
    cli("deals", "add", "Acme pilot", "--contact", LI, "--created", "2026-05-01T10:00:00Z")
    cli(
        "deals",
        "add",
        "Acme framework contract",
        "--contact",
        LI,
        "--stage",
        "won",
        "--created",
        "2026-03-01T10:00:00Z",
    )
    cli.summary = cli.json("ingest", SAMPLES / "mailbox.mbox")
    return cli


def test_ingest_samples_summary(samples):
    s = samples.summary
    assert set(s) >= SUMMARY_KEYS
    assert {k: s[k] for k in SUMMARY_KEYS - {"rejections"}} == {
        "scanned": 12,
        "addressed": 11,
        "logged": 6,
        "rejected": 4,
        "skipped": 1,
        "duplicates": 1,
        "contacts_created": 4,
        "notices": 1,
    }
    assert s["rejections"] == {"forward-is-thread": 1, "no-recipients": 1, "read-only-seat": 1, "sender-not-a-user": 1}


def test_contacts_show_json_contract(samples):
    c = samples.json("contacts", "show", LI)
    assert set(c) >= {"email", "name", "source", "company", "deals", "emails"}
    assert (c["email"], c["name"], c["source"], c["company"]) == (LI, "Li Wei", "bcc-recipient", "acme-industrial.com")
    assert [(d["name"], d["stage"]) for d in c["deals"]] == [("Acme pilot", "open"), ("Acme framework contract", "won")]
    assert [e["subject"] for e in c["emails"]] == [
        "Drawings",
        "Re: Quote for the pilot",
        "Quote for the pilot",
    ]  # newest first
    assert all(set(e) >= {"id", "message_id", "subject", "date", "path", "user"} for e in c["emails"])
    assert [e["path"] for e in c["emails"]] == ["bcc", "forward", "bcc"]
    assert {e["user"] for e in c["emails"]} == {"anna@ourco.example"}


def test_contacts_list_and_show_without_email(samples):
    rows = samples.json("contacts", "list")
    assert samples.json("contacts", "show") == rows
    by = {r["email"]: r for r in rows}
    # BCC-2: no Bcc-only contact; FWD-5: no contact from a forwarded Cc (chen.jie@)
    assert set(by) == {LI, "hans.mueller@beispiel-gmbh.de", "maria.rossi@gmail.com", "wang.fang@huaxin-pumps.cn"}
    assert all(set(r) >= {"email", "name", "company", "source", "emails"} for r in rows)
    assert by[LI]["emails"] == 3 and by["maria.rossi@gmail.com"]["company"] is None
    assert (by["wang.fang@huaxin-pumps.cn"]["source"], by["wang.fang@huaxin-pumps.cn"]["company"]) == (
        "forward-sender",
        "huaxin-pumps.cn",
    )
    assert by["hans.mueller@beispiel-gmbh.de"]["name"] == "Hans Müller"


def test_emails_list_json_contract_and_bcc_3_associations(samples):
    rows = samples.json("emails", "list")
    keys = {
        "id",
        "message_id",
        "subject",
        "date",
        "path",
        "user",
        "from",
        "contacts",
        "companies",
        "deals",
        "attachments",
    }
    assert all(set(r) >= keys for r in rows)
    quote = next(r for r in rows if r["subject"] == "Quote for the pilot")
    assert quote["contacts"] == [LI] and quote["companies"] == ["acme-industrial.com"] and quote["deals"] == [1]
    (pdf,) = quote["attachments"]
    assert set(pdf) >= {"filename", "content_type", "size", "sha256", "stored"}
    assert (pdf["filename"], pdf["content_type"], pdf["stored"]) == ("quote.pdf", "application/pdf", True)


def test_fwd_4_to_6_the_sample_forward_is_logged_on_li_with_her_subject_and_the_note_apart(samples):
    e = samples.json("emails", "show", "sample-10@ourco.example")
    assert (e["path"], e["from"], e["subject"], e["date"]) == (
        "forward",
        LI,
        "Re: Quote for the pilot",
        "2026-06-02T16:12:00",
    )
    assert e["contacts"] == [LI] and e["deals"] == [1] and e["companies"] == ["acme-industrial.com"]
    assert e["cc"] == ["chen.jie@acme-industrial.com"]  # kept on the e-mail, no contact (FWD-5)
    assert e["forward"]["note"] == "Li accepts - please prepare the contract."
    assert e["text"].startswith("Hello Anna,") and "Li accepts" not in e["text"]
    shown = samples("emails", "show", "sample-10@ourco.example").stdout
    assert "Li accepts - please prepare the contract." in shown and "Hello Anna," in shown


def test_lim_2_oversized_attachment_not_stored_notice_recorded(samples):
    drawings = next(r for r in samples.json("emails", "list") if r["subject"] == "Drawings")
    assert [(a["filename"], a["stored"]) for a in drawings["attachments"]] == [
        ("notes.txt", True),
        ("drawings.bin", False),
    ]
    (notice,) = samples.json("notices")
    assert set(notice) >= {"kind", "user", "message_id", "detail", "date"}
    assert (notice["kind"], notice["user"], notice["message_id"]) == (
        "delivery-error",
        "anna@ourco.example",
        "sample-6@ourco.example",
    )


def test_rej_1_rejections_json_contract_reason_sender_and_code_filter(samples):
    rows = samples.json("rejections")
    assert all(set(r) >= {"message_id", "code", "reason", "sender", "date", "source"} for r in rows)
    assert sorted(r["code"] for r in rows) == [
        "forward-is-thread",
        "no-recipients",
        "read-only-seat",
        "sender-not-a-user",
    ]
    (one,) = samples.json("rejections", "--code", "read-only-seat")
    assert (one["sender"], one["message_id"]) == ("ben@ourco.example", "sample-5@ourco.example")
    assert one["source"].endswith("mailbox.mbox") and "read-only" in one["reason"]


def test_attribution_json_and_explain_with_or_without_brackets(samples):
    rows = {r["user"]: r for r in samples.json("attribution")}
    assert rows["anna@ourco.example"] == {
        "user": "anna@ourco.example",
        "logged": 6,
        "bcc": 4,
        "forward": 2,
        "by_rule": {"ATTR-1": 5, "ATTR-T": 1},
    }
    assert rows["ben@ourco.example"]["logged"] == 0
    june_5 = {r["user"]: r["logged"] for r in samples.json("attribution", "--since", "2026-06-05")}
    assert june_5["anna@ourco.example"] == 1
    before = {r["user"]: r["logged"] for r in samples.json("attribution", "--until", "2026-06-02")}
    assert before["anna@ourco.example"] == 1
    for mid in ("sample-8@ourco.example", "<sample-8@ourco.example>"):
        e = samples.json("attribution", "explain", mid)
        assert set(e) >= {"message_id", "user", "rule", "candidates", "session_user", "ambiguous"}
        assert (e["user"], e["rule"], e["candidates"], e["ambiguous"]) == (
            "anna@ourco.example",
            "ATTR-T",
            ["anna@ourco.example"],
            False,
        )


def test_companies_deals_users_team_inboxes_lists(samples):
    assert [c["domain"] for c in samples.json("companies", "list")] == [
        "acme-industrial.com",
        "beispiel-gmbh.de",
        "huaxin-pumps.cn",
    ]
    acme = samples.json("companies", "show", "acme-industrial.com")
    assert acme["contacts"] == [LI] and len(acme["emails"]) == 3
    deals = samples.json("deals", "list")
    assert all(set(d) >= {"id", "name", "stage", "created", "contacts"} for d in deals)
    assert [(d["id"], d["stage"], d["contacts"]) for d in deals] == [(1, "open", [LI]), (2, "won", [LI])]
    assert [u["email"] for u in samples.json("users", "list")] == ["anna@ourco.example", "ben@ourco.example"]
    assert samples.json("team-inboxes", "list")[0]["connected_by"] == "anna@ourco.example"


def test_deals_close(samples):
    samples("deals", "close", "1", "--lost")
    assert samples.json("deals", "list")[0]["stage"] == "lost"
    samples("deals", "close", "99", "--won", expect=1)


def test_emails_show_and_sec_1_save_attachments_under_safe_names(team, tmp_path):
    box = make_maildir(
        tmp_path / "M",
        {
            "": [
                (
                    "a",
                    eml(
                        bcc=LOG,
                        attachments=[
                            ("../../evil.sh", "text/plain", b"echo owned\n"),
                            ("/etc/passwd", "text/plain", b"root\n"),
                            (".hidden", "text/plain", b"h\n"),
                            ("..\\..\\evil.sh", "text/plain", b"second\n"),
                        ],
                    ),
                )
            ]
        },
    )
    assert team.json("ingest", box)["logged"] == 1
    out = tmp_path / "saved"
    shown = team.json("emails", "show", "<m1@ourco.example>", "--save-attachments", out)
    assert shown["subject"] == "Hello" and shown["text"].startswith("Hello there")
    assert sorted(p.name for p in out.iterdir()) == ["evil-2.sh", "evil.sh", "hidden", "passwd"]
    assert (out / "evil.sh").read_bytes() == b"echo owned\n"
    assert (out / "evil-2.sh").read_bytes() == b"second\n"
    assert not (tmp_path / "evil.sh").exists()
    human = team("emails", "show", "1")
    assert "Hello there" in human.stdout


def test_once_2_second_ingest_reads_and_logs_nothing(team, tmp_path):
    box = make_maildir(
        tmp_path / "M", {"": [("a", eml(bcc=LOG)), ("b:2,S", eml(bcc=LOG, message_id="<m2@x>", to="x@gmail.com"))]}
    )
    first = team.json("ingest", box)
    assert (first["scanned"], first["logged"]) == (2, 2)
    # the new/ message moves to cur/ and gets a flag, as a mail client does
    (box / "new" / "a").rename(box / "cur" / "a:2,S")
    second = team.json("ingest", box)
    assert (second["scanned"], second["logged"], second["duplicates"]) == (0, 0, 0)
    assert len(team.json("emails", "list")) == 2


def test_once_1_sent_copy_and_delivered_copy_logged_once(team, tmp_path):
    sent = eml(bcc=LOG)
    delivered = eml(
        headers={
            "Delivered-To": LOG,
            "Received": "from a by mx for <log@crm.example.com>; Mon, 1 Jun 2026 09:00:01 +0200",
        }
    )
    box = make_maildir(tmp_path / "M", {".Sent": [("s:2,S", sent)], "": [("d", delivered)]})
    s = team.json("ingest", box)
    assert (s["addressed"], s["logged"], s["duplicates"]) == (2, 1, 1)
    assert len(team.json("emails", "list")) == 1


def test_reprocess_logs_a_message_rejected_before_its_sender_was_a_user(team, tmp_path):
    box = make_maildir(tmp_path / "M", {"": [("a", eml(frm="dora@ourco.example", bcc=LOG))]})
    assert team.json("ingest", box)["rejections"] == {"sender-not-a-user": 1}
    team("users", "add", "dora@ourco.example")
    assert team.json("ingest", box)["scanned"] == 0
    again = team.json("ingest", box, "--reprocess")
    assert again["logged"] == 1
    assert team.json("rejections") == []  # REJ-1: logged or rejected, never both


def test_dry_run_decides_everything_and_writes_nothing(team, tmp_path):
    box = make_maildir(tmp_path / "M", {"": [("a", eml(bcc=LOG, attachments=[("a.txt", "text/plain", b"a")]))]})
    before = team.snapshot()
    dry = team.json("ingest", box, "--dry-run")
    assert (dry["logged"], dry["contacts_created"]) == (1, 1)
    assert team.snapshot() == before
    assert team.attachments() == set()
    real = team.json("ingest", box)
    assert (dry["run"], real["run"]) == (None, 1)  # LIFE-6: a dry run is not recorded
    assert {**real, "run": None} == dry


def test_session_user_option_attributes_team_inbox_mail(team, tmp_path):
    team("users", "add", "dora@ourco.example", "--login", "dora")
    team("team-inboxes", "add", "sales@ourco.example", "--connected-by", "anna@ourco.example")
    box = make_maildir(tmp_path / "M", {"": [("a", eml(frm="sales@ourco.example", bcc=LOG))]})
    team("ingest", box, "--user", "dora", "--quiet")
    e = team.json("attribution", "explain", "m1@ourco.example")
    assert (e["user"], e["rule"], e["session_user"]) == ("dora@ourco.example", "ATTR-T", "dora@ourco.example")


BROKEN_MIME = (  # nested boundaries that end inside each other: mail-parser cannot read it
    b"Bcc: log@crm.example.com\nFrom: anna@ourco.example\nTo: li@acme.example\nMessage-ID: <broken@x>\n"
    b"Date: Mon, 01 Jun 2026 09:00:00 +0200\n"
    b'Content-Type: multipart/mixed; boundary="ab"\n\n--ab\nContent-Type: multipart/mixed; boundary="a"\n\n'
    b"--ab\nContent-Type: text/plain\n\n--a\n\n"
)


def test_rej_2_unparseable_message_addressed_to_us_is_rejected_not_a_crash(team, tmp_path):
    box = make_maildir(tmp_path / "M", {"": [("a", BROKEN_MIME), ("b", BROKEN_MIME.replace(b"log@", b"other@"))]})
    s = team.json("ingest", box)
    assert (s["scanned"], s["addressed"], s["skipped"], s["rejections"]) == (2, 1, 1, {"unparseable": 1})
    (r,) = team.json("rejections")
    assert r["code"] == "unparseable" and "could not be read" in r["reason"]
    assert (r["sender"], r["message_id"], r["date"]) == ("anna@ourco.example", "broken@x", "2026-06-01T07:00:00+00:00")


def test_quiet_prints_nothing_and_human_output_prints_a_summary(team, tmp_path):
    box = make_maildir(tmp_path / "M", {"": [("a", eml(bcc=LOG))]})
    quiet = team("ingest", box, "--quiet", "--dry-run")
    assert quiet.stdout == "" and quiet.stderr == ""
    loud = team("ingest", box)
    assert "logged" in loud.stdout and "contacts_created" in loud.stdout


def test_every_json_output_is_one_document_and_nothing_else(samples):
    for args in (
        ["contacts", "list"],
        ["emails", "list"],
        ["rejections"],
        ["notices"],
        ["attribution"],
        ["users", "list"],
        ["deals", "list"],
        ["companies", "list"],
        ["team-inboxes", "list"],
    ):
        out = samples(*args, "--json").stdout
        json.loads(out)  # raises on anything but one JSON document


# ------------------------------------------------------------------ exit codes


def test_exit_78_missing_configuration(cli, tmp_path):
    r = cli("ingest", tmp_path, expect=78)
    assert "configuration not found" in r.stderr and r.stdout == ""


@pytest.mark.parametrize(
    "text, words",
    [
        ("[addresses\nbcc=", "invalid TOML"),
        ("[addresses]\nbcc = []\n", "no logging address"),
        ("[addresses]\nbcc = ['not-an-address']\n", "is not an e-mail address"),
        ("[addresses]\nbcc = ['a@b.c']\n[limits]\nmax_body_bytes = 'big'\n", "max_body_bytes"),
        ("[addresses]\nbcc = ['a@b.c']\n[contact]\n", "unknown section"),
        ("[addresses]\nbcc = ['a@b.c']\n[security]\ntrusted_hosts = ['mx one']\n", "security.trusted_hosts"),
        ("[addresses]\nbcc = ['a@b.c']\n[security]\ntrusted_hosts = [1]\n", "security.trusted_hosts"),
    ],
)
def test_exit_78_invalid_configuration_says_what_and_where(cli, tmp_path, text, words):
    cli.write_config(text)
    r = cli("ingest", tmp_path, expect=78)
    assert words in r.stderr and str(cli.config) in r.stderr
    assert "Traceback" not in r.stderr


def test_exit_66_missing_mailbox_creates_nothing(team, tmp_path):
    r = team("ingest", tmp_path / "nope", expect=66)
    assert "mailbox not found" in r.stderr
    assert not (tmp_path / "nope").exists()


@pytest.mark.json_only("writes broken bytes into the JSON file (a server's corrupt data: tests/test_postgresql.py)")
def test_exit_65_corrupt_database_left_untouched(team, tmp_path):
    team.db.write_bytes(b'{"users": ')
    r = team("users", "list", expect=65)
    assert "corrupt" in r.stderr
    assert team.db.read_bytes() == b'{"users": '


def test_exit_2_usage_errors(team):
    team("ingest", expect=2)
    team("users", "add", "not-an-email", expect=2)
    team("deals", "add", "X", "--contact", "li@acme.example", "--created", "yesterday", expect=2)


def test_exit_1_unknown_records(team):
    assert "no contact" in team("contacts", "show", "nobody@x.example", expect=1).stderr
    assert "no logged e-mail" in team("attribution", "explain", "<nope@x>", expect=1).stderr


def test_sec_3_init_writes_owner_only_config_and_refuses_to_overwrite(cli):
    cli.init()
    assert cli.config.stat().st_mode & 0o077 == 0
    assert "exists" in cli.init(expect=78).stderr
    cli.init("--force")
    text = cli.config.read_text()
    assert LOG in text and FWD in text


def test_exit_74_data_directory_cannot_be_created(tmp_path):
    from conftest import Cli

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data directory should be")
    cli = Cli(tmp_path)
    cli.db = blocker / "crm.json"
    r = cli("users", "add", "anna@ourco.example", expect=74)
    assert "cannot create the data directory" in r.stderr and "Traceback" not in r.stderr
    assert blocker.read_text() == "a file where the data directory should be"


def test_rej_2_whole_real_corpus_ingested_end_to_end_without_a_crash(team, tmp_path):
    """Every corpus file, delivered to the logging address (a Delivered-To line prepended as
    a mail server would) and sent by a user (a From line before its own), through the real
    command: every one decided, most logged with their real recipients and attachments."""
    from conftest import corpus_files, corpus_or_skip

    corpus_or_skip()
    files = corpus_files()
    items = [
        (f"{i}.corpus", b"Delivered-To: log@crm.example.com\nFrom: anna@ourco.example\n" + p.read_bytes())
        for i, p in enumerate(files)
    ]
    box = make_maildir(tmp_path / "Corpus", {"": items})
    s = team.json("ingest", box)
    print("corpus ingest:", s)
    assert s["scanned"] == s["addressed"] == len(files)
    assert s["logged"] + s["rejected"] + s["duplicates"] == len(files)
    assert s["rejections"].get("unparseable", 0) < 10
    assert s["logged"] > 250 and s["contacts_created"] > 250
    assert len(team.json("rejections")) + len(team.json("emails", "list")) <= len(files)


def test_message_without_message_id_found_by_its_identity_never_by_an_empty_id(team, tmp_path):
    box = make_maildir(tmp_path / "M", {"": [("a", eml(bcc=LOG, message_id=None))]})
    team("ingest", box, "--quiet")
    (row,) = team.json("emails", "list")
    assert row["message_id"] == ""
    team("emails", "show", "", expect=1)
    team("emails", "show", "<>", expect=1)
    detail = team.json("emails", "show", str(row["id"]))
    import hashlib

    identity = "sha256:" + hashlib.sha256((tmp_path / "M" / "new" / "a").read_bytes()).hexdigest()
    assert team.json("attribution", "explain", identity)["user"] == "anna@ourco.example"
    assert detail["subject"] == "Hello"
