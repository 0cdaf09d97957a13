"""The store on real files: atomic batched writes, refusal of bad databases, the writer lock,
owner-only modes. The lock test holds the lock from another real process."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from conftest import eml
from stored import tables as stored_tables

from crmlog import rules
from crmlog.errors import DataError, LockBusy, NoDatabase, StorageIOError
from crmlog.model import RawMessage, Settings
from crmlog.parse import parse
from crmlog.records import Email
from crmlog.store import SCHEMA_VERSION, Store, edits

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def add_anna(store: Store) -> None:
    edits.add_user(
        store,
        email="anna@ourco.example",
        name="Anna",
        inboxes=[],
        aliases=[],
        logins=[],
        seat="full",
        permission=True,
        now=NOW,
    )


def apply_one(store: Store, **message) -> None:
    """One message BCC'd by Anna, parsed, decided and applied through the store's public seam
    (not committed)."""
    raw = eml(frm="Anna <anna@ourco.example>", bcc="log@crm.example", **message)
    parsed = parse(raw)
    decision = rules.decide(parsed, store.view(), Settings(bcc=("log@crm.example",)))
    store.apply(RawMessage(source="M", key="1", data=raw), parsed, decision, now=NOW)


def test_once_3_nothing_reaches_disk_before_commit_then_all_at_once(tmp_path):
    db = tmp_path / "crm.json"
    with Store.writer(db) as store:
        add_anna(store)
        apply_one(store, to="Li <li@acme.example>")  # a contact and its company (BCC-3, COMP-1)
        assert not db.exists()
        store.commit()
    data = stored_tables(db)
    assert [d["email"] for d in data["users"].values()] == ["anna@ourco.example"]
    assert [d["email"] for d in data["contacts"].values()] == ["li@acme.example"]
    assert [d["domain"] for d in data["companies"].values()] == ["acme.example"]
    assert data["meta"]["1"]["schema"] == SCHEMA_VERSION
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_once_3_failed_write_leaves_old_database_whole(tmp_path, monkeypatch):
    db = tmp_path / "crm.json"
    with Store.writer(db) as store:
        add_anna(store)
        store.commit()
    before = db.read_bytes()

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    with Store.writer(db) as store:
        apply_one(store, to="li@acme.example")
        monkeypatch.setattr(os, "replace", boom)
        with pytest.raises(StorageIOError, match="No space left") as err:
            store.commit()
        assert err.value.exit_code == 74
    assert db.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize(
    "content, message",
    [
        (b'{"users": {"1": {"email": "a@b.c"', "corrupt"),
        (b"\x00\x00garbage", "corrupt"),
        (b'{"meta": {"1": {"schema": 99}}}', "schema version 99"),
        (b'{"_default": {}}', "schema version None"),
        (b"[1, 2]", "not a crmlog database"),
        (b'{"meta": {"1": 5}}', "not a crmlog database"),
        (b'{"meta": {"1": {"schema": 1}}, "users": {"1": {"name": "no e-mail"}}}', "record crmlog cannot read"),
    ],
)
def test_corrupt_or_unknown_schema_database_refused_and_untouched(tmp_path, content, message):
    db = tmp_path / "crm.json"
    db.write_bytes(content)
    for opener in (Store.reader, Store.writer):
        with pytest.raises(DataError, match=message) as err:
            opener(db)
        assert err.value.exit_code == 65
    assert db.read_bytes() == content


def log_with_attachment(db, filename: str, data: bytes) -> Email:
    """One message with one attachment, logged through the store's public seam."""
    with Store.writer(db) as store:
        add_anna(store)
        store.commit()
        apply_one(store, attachments=[(filename, "text/plain", data)])
        store.commit()
        (email,) = store.read(Email)
    return email


def test_sec_3_database_attachments_and_lock_are_owner_only(tmp_path):
    db = tmp_path / "data" / "crm.json"
    log_with_attachment(db, "../../x", b"hello")
    attachments = db.parent / "crm.attachments"
    for p in (db, db.parent, attachments, *attachments.iterdir()):
        assert stat.S_IMODE(p.stat().st_mode) & 0o077 == 0, p


def test_sec_1_attachment_stored_by_content_hash_never_by_its_name(tmp_path):
    db = tmp_path / "crm.json"
    email = log_with_attachment(db, "../../etc/passwd", b"x")
    (a,) = email.attachments
    assert (a.filename, a.stored) == ("../../etc/passwd", True)
    assert a.sha256 == "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
    assert [p.name for p in (tmp_path / "crm.attachments").iterdir()] == [a.sha256]
    assert not (tmp_path.parent / "etc").exists()


HOLD_LOCK = """
import sys, filelock
lock = filelock.FileLock(sys.argv[1], mode=0o600)
lock.acquire()
print("held", flush=True)
sys.stdin.read()
"""


def test_once_4_second_writer_waits_then_gives_up_with_75_and_lock_dies_with_holder(tmp_path):
    db = tmp_path / "crm.json"
    with Store.writer(db) as store:
        add_anna(store)
        store.commit()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(db) + ".lock"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LockBusy) as err:
            Store.writer(db, lock_timeout=0.2)
        assert err.value.exit_code == 75
        holder.kill()  # SIGKILL: the OS lock goes with the process
        holder.wait()
        with Store.writer(db, lock_timeout=5) as store:
            assert [u.email for u in store.view().users] == ["anna@ourco.example"]
    finally:
        holder.kill()
        holder.wait()


def test_readers_never_take_the_lock_nor_create_a_database(tmp_path):
    db = tmp_path / "nothing" / "crm.json"
    with pytest.raises(NoDatabase, match=r"no database at .*nothing/crm\.json"):
        Store.reader(db)  # a mistyped --db is not an empty CRM
    assert not db.parent.exists()
    with Store.writer(db) as store:
        add_anna(store)
        store.commit()
    assert list(Store.reader(db).read(Email)) == []


def test_dry_run_writer_writes_nothing(tmp_path):
    db = tmp_path / "crm.json"
    with Store.writer(db, dry_run=True) as store:
        add_anna(store)
        store.commit()
    assert list(tmp_path.iterdir()) == []


def test_once_3_a_killed_writers_temp_files_are_removed_by_the_next_writer_only(tmp_path):
    db = tmp_path / "crm.json"
    with Store.writer(db) as store:
        add_anna(store)
        store.commit()
    stale = [tmp_path / ".crm.json.4242.tmp", tmp_path / "crm.attachments" / ".ab12.4242.tmp"]
    stale[1].parent.mkdir()
    for p in stale:
        p.write_bytes(b"half a write")
    keep = tmp_path / "notes.tmp"  # not one of ours
    keep.write_text("mine")
    Store.reader(db)
    assert all(p.exists() for p in stale)
    with Store.writer(db):
        pass
    assert not any(p.exists() for p in stale) and keep.exists()
