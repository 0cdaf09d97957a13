"""Output that tells the truth, through the real CLI as a process: piped output is never cut,
contradictions and typos are usage errors, a mistyped database is not an empty CRM, one
missing mailbox does not stop the others, saved attachments are private, and `crmlog init`
keeps machines out of the contacts."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import tomllib

import pytest
from conftest import LOG, eml, make_maildir

LONG = "alice.maria.van-der-berg-hutchinson@marketing.very-long-subsidiary-name.example"
LONG_SUBJECT = "Quarterly pricing review for the northern region, with the revised volume discounts and terms"


def bcc(n: int, to: str, subject: str = "Hello", **kw) -> bytes:
    return eml(to=to, bcc=LOG, subject=subject, message_id=f"<m{n}@ourco.example>", **kw)


# ------------------------------------------------------------------ piped output


def test_piped_output_is_never_cut_to_the_terminal_width(team):
    """`crmlog users list | grep alice@...` found nothing: the cell read `alice@m…`."""
    team("users", "add", LONG, "--name", "Alice van der Berg-Hutchinson", "--inbox", LONG)
    box = make_maildir(team.tmp / "Maildir", {"": [("1.a:2,S", bcc(1, "li.wei@acme.example", LONG_SUBJECT))]})
    assert team.process("ingest", box).returncode == 0
    users = team.process("users", "list")
    assert users.returncode == 0
    (line,) = [row for row in users.stdout.splitlines() if LONG in row]
    assert line.split("\t")[1:3] == [LONG, "Alice van der Berg-Hutchinson"]
    emails = team.process("emails", "list").stdout.splitlines()
    header = emails[1].split("\t")
    row = dict(zip(header, emails[2].split("\t"), strict=False))
    assert (row["date"], row["subject"]) == ("2026-06-01T07:00:00+00:00", LONG_SUBJECT)
    assert "…" not in team.process("contacts", "show", "li.wei@acme.example").stdout


def test_piped_output_convention_title_header_rows_tab_separated(team):
    """The piped convention of the README: `# Title (N)`, a header row, tab-separated rows; a
    record as `field<TAB>value`; an empty line between sections; tabs in values escaped."""
    team("deals", "add", "Pilot\twith a tab", "--contact", "li.wei@acme.example", "--created", "2026-05-01T10:00:00Z")
    out = team.process("deals", "list").stdout
    assert out == (
        "# Deals (1)\n"
        "id\tname\tstage\tcreated\tcontacts\n"
        "1\tPilot\\x09with a tab\topen\t2026-05-01T10:00:00+00:00\tli.wei@acme.example\n"
    )
    box = make_maildir(team.tmp / "Maildir", {"": [("1.a:2,S", bcc(1, "Li Wei <li.wei@acme.example>"))]})
    team.process("ingest", box)
    shown = team.process("contacts", "show", "li.wei@acme.example").stdout
    sections = shown.split("\n\n")
    assert [s.splitlines()[0] for s in sections] == ["# Contact li.wei@acme.example", "# Deals (1)", "# E-mails (1)"]
    assert sections[0].splitlines()[1:3] == ["email\tli.wei@acme.example", "name\tLi Wei"]


def test_piped_emails_list_says_in_its_title_when_it_shows_only_the_newest(team):
    box = make_maildir(
        team.tmp / "Maildir", {"": [(f"{n}.a:2,S", bcc(n, "li.wei@acme.example", f"S{n}")) for n in range(3)]}
    )
    team.process("ingest", box)
    lines = team.process("emails", "list", "--limit", "2").stdout.splitlines()
    assert lines[0] == "# E-mails, the newest of 3 (--limit 0 shows all) (2)"
    assert len(lines) == 4  # the title, the header row and two rows: nothing else to trip `cut`
    assert team.process("emails", "list").stdout.splitlines()[0] == "# E-mails (3)"


def test_a_terminal_too_narrow_for_the_columns_gets_every_value_whole(team):
    """rich drops whole columns it cannot fit: a 30-column terminal showed no name, no seat."""
    status, raw = team.terminal("users", "list", columns=30)
    assert status == 0
    rows = raw.replace("\r\n", "\n").splitlines()
    assert rows[1].split("\t") == [
        "id",
        "email",
        "name",
        "inboxes",
        "aliases",
        "logins",
        "seat",
        "personal_inbox_access",
        "active",
    ]
    assert rows[2].split("\t") == [
        "1",
        "anna@ourco.example",
        "Anna",
        "anna@ourco.example",
        "",
        "anna",
        "full",
        "yes",
        "yes",
    ]


def test_a_reader_that_closes_the_pipe_ends_the_run_quietly(team):
    """`crmlog contacts list | head -1`: no "internal error: BrokenPipeError" (exit 70)."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before crmlog writes anything
    proc = subprocess.run(team.argv("users", "list"), stdout=write, stderr=subprocess.PIPE, text=True, timeout=120)
    os.close(write)
    assert (proc.returncode, proc.stderr) == (1, "")


# ------------------------------------------------------------------ usage errors


def test_deals_close_won_and_lost_together_is_a_usage_error(team):
    """`deals close 2 --won --lost` said `deal 2 lost` and exited 0."""
    team("deals", "add", "Pilot", "--contact", "li.wei@acme.example")
    result = team.process("deals", "close", "1", "--won", "--lost")
    assert result.returncode == 2 and result.stdout == ""
    assert "--won and --lost contradict each other" in result.stderr
    assert [d["stage"] for d in team.json("deals", "list")] == ["open"]
    assert team.process("deals", "close", "1").returncode == 2
    assert team.process("deals", "close", "1", "--lost").stdout == "deal 1 lost\n"


def test_rejections_unknown_code_is_a_usage_error(team):
    """`rejections --code bogus` printed `none` and exited 0."""
    team.process("ingest", make_maildir(team.tmp / "Maildir", {"": []}))
    result = team.process("rejections", "--code", "bogus")
    assert result.returncode == 2 and result.stdout == ""
    assert "'bogus' is not one of" in result.stderr and "'sender-not-a-user'" in result.stderr
    assert team.process("rejections", "--code", "no-recipients").returncode == 0


def test_session_ingest_user_with_an_unknown_login_is_a_usage_error(team):
    """`ingest --user nosuchlogin` was accepted (and credited nobody)."""
    box = make_maildir(team.tmp / "Maildir", {"": [("1.a:2,S", bcc(1, "li.wei@acme.example"))]})
    result = team.process("ingest", box, "--user", "nosuchlogin")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (
        "crmlog: --user nosuchlogin: no user has this login (or it is shared); "
        "`crmlog users list` shows the users' logins\n"
    )
    assert team.json("emails", "list") == [] and team.json("rejections") == []  # nothing read
    assert json.loads(team.process("ingest", box, "--user", "ANNA", "--json").stdout)["logged"] == 1


VIEWS = [
    ("users", "list"),
    ("team-inboxes", "list"),
    ("deals", "list"),
    ("contacts", "list"),
    ("contacts", "show", "li.wei@acme.example"),
    ("companies", "list"),
    ("companies", "show", "acme.example"),
    ("emails", "list"),
    ("emails", "show", "1"),
    ("rejections",),
    ("notices",),
    ("attribution",),
    ("attribution", "explain", "m1@ourco.example"),
]


EDITS = [
    ("deals", "close", "1", "--won"),
    ("deals", "add", "Pilot", "--contact", "li.wei@acme.example"),
    ("team-inboxes", "add", "sales@ourco.example", "--connected-by", "anna@ourco.example"),
]


@pytest.mark.parametrize("args", [*VIEWS, *EDITS], ids=" ".join)
def test_a_mistyped_db_is_not_an_empty_crm(cli, args):
    """A view or an edit on a database that does not exist exits 66 naming the path, and
    creates nothing (only `users add` and `ingest` start a CRM)."""
    typo = cli.tmp / "data" / "crn.json"
    result = cli.process("--db", str(typo), *args)
    assert result.returncode == 66, result
    assert result.stdout == ""
    assert result.stderr.startswith(f"crmlog: no database at {typo} ")
    assert not typo.parent.exists()


def test_an_ingest_that_finds_nothing_still_makes_the_crm(cli):
    cli.init()
    assert cli.process("ingest", make_maildir(cli.tmp / "Maildir", {"": []})).returncode == 0
    result = cli.process("rejections", "--json")
    assert (result.returncode, json.loads(result.stdout)) == (0, [])


def test_attribution_dates_are_checked_before_the_database(cli):
    result = cli.process("attribution", "--since", "last tuesday")
    assert result.returncode == 2 and "--since: 'last tuesday' is not an ISO 8601 date" in result.stderr


# ------------------------------------------------------------------ several mailboxes


def test_one_missing_mailbox_does_not_stop_the_others(team):
    """`ingest ~/Maildir ~/NoSuch` exited 66 and ingested nothing."""
    box = make_maildir(team.tmp / "Maildir", {"": [("1.a:2,S", bcc(1, "li.wei@acme.example"))]})
    missing = team.tmp / "NoSuch"
    mbox = team.tmp / "archive.mbox"
    mbox.write_bytes(b"From x Mon Jun  1 09:00:00 2026\n" + bcc(2, "hans@beispiel.example") + b"\n")
    result = team.process("ingest", missing, box, mbox, "--json")
    assert result.returncode == 66
    summary = json.loads(result.stdout)
    assert (summary["logged"], summary["mailbox_errors"]) == (2, [f"mailbox not found: {missing}"])
    assert result.stderr == f"crmlog: mailbox not found: {missing}\n"
    assert {e["message_id"] for e in team.json("emails", "list")} == {"m1@ourco.example", "m2@ourco.example"}
    again = team.process("ingest", box, missing, "--quiet")  # cron: the error still reaches cron's mail
    assert (again.returncode, again.stdout, again.stderr) == (66, "", f"crmlog: mailbox not found: {missing}\n")


def test_all_mailboxes_missing_exits_66_before_touching_the_database(team):
    result = team.process("ingest", team.tmp / "a", team.tmp / "b")
    assert (result.returncode, result.stdout) == (66, "")
    assert result.stderr == f"crmlog: mailbox not found: {team.tmp / 'a'}; mailbox not found: {team.tmp / 'b'}\n"


# ------------------------------------------------------------------ saved attachments


def test_sec_3_saved_attachments_are_owner_only(team):
    """`--save-attachments` wrote 0644 files; now 0600 files in a directory created 0700,
    whatever the umask, and an existing file of the same name is left alone."""
    message = bcc(1, "li.wei@acme.example", attachments=[("quote.pdf", "application/pdf", b"%PDF-1.4 quote")])
    box = make_maildir(team.tmp / "Maildir", {"": [("1.a:2,S", message)]})
    team.process("ingest", box)
    target = team.tmp / "out" / "saved"
    (team.tmp / "out").mkdir()
    result = team.process("emails", "show", "1", "--save-attachments", target, preexec_fn=lambda: os.umask(0o022))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    assert [(p.name, stat.S_IMODE(p.stat().st_mode), p.read_bytes()) for p in target.iterdir()] == [
        ("quote.pdf", 0o600, b"%PDF-1.4 quote")
    ]
    again = team.process("emails", "show", "1", "--save-attachments", target, preexec_fn=lambda: os.umask(0))
    assert again.returncode == 0
    assert sorted((p.name, stat.S_IMODE(p.stat().st_mode)) for p in target.iterdir()) == [
        ("quote-2.pdf", 0o600),
        ("quote.pdf", 0o600),
    ]


# ------------------------------------------------------------------ init's never_log


def test_bcc_1_init_never_log_keeps_noreply_and_bounce_addresses_out(cli):
    """`crmlog init` wrote `never_log = []`, so noreply@client became a contact with a company."""
    assert cli.process("init", "--bcc", LOG).returncode == 0
    text = cli.config.read_text()
    never_log = tomllib.loads(text)["contacts"]["never_log"]
    assert {"noreply*@*", "no-reply*@*", "mailer-daemon@*", "postmaster@*"} <= set(never_log)
    for pattern in never_log:  # each entry carries its comment
        (line,) = [x for x in text.splitlines() if x.strip().startswith(json.dumps(pattern) + ",")]
        assert "# " in line
    cli.process("users", "add", "anna@ourco.example", "--inbox", "anna@ourco.example")
    to = ", ".join(
        [
            "Li Wei <li.wei@acme.example>",
            "noreply@acme.example",
            "No Reply <no-reply-billing@vendor.example>",
            "MAILER-DAEMON@mx.acme.example",
            "postmaster@acme.example",
            "bounces+123@lists.example",
            "donotreply@bank.example",
            "Nora Eply <nora.eply@acme.example>",
        ]
    )
    box = make_maildir(cli.tmp / "Maildir", {"": [("1.a:2,S", bcc(1, to))]})
    assert json.loads(cli.process("ingest", box, "--json").stdout)["logged"] == 1
    assert [c["email"] for c in cli.json("contacts", "list")] == ["li.wei@acme.example", "nora.eply@acme.example"]
    assert [c["domain"] for c in cli.json("companies", "list")] == ["acme.example"]
