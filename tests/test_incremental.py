"""Incremental runs on real mailboxes (ONCE-2, ONCE-3): state per source in the store, an mbox
read on from where the last run stopped unless it was rewritten, Maildir keys that follow the
folder, a schema-1 database upgraded without reading anything again, bodies in packs, and
batches bounded by what they would cost to redo."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from conftest import CORPUS, LOG, eml, make_maildir
from stored import tables as stored_tables
from test_ingest import SETTINGS, team_db

from crmlog.errors import DataError
from crmlog.ingest import Batch, ingest
from crmlog.parse import HeaderFilter
from crmlog.read import sources
from crmlog.records import Email
from crmlog.store import SCHEMA_VERSION, Store
from crmlog.store.jsonfile import JsonEngine

FROM_ = b"From anna@ourco.example Mon Jun  1 09:00:00 2026\n"


def mbox_of(*messages: bytes) -> bytes:
    return b"".join(FROM_ + m + b"\n" for m in messages)


def logged(i: int, **kw) -> bytes:
    return eml(bcc=LOG, message_id=f"<m{i}@x>", to=f"c{i}@acme.example", subject=f"number {i}", **kw)


def skipped(i: int) -> bytes:
    return eml(message_id=f"<s{i}@x>", to=f"c{i}@acme.example")


def db_of(path: Path) -> dict:
    return stored_tables(path)


_OPENS: list[dict[str, int]] = []  # the counts of the test that is running, if any


def _count_maildir_opens(event: str, args: tuple) -> None:
    """A message file opened for reading (`open(path, "rb")` or `os.open(path, O_RDONLY)`)."""
    if event != "open" or not _OPENS or not isinstance(args[0], str):
        return
    path, mode, flags = args
    reading = "r" in mode if mode else (flags & os.O_ACCMODE) == os.O_RDONLY
    if reading and ("/cur/" in path or "/new/" in path):
        _OPENS[-1]["maildir"] += 1


sys.addaudithook(_count_maildir_opens)  # Python's own audit events: every file the process opens


@pytest.fixture
def reads(monkeypatch):
    """Counts the messages a run reads past their listing: a Maildir's message files opened
    (seen by the interpreter's audit hook), an mbox's messages handed over by its folder
    (`Folder.messages`, the read stage's seam: each was read, its header block at least)."""
    count = {"maildir": 0, "mbox": 0}
    real = sources.Folder.messages

    def messages(folder, *a, **k):
        for item in real(folder, *a, **k):
            if folder.kind == "mbox":
                count["mbox"] += 1
            yield item

    monkeypatch.setattr(sources.Folder, "messages", messages)
    _OPENS.append(count)
    yield count
    _OPENS.remove(count)


# ------------------------------------------------------------------ mbox


def test_once_2_mbox_goes_on_from_where_the_last_run_stopped(tmp_path, reads):
    box, db = tmp_path / "mail.mbox", team_db(tmp_path / "crm.json")
    box.write_bytes(mbox_of(logged(1), skipped(2), logged(3)))
    s = ingest([box], settings=SETTINGS, db_path=db)
    assert (s.scanned, s.logged, s.skipped) == (3, 2, 1)
    (state,) = db_of(db)["sources"].values()
    assert (state["kind"], state["offset"]) == ("mbox", box.stat().st_size)
    reads["mbox"] = 0
    assert ingest([box], settings=SETTINGS, db_path=db).scanned == 0
    assert reads["mbox"] == 0  # nothing new: not one message read
    with open(box, "ab") as fh:
        fh.write(mbox_of(skipped(4), logged(5)))
    s = ingest([box], settings=SETTINGS, db_path=db)
    assert (s.scanned, s.logged, s.skipped) == (2, 1, 1) and reads["mbox"] == 2
    assert len(db_of(db)["emails"]) == 3


@pytest.mark.parametrize("change", ["message-removed", "same-size-rewrite", "truncated", "replaced-by-longer"])
def test_once_2_a_rewritten_mbox_is_read_again_and_nothing_doubles(tmp_path, change):
    box, db = tmp_path / "mail.mbox", team_db(tmp_path / "crm.json")
    box.write_bytes(mbox_of(logged(1), logged(2), logged(3)))
    ingest([box], settings=SETTINGS, db_path=db)
    if change == "message-removed":  # a mail client expunged one
        box.write_bytes(mbox_of(logged(1), logged(3)))
    elif change == "same-size-rewrite":
        data = bytearray(box.read_bytes())
        i = data.rindex(b"number 3")
        data[i : i + 8] = b"NUMBER 3"
        box.write_bytes(bytes(data))
    elif change == "truncated":
        box.write_bytes(mbox_of(logged(1)))
    else:
        box.write_bytes(mbox_of(logged(1), logged(2), logged(3)).replace(b"number", b"numero") + mbox_of(logged(4)))
    s = ingest([box], settings=SETTINGS, db_path=db)
    assert s.scanned == {"message-removed": 2, "same-size-rewrite": 3, "truncated": 1, "replaced-by-longer": 4}[change]
    assert s.logged == (1 if change == "replaced-by-longer" else 0)  # only the new message
    emails = db_of(db)["emails"].values()
    assert sorted(e["message_id"] for e in emails) == [
        f"m{i}@x" for i in range(1, 4 + (change == "replaced-by-longer"))
    ]


def _reference_mbox(data: bytes) -> list[tuple[str, bytes]]:
    """The line-based reading of an mbox the chunked reader must match: a line starting with
    'From ' opens a message; its bytes run to the next such line; the key is its span."""
    out, start, lines, offset = [], None, [], 0
    for line in data.splitlines(keepends=True):
        if line.startswith(b"From "):
            if start is not None:
                out.append((f"{start}-{offset}", b"".join(lines[1:])))
            start, lines = offset, []
        if start is not None:
            lines.append(line)
        offset += len(line)
    if start is not None:
        out.append((f"{start}-{offset}", b"".join(lines[1:])))
    return out


def _mboxes() -> list[bytes]:
    long_header = eml(headers={"X-Pad": ["y" * 900] * 60}, bcc=LOG)
    made = [
        mbox_of(
            logged(1),
            skipped(2),
            long_header,
            eml(body="From the start of a line\n>From quoted\n"),
            b"Subject: no body",
        ),
        FROM_ + FROM_ + logged(3),  # a From_ line right after a From_ line: an empty message
        mbox_of(logged(4)).replace(b"\n", b"\r\n"),
        mbox_of(skipped(5)) + FROM_.rstrip(b"\n"),  # ends in a From_ line without a newline
        b"",
    ]
    real = [p.read_bytes() for p in sorted(CORPUS.rglob("*mbox*")) if p.is_file()] if CORPUS.is_dir() else []
    return made + [r for r in real if r.startswith(b"From ")]


@pytest.mark.parametrize("chunk, head", [(1 << 20, 16384), (64, 16), (7, 5)])
def test_chunked_mbox_reader_splits_exactly_as_the_line_reader(tmp_path, monkeypatch, chunk, head):
    monkeypatch.setattr(sources, "MBOX_CHUNK", chunk)
    monkeypatch.setattr(sources, "HEAD_READ", head)
    addressed = HeaderFilter(frozenset({LOG}))
    for n, data in enumerate(_mboxes()):
        box = tmp_path / f"{n}.mbox"
        box.write_bytes(data)
        (folder,) = sources.open_folders(box)
        items = list(folder.messages(addressed))
        expected = _reference_mbox(data)
        assert [i.key for i in items] == [k for k, _ in expected], n
        for item, (_, raw) in zip(items, expected, strict=False):
            assert isinstance(item, sources.Unaddressed) != addressed(raw), (n, item.key)
            if isinstance(item, sources.RawMessage):
                assert item.data == raw
            assert item.position.offset == int(item.key.split("-")[1])
            assert item.position.tail == data[max(0, item.position.offset - 4096) : item.position.offset]


# ------------------------------------------------------------------ Maildir


def test_once_2_maildir_rescan_reads_no_file_and_follows_moves_and_deletions(tmp_path, reads):
    box = make_maildir(tmp_path / "M", {"": [("a", logged(1)), ("b", skipped(2)), ("c:2,S", logged(3))]})
    db = team_db(tmp_path / "crm.json")
    assert ingest([box], settings=SETTINGS, db_path=db).scanned == 3
    reads["maildir"] = 0
    os.rename(box / "new" / "a", box / "cur" / "a:2,RS")  # read by a mail client: moved, flagged
    os.rename(box / "cur" / "c:2,S", box / "cur" / "c:2,FS")
    assert ingest([box], settings=SETTINGS, db_path=db).scanned == 0
    assert reads["maildir"] == 0
    os.unlink(box / "new" / "b")
    ingest([box], settings=SETTINGS, db_path=db)
    (state,) = db_of(db)["sources"].values()
    assert sorted(state["keys"]) == ["a", "c"]  # the state follows the folder
    (box / "new" / "b").write_bytes(skipped(2))  # back again: read again, skipped again
    s = ingest([box], settings=SETTINGS, db_path=db)
    assert (s.scanned, s.skipped) == (1, 1) and reads["maildir"] == 1


def test_once_3_skipped_messages_are_committed_in_bounded_batches(tmp_path):
    box = make_maildir(tmp_path / "M", {"": [(f"{i}", skipped(i)) for i in range(5)]})
    db = team_db(tmp_path / "crm.json")
    states = []

    def progress():
        keys = [k for s in db_of(db).get("sources", {}).values() for k in s["keys"]]
        states.append(len(keys))

    ingest([box], settings=SETTINGS, db_path=db, batch=Batch(scanned=2), progress=progress)
    assert sorted(set(states)) == [0, 2, 4] and len(next(iter(db_of(db)["sources"].values()))["keys"]) == 5


# ------------------------------------------------------------------ schema 1 databases


@pytest.mark.json_only("the schema-1 JSON file split into parts")
def test_a_schema_1_database_is_upgraded_without_reading_anything_again(tmp_path, reads, cli):
    box = make_maildir(tmp_path / "M", {"": [("a", logged(1)), ("b", skipped(2))]})
    mbox = tmp_path / "mail.mbox"
    mbox.write_bytes(mbox_of(logged(3)))
    db = team_db(cli.db)
    cli.init()
    data = db_of(db)
    maildir_source, mbox_source = str(box.resolve()), str(mbox.resolve())
    data["meta"]["1"] = {"schema": 1}
    data["seen"] = {
        "1": {"source": maildir_source, "key": "a", "outcome": "logged"},
        "2": {"source": maildir_source, "key": "b", "outcome": "skipped"},
        "3": {"source": mbox_source, "key": f"0-{mbox.stat().st_size}", "outcome": "logged"},
    }
    data["emails"] = {
        "1": {
            "identity": "m1@x",
            "message_id": "m1@x",
            "subject": "number 1",
            "date": None,
            "path": "bcc",
            "user": "anna@ourco.example",
            "from": "anna@ourco.example",
            "contacts": [],
            "companies": [],
            "deals": [],
            "attachments": [],
            "text": "inline body of schema 1",
            "html": "",
            "source": maildir_source,
            "key": "a",
        }
    }
    db.write_text(json.dumps(data))
    shown = cli.json("emails", "show", "m1@x")  # a reader reads schema 1 as it is
    assert shown["text"] == "inline body of schema 1"
    assert db_of(db)["meta"]["1"]["schema"] == 1
    s = ingest([box, mbox], settings=SETTINGS, db_path=db)
    assert s.scanned == 0 and reads == {"maildir": 0, "mbox": 0}
    upgraded = db_of(db)
    assert upgraded["meta"]["1"]["schema"] == SCHEMA_VERSION and "seen" not in upgraded
    assert {s["kind"] for s in upgraded["sources"].values()} == {"maildir", "mbox"}
    assert cli.json("emails", "show", "m1@x")["text"] == "inline body of schema 1"


# ------------------------------------------------------------------ bodies


@pytest.mark.json_only("the body pack files beside the JSON file")
def test_bodies_live_in_packs_the_database_points_into(tmp_path, cli):
    box = make_maildir(tmp_path / "M", {"": [(f"{i}", logged(i, body=f"body number {i}\n")) for i in range(3)]})
    db = team_db(cli.db)
    cli.init()
    ingest([box], settings=SETTINGS, db_path=db, batch=Batch(parsed=2))
    assert b"body number" not in db.read_bytes()
    packs = sorted(p.name for p in (db.parent / "crm.bodies").iterdir())
    assert packs == ["000000.pack", "000001.pack"]  # one per batch
    assert db_of(db)["meta"]["1"]["packs"] == 2
    for i in range(3):
        assert cli.json("emails", "show", f"m{i}@x")["text"] == f"body number {i}\n"
    # a pack left by a run that died before its database write is overwritten, not trusted
    (db.parent / "crm.bodies" / "000002.pack").write_bytes(b"left by a killed run")
    (box / "new" / "9").write_bytes(logged(9, body="after the crash\n"))
    ingest([box], settings=SETTINGS, db_path=db)
    assert cli.json("emails", "show", "m9@x")["text"] == "after the crash\n"


@pytest.mark.json_only("a body pack file damaged on disk")
def test_a_damaged_body_pack_is_a_clear_error_not_a_crash(tmp_path, cli):
    box = make_maildir(tmp_path / "M", {"": [("1", logged(1))]})
    db = team_db(cli.db)
    cli.init()
    ingest([box], settings=SETTINGS, db_path=db)
    (db.parent / "crm.bodies" / "000000.pack").write_bytes(b"garbage")
    result = cli("emails", "show", "m1@x", expect=65)
    assert "000000.pack" in result.stderr and "Traceback" not in result.stderr
    with pytest.raises(DataError):
        store = Store.reader(db)
        store.body(store.get(Email, 1))


def test_sec_3_body_packs_are_owner_only(tmp_path):
    import stat

    box = make_maildir(tmp_path / "M", {"": [("1", logged(1))]})
    db = team_db(tmp_path / "data" / "crm.json")
    ingest([box], settings=SETTINGS, db_path=db)
    packs = db.parent / "crm.bodies"
    for p in (packs, *packs.iterdir()):
        assert stat.S_IMODE(p.stat().st_mode) & 0o077 == 0, p


def test_once_2_a_run_reads_the_state_of_the_folders_it_comes_to_and_no_other(tmp_path, monkeypatch):
    big = make_maildir(tmp_path / "Big", {"": [(f"{i}.host", skipped(i)) for i in range(50)]})
    small = make_maildir(tmp_path / "Small", {"": [("1.host", logged(1))]})
    db = team_db(tmp_path / "crm.json")
    ingest([big, small], settings=SETTINGS, db_path=db)
    asked: list[str] = []
    one_state = JsonEngine.source_state

    def source_state(engine, source):
        asked.append(source)
        return one_state(engine, source)

    def source_states(engine):
        raise AssertionError("every folder's state read")

    monkeypatch.setattr(JsonEngine, "source_state", source_state)
    monkeypatch.setattr(JsonEngine, "source_states", source_states)
    make_maildir(small, {"": [("2.host", logged(2))]})
    s = ingest([small], settings=SETTINGS, db_path=db)
    assert (s.scanned, s.logged) == (1, 1)
    assert asked == [str(small.resolve())]  # once, and not the big folder's
