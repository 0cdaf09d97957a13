"""The embedded store in parts (crmlog/store/parts.py, tables.py, indexes.py): TinyDB files; a
run reads and writes what is new, not the history; a view reads the parts it shows; an older
single file is split crash-safely; readers keep reading across a write. Which files a command
opens and renames is seen through Python's own audit events, on real files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import LOG, eml
from stored import tables as stored_tables
from test_ingest import SETTINGS, team_db
from tinydb import TinyDB

from crmlog import jsonio
from crmlog.errors import StorageIOError
from crmlog.ingest import Batch, ingest
from crmlog.records import Email
from crmlog.store import SCHEMA_VERSION, Store, indexes, tables

_SEEN: list[list[tuple[str, str]]] = []  # (event, file name) of the parts, while a test listens


def _hear(event: str, args: tuple) -> None:
    if not _SEEN:
        return
    if event == "open" and isinstance(args[0], str) and ".tables/" in args[0]:
        mode, flags = args[1], args[2]
        reading = "r" in mode if mode else (flags & os.O_ACCMODE) == os.O_RDONLY
        if reading:
            _SEEN[-1].append(("read", Path(args[0]).name))
    elif event == "os.rename" and ".tables" in str(args[1]):
        _SEEN[-1].append(("wrote", Path(args[1]).name))


sys.addaudithook(_hear)


class Listening:
    def __enter__(self) -> list[tuple[str, str]]:
        _SEEN.append([])
        return _SEEN[-1]

    def __exit__(self, *exc: object) -> None:
        _SEEN.pop()


def parts_of(heard: list[tuple[str, str]], what: str, table: str) -> set[int]:
    """The numbers of `table`'s parts a command read or wrote."""
    return {int(name.split(".")[1]) for event, name in heard if event == what and name.startswith(table + ".")}


def mbox(path: Path, first: int, count: int, *, month: int = 1) -> Path:
    """`count` messages BCC'd to the logging address, each to its own contact, dated in `month`."""
    with open(path, "wb") as fh:
        for i in range(first, first + count):
            day = 1 + i % 28
            data = eml(
                bcc=LOG,
                message_id=f"<h{i}@x>",
                to=f"c{i % 500}@acme.example",
                subject=f"number {i}",
                date=f"Mon, {day:02d} {['Jan', 'Feb', 'Mar', 'Apr'][month - 1]} 2026 09:00:{i % 60:02d} +0000",
            )
            fh.write(b"From anna@ourco.example Mon Jun  1 09:00:00 2026\n" + data + b"\n")
    return path


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """A CRM of 4,000 logged e-mails (four parts), a month of them in each part."""
    root = tmp_path_factory.mktemp("history")
    db = team_db(root / "data" / "crm.json")
    for month in range(1, 5):
        s = ingest(
            [mbox(root / f"m{month}.mbox", (month - 1) * 1000, 1000, month=month)], settings=SETTINGS, db_path=db
        )
        assert s.logged == 1000
    return root, db


def test_the_store_is_tinydb_files_a_tinydb_reads(history):
    _root, db = history
    root = TinyDB(db, access_mode="r")
    assert root.table("meta").all()[0]["schema"] == SCHEMA_VERSION
    emails = []
    for part in sorted(db.with_name("crm.tables").glob("emails.*.json")):
        emails += TinyDB(part, access_mode="r").table("emails").all()
    assert len(emails) == 4000
    assert {e["message_id"] for e in emails} == {f"h{i}@x" for i in range(4000)}


def test_once_2_a_cron_run_reads_and_writes_what_is_new_not_the_history(history, tmp_path):
    _root, db = history
    with Listening() as heard:
        s = ingest([mbox(tmp_path / "cron.mbox", 10_000, 10)], settings=SETTINGS, db_path=db)
    assert s.logged == 10
    assert parts_of(heard, "read", "emails") <= {4}  # the part the new e-mails go to (4,000 on)
    assert parts_of(heard, "wrote", "emails") == {4}
    shards = {name for event, name in heard if event == "wrote" and name.startswith("idx.") and "delta" not in name}
    assert shards == set()  # new keys go to the delta; no shard of the history is written
    assert sum(1 for event, _ in heard if event == "read") < 40  # a few shards looked up, whatever the history
    with Listening() as heard:
        s = ingest([tmp_path / "cron.mbox"], settings=SETTINGS, db_path=db)  # nothing new
    assert s.scanned == 0 and [e for e in heard if e[0] == "wrote"] == []


def could_hold(db: Path, view: str) -> set[int]:
    """The e-mail parts that hold what `view` shows, or could, by the dates of what is in them."""
    emails = {int(i): doc for i, doc in stored_tables(db)["emails"].items()}
    part = {i: tables.Tables.number("emails", i) for i in emails}
    if view == "emails show":
        return {part[i] for i, doc in emails.items() if doc["message_id"] == "h1500@x"}
    if view == "contacts show":
        return {part[i] for i, doc in emails.items() if "c7@acme.example" in doc["contacts"]}
    if view == "emails list":
        keys = sorted(((doc["date"] or "", i) for i, doc in emails.items()), reverse=True)
        twentieth = keys[19]
        newest: dict[int, tuple[str, int]] = {}
        for key in keys:
            newest[part[key[1]]] = max(newest.get(part[key[1]], key), key)
        return {n for n, key in newest.items() if key >= twentieth}
    spans: dict[int, list[str]] = {}
    for i, doc in emails.items():
        spans.setdefault(part[i], []).append(Email.doc_time(doc).isoformat())
    return {n for n, times in spans.items() if min(times) < "2026-03-01" and max(times) >= "2026-02-01"}


@pytest.mark.parametrize(
    "view, args",
    [
        ("emails show", ("emails", "show", "h1500@x")),
        ("emails list", ("emails", "list", "--limit", "20")),
        ("attribution", ("attribution", "--since", "2026-02-01T00:00:00Z", "--until", "2026-03-01T00:00:00Z")),
        ("contacts show", ("contacts", "show", "c7@acme.example", "--json")),
    ],
)
def test_views_read_the_parts_they_show(history, view, args):
    from click.testing import CliRunner

    from crmlog.cli import main

    _root, db = history
    config = db.parent / "crmlog.toml"
    config.write_text(f'[addresses]\nbcc = ["{LOG}"]\n')
    with Listening() as heard:
        result = CliRunner().invoke(main, ["--config", str(config), "--db", str(db), *args])
    assert result.exit_code == 0, result.output
    read = parts_of(heard, "read", "emails")
    assert read and read <= could_hold(db, view)
    if view != "contacts show":
        assert len(read) < len(stored_tables(db)["emails"]) // 1000  # not the whole history


def test_a_reader_reads_on_across_a_write_and_says_so_after_two(tmp_path):
    db = team_db(tmp_path / "crm.json")
    ingest([mbox(tmp_path / "a.mbox", 0, 1200)], settings=SETTINGS, db_path=db)
    reader = Store.reader(db)
    ingest([mbox(tmp_path / "b.mbox", 2000, 5)], settings=SETTINGS, db_path=db)  # writes part 1 anew
    assert len(list(reader.read(Email))) == 1200  # what it opened: the files replaced are still there
    ingest([mbox(tmp_path / "c.mbox", 3000, 5)], settings=SETTINGS, db_path=db)
    late = Store.reader(db)
    assert late.count(Email) == 1210
    stale = Store.reader(db)
    ingest([mbox(tmp_path / "d.mbox", 4000, 5)], settings=SETTINGS, db_path=db)
    ingest([mbox(tmp_path / "e.mbox", 5000, 5)], settings=SETTINGS, db_path=db)
    with pytest.raises(StorageIOError, match="changed while this command read it"):
        list(stale.read(Email))


def test_once_1_keys_folded_from_the_delta_into_the_shards_are_found_the_same(tmp_path, monkeypatch):
    monkeypatch.setattr(indexes, "DELTA_KEYS", 200)
    db = team_db(tmp_path / "crm.json")
    s = ingest([mbox(tmp_path / "a.mbox", 0, 300)], settings=SETTINGS, db_path=db, batch=Batch(parsed=40))
    assert s.logged == 300
    files = json.loads(db.read_bytes())["parts"]["1"]["files"]
    assert any(name.startswith("idx.emails.identity.") for name in files)  # folded into shards
    delta = jsonio.loads((db.with_name("crm.tables") / files[indexes.DELTA]).read_bytes())
    assert 0 < sum(map(len, delta.values())) <= 200  # what came after the last fold
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "a.mbox").write_bytes((tmp_path / "a.mbox").read_bytes())
    again = ingest([tmp_path / "copy" / "a.mbox"], settings=SETTINGS, db_path=db)  # the same mail, another mailbox
    assert (again.logged, again.duplicates) == (0, 300)  # ONCE-1: each identity found, in a shard or the delta
    with Store.reader(db) as store:
        assert store.count(Email) == 300
        assert store.tally(Email, "contacts")["c7@acme.example"] == 1


# ------------------------------------------------------------------ the upgrade of a single file

KILLER = """
import atexit, os, signal, sys
n, real = int(sys.argv[1]), os.replace
count = [0]
atexit.register(lambda: sys.stderr.write(f"renames {count[0]}\\n"))
def replace(src, dst, *a, **k):
    real(src, dst, *a, **k)
    count[0] += 1
    if count[0] == n:  # killed right after its n-th rename
        os.kill(os.getpid(), signal.SIGKILL)
os.replace = replace
from crmlog.cli import main
main(sys.argv[2:], prog_name="crmlog")
"""


def single_file(db: Path) -> bytes:
    """The CRM of `db` as the single file of schema 3 held it."""
    data = stored_tables(db)
    data["meta"]["1"]["schema"] = 3
    return json.dumps(data).encode()


def test_a_schema_3_file_is_split_in_one_crash_safe_step_killed_anywhere(tmp_path):
    db = team_db(tmp_path / "data" / "crm.json")
    ingest([mbox(tmp_path / "a.mbox", 0, 1500)], settings=SETTINGS, db_path=db)
    config = tmp_path / "crmlog.toml"
    config.write_text(f'[addresses]\nbcc = ["{LOG}"]\n')
    argv = ["--config", str(config), "--db", str(db)]
    view = subprocess.run([sys.executable, "-m", "crmlog", *argv, "emails", "list", "--json"], capture_output=True)
    old = single_file(db)
    empty = tmp_path / "empty.mbox"  # a writer that finds nothing: all it writes is the upgrade
    empty.write_bytes(b"")

    def upgrade(n: int) -> subprocess.CompletedProcess[bytes]:
        subprocess.run(["rm", "-rf", str(db.with_name("crm.tables"))], check=True)
        db.write_bytes(old)
        return subprocess.run([sys.executable, "-c", KILLER, str(n), *argv, "ingest", str(empty)], capture_output=True)

    whole = upgrade(10**9)
    assert whole.returncode == 0, whole.stderr
    renames = int(whole.stderr.decode().rsplit("renames ", 1)[1])
    assert renames > 5  # the parts, the shards, then the root: each a rename, each a place to be killed
    for n in sorted({1, 2, renames // 2, renames - 1, renames}):
        proc = upgrade(n)
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        raw = db.read_bytes()
        if n < renames:
            assert raw == old, f"killed at rename {n} of {renames}: the old file, as it was"
        else:
            assert json.loads(raw)["meta"]["1"]["schema"] == SCHEMA_VERSION  # the root renamed: the new
        after = subprocess.run([sys.executable, "-m", "crmlog", *argv, "emails", "list", "--json"], capture_output=True)
        assert after.stdout == view.stdout, f"killed at rename {n}"
        with Store.writer(db) as store:  # the next writer upgrades (or finds it done) and sweeps
            store.commit()
        manifest = json.loads(db.read_bytes())["parts"]["1"]
        named = {*manifest["files"].values(), *manifest["replaced"]}
        assert {p.name for p in db.with_name("crm.tables").iterdir()} <= named


def test_tables_keep_each_part_in_id_order_after_records_come_back(tmp_path):
    """An undone deletion puts a record back in the middle of its part: reads stay in id order."""
    db = team_db(tmp_path / "crm.json")
    ingest([mbox(tmp_path / "a.mbox", 0, 30)], settings=SETTINGS, db_path=db)
    with Store.writer(db) as store:
        doc = store.engine.document("emails", 7)
        assert doc is not None
        store.remove_id("emails", 7)
        store.commit()
        store.restore("emails", 7, doc)
        store.commit()
        assert [e.id for e in store.read(Email)] == list(range(1, 31))
    assert list(stored_tables(db)["emails"]) == [str(i) for i in range(1, 31)]
    assert tables.Tables.number("emails", 7) == 0
