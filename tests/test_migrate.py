"""`crmlog db migrate` through the real CLI (spec, Storage): "`--to URL_OR_PATH` copies the whole
CRM (records, bodies, attachments, source state, runs) from the current `--db` into an empty
target; `--from URL_OR_PATH` copies the other way into the current `--db`. The source is left
as it was; a target that is not empty is refused (exit 1). A full `export` of both sides is
identical afterwards." On real files and a private PostgreSQL server (tests/pg.py), never a mock."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLES, Cli, eml, make_maildir

LOG = "log@crm.ourco.example"  # the sample configuration's
ANNA = "anna@ourco.example"
LI = "li.wei@acme-industrial.com"
X = "xerxes@zylo.example"  # forgotten
YARA, YARA2 = "yara@zylo.example", "y.north@zylo.example"  # the second merged into the first
DORA = "dora@globex.example"  # her e-mail is deleted
QUOTE = b"%PDF-1.4 prices only Xerxes got\n" * 30
SHEET = b"%PDF-1.4 a sheet for Yara\n" * 30
EXPORTS = ("contacts", "companies", "deals", "emails")

pytestmark = pytest.mark.json_only("the CRM copied is the embedded store; PostgreSQL is each test's pg_url")


def mail(n: int, to: str, **kw) -> bytes:
    kw.setdefault("subject", f"Message {n}")
    return eml(frm=f"Anna <{ANNA}>", to=to, bcc=LOG, message_id=f"<g{n}@ourco.example>", **kw)


def at(cli: Cli, db: Path | str) -> Cli:
    """The same configuration over another store."""
    other = Cli(cli.tmp)
    other.config, other.db = cli.config, db
    return other


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def packs(cli: Cli) -> list[str]:
    return sorted(p.name for p in (cli.db.parent / "crm.bodies").iterdir())


def seen(cli: Cli) -> dict[str, Any]:
    """Everything a user can see of the CRM: the four exports, the views, each e-mail with its body."""
    out: dict[str, Any] = {k: cli("export", k, "--format", "jsonl").stdout for k in EXPORTS}
    for view in (
        ("attribution",),
        ("runs", "list"),
        ("rejections",),
        ("notices",),
        ("users", "list"),
        ("team-inboxes", "list"),
        ("contacts", "list"),
        ("deals", "list"),
        ("emails", "list"),
    ):
        out[" ".join(view)] = cli.json(*view)
    out["emails show"] = [cli.json("emails", "show", str(e["id"])) for e in cli.json("emails", "list")]
    out["runs show"] = [cli.json("runs", "show", str(r["id"])) for r in cli.json("runs", "list")]
    return out


def undone_at_masked(views: dict[str, Any]) -> dict[str, Any]:
    """The views without the time each undo was made (each store's own undo, at its own time)."""
    runs = [{**r, "undone_at": bool(r["undone_at"])} for r in views["runs list"]]
    shown = [{**r, "undone_at": bool(r["undone_at"])} for r in views["runs show"]]
    return {**views, "runs list": runs, "runs show": shown}


def migrate(cli: Cli, *args: str, expect: int = 0) -> dict:
    result = cli("db", "migrate", *args, "--json", expect=expect)
    return json.loads(result.stdout) if expect == 0 else {}


@pytest.fixture
def crm(cli, tmp_path) -> Cli:
    """A CRM built through the CLI: the README's sample run (BCC'd and forwarded mail,
    attachments, one over the limit, rejections, a notice), then a second run into a Maildir;
    a contact edited, a deal edited, a contact merged into another, a contact forgotten and an
    e-mail deleted."""
    shutil.copy(SAMPLES / "config.toml", cli.config.parent.mkdir(parents=True) or cli.config)
    cli("users", "add", ANNA, "--name", "Anna Schmidt", "--inbox", ANNA)
    cli("users", "add", "ben@ourco.example", "--name", "Ben Li", "--seat", "read-only")
    cli("team-inboxes", "add", "sales@ourco.example", "--connected-by", ANNA)
    cli("deals", "add", "Acme pilot", "--contact", LI, "--created", "2026-05-01T10:00:00Z")
    first = cli.json("ingest", SAMPLES / "mailbox.mbox")
    assert first["logged"] and first["rejected"] and first["run"] == 1
    box = make_maildir(
        tmp_path / "Maildir",
        {
            "": [
                ("1", mail(1, f"Xerxes Quill <{X}>", attachments=[("prices.pdf", "application/pdf", QUOTE)])),
                ("2", mail(2, f"Yara <{YARA}>", body="Yara's own\n")),
                ("3", mail(3, f"Y North <{YARA2}>", attachments=[("sheet.pdf", "application/pdf", SHEET)])),
                ("4", mail(4, f"Dora <{DORA}>", subject="To be deleted")),
            ]
        },
    )
    second = cli.json("ingest", box)
    assert (second["logged"], second["run"]) == (4, 2)
    cli("contacts", "edit", LI, "--name", "Li Wei (CEO)")
    cli("deals", "edit", "1", "--name", "Acme pilot, phase 1", "--add-contact", YARA2)
    cli("contacts", "merge", YARA2, YARA, "--yes")
    cli("contacts", "forget", X, "--yes")
    cli("emails", "delete", "g4@ourco.example", "--yes")
    cli.box = box
    return cli


def test_a_json_crm_copied_to_postgresql_and_back_shows_the_same_everywhere(crm, pg_server, pg_url, tmp_path):
    before = files(crm.db.parent)
    want = seen(crm)
    assert want["emails show"] and want["runs show"] and want["rejections"] and want["notices"]

    copied = migrate(crm, "--to", pg_url)
    pg = at(crm, pg_url)
    assert seen(pg) == want
    assert files(crm.db.parent) == before  # the source is left as it was, byte for byte
    assert copied["emails"] == len(want["emails list"]) and copied["runs"] == 2
    assert copied["forgotten"] == 1 and copied["deleted"] == 1 and copied["sources"] == 2
    assert copied["bodies"] >= copied["emails"] and copied["attachments"] >= 2

    second = pg_server.url(pg_server.database())  # PostgreSQL to PostgreSQL
    migrate(pg, "--to", second)
    back = at(crm, tmp_path / "back" / "crm.json")  # and into a new JSON store: the round trip
    assert without_time(migrate(back, "--from", second)) == without_time(copied)
    assert seen(back) == want
    assert seen(pg) == want  # a source on a server is left as it was too


def without_time(counts: dict) -> dict:
    return {k: v for k, v in counts.items() if k != "seconds"}


def test_runs_undo_on_the_copies_does_what_it_does_on_the_original(crm, pg_url, tmp_path):
    pg = at(crm, pg_url)
    migrate(crm, "--to", pg_url)
    copy = at(crm, tmp_path / "copy" / "crm.json")
    migrate(copy, "--from", pg_url)
    attachments = sorted(p.name for p in (crm.db.parent / "crm.attachments").iterdir())

    for cli in (crm, pg, copy):
        assert "undid run 2" in cli("runs", "undo", "2", "--yes").stdout
    assert len(packs(copy)) == len(packs(crm)) > 0  # the run's body packs went, the first run's stay
    want = undone_at_masked(seen(crm))
    assert [e["message_id"] for e in want["emails list"]] and YARA not in want["contacts"]
    assert undone_at_masked(seen(pg)) == want and undone_at_masked(seen(copy)) == want
    left = sorted(p.name for p in (copy.db.parent / "crm.attachments").iterdir())
    assert left == sorted(p.name for p in (crm.db.parent / "crm.attachments").iterdir())
    assert len(left) < len(attachments)  # the run's own attachments went with it, on the copy too
    for cli in (crm, pg, copy):
        assert "undid run 1" in cli("runs", "undo", "1", "--yes").stdout
        assert cli.json("emails", "list") == [] and cli.json("rejections") == []
    assert packs(crm) == packs(copy) == []


def test_a_later_ingest_of_the_same_mailboxes_into_the_copy_reads_nothing_again(crm, pg_url):
    """ONCE-2: the mailboxes' states come along, so the copy's next run knows what was decided."""
    migrate(crm, "--to", pg_url)
    pg = at(crm, pg_url)
    emails, runs = pg.json("emails", "list"), pg.json("runs", "list")
    for path in (crm.box, SAMPLES / "mailbox.mbox"):
        again = pg.json("ingest", path)
        assert (again["scanned"], again["logged"], again["run"]) == (0, 0, None)
    assert pg.json("emails", "list") == emails and pg.json("runs", "list") == runs
    for cli in (crm, pg):  # the copy's ids go on from the copied ones, as the original's do
        assert cli("deals", "add", "Next", "--contact", LI).stdout.startswith("added deal 2:")


def test_a_forgotten_address_stays_forgotten_on_the_copy(crm, pg_url):
    """LIFE-3: the copy has the database's secret, so the keyed hashes of erased addresses
    still match: mail naming the address alone creates no contact and logs nothing."""
    migrate(crm, "--to", pg_url)
    pg = at(crm, pg_url)
    box = make_maildir(crm.tmp / "Later", {"": [("9", mail(9, f"Xerxes Quill <{X}>", subject="Still there?"))]})
    later = pg.json("ingest", box)
    assert (later["logged"], later["contacts_created"], later["rejections"]) == (0, 0, {"no-recipients": 1})
    assert X not in json.dumps(pg.json("contacts", "list")) + json.dumps(pg.json("rejections"))


def test_a_target_that_is_not_empty_is_refused_and_left_as_it_was(crm, pg_url, tmp_path):
    taken = at(crm, tmp_path / "taken" / "crm.json")
    taken("users", "add", "zoe@ourco.example")
    before = files(taken.db.parent)
    refused = crm("db", "migrate", "--to", taken.db, expect=1)
    assert "not empty" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert refused.stdout == "" and files(taken.db.parent) == before

    server = at(crm, pg_url)
    server("users", "add", "zoe@ourco.example")
    users = server.json("users", "list")
    assert "not empty" in crm("db", "migrate", "--to", pg_url, expect=1).stderr
    assert server.json("users", "list") == users and server.json("emails", "list") == []
    assert "not empty" in server("db", "migrate", "--from", crm.db, expect=1).stderr  # --from: the current --db
    assert server.json("users", "list") == users


@pytest.mark.parametrize("args", [(), ("--to", "a.json", "--from", "b.json")])
def test_exactly_one_of_to_and_from(crm, args):
    assert "exactly one of --to" in crm("db", "migrate", *args, expect=2).stderr


def test_a_copy_onto_itself_is_refused(crm):
    assert "is the database being copied" in crm("db", "migrate", "--to", crm.db, expect=1).stderr


def test_a_copy_that_stops_midway_says_so_and_a_second_attempt_is_refused(crm, tmp_path):
    """Bodies that cannot be written (a file where the target's bodies folder goes): the copy
    stops, names the target as partial; a second attempt is refused until it is removed."""
    target = tmp_path / "partial" / "crm.json"
    target.parent.mkdir()
    (target.parent / "crm.bodies").write_text("in the way")
    stopped = crm("db", "migrate", "--to", target, expect=74)
    assert "stopped midway" in stopped.stderr and f"{target} holds part of the CRM" in stopped.stderr
    again = crm("db", "migrate", "--to", target, expect=1)
    assert "did not finish" in again.stderr and "remove or empty it" in again.stderr

    for p in target.parent.iterdir():
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    migrate(crm, "--to", target)
    assert seen(at(crm, target)) == seen(crm)
