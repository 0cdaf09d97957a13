"""Damaged state through the real CLI in a real process: a truncated, garbage or unknown-schema
database, an unwritable data directory, a full disk (a small tmpfs, where this machine lets
the tests mount one). Each is one line on stderr with the sysexits code of cli.md, and the
old database is left byte for byte as it was."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from conftest import LOG, eml, make_maildir
from test_mailbox_changes import unprivileged

from crmlog.store import SCHEMA_VERSION

pytestmark = pytest.mark.json_only(
    "damage done to the JSON file and its directory (a server's own: tests/test_postgresql.py)"
)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")
    }


def one_line(proc: subprocess.CompletedProcess, code: int, *words: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    for w in words:
        assert w in proc.stderr, proc.stderr


def mailbox(tmp_path: Path, n: int = 5, attachment: int = 0, tag: str = "d") -> Path:
    def atts(i):
        return [(f"a{i}.bin", "application/octet-stream", os.urandom(attachment))] if attachment else ()

    return make_maildir(
        tmp_path / "M",
        {
            "": [
                (f"{i}.host", eml(bcc=LOG, message_id=f"<{tag}{i}@x>", to=f"c{i}@acme.example", attachments=atts(i)))
                for i in range(n)
            ]
        },
    )


@pytest.fixture
def logged_once(team, tmp_path):
    """A team whose database holds logged e-mails already."""
    proc = team.process("ingest", str(mailbox(tmp_path)), "--quiet")
    assert proc.returncode == 0, proc.stderr
    return team


@pytest.mark.parametrize(
    "damage, words",
    [
        (lambda b: b[: len(b) // 2], ("corrupt",)),  # truncated mid-write (by something else)
        (lambda b: b[:1], ("corrupt",)),
        (lambda b: b"\x00" * 64 + b[64:], ("corrupt",)),  # garbage
        (lambda b: b"", ("corrupt",)),
        (
            lambda b: re.sub(rb'"schema": ?%d\b' % SCHEMA_VERSION, b'"schema": 99', b, count=1),
            ("schema version 99",),
        ),
        (lambda b: json.dumps({"users": {}}).encode(), ("schema version None",)),
    ],
)
def test_damaged_database_is_exit_65_with_one_line_and_left_untouched(logged_once, tmp_path, damage, words):
    db = logged_once.db
    db.write_bytes(damage(db.read_bytes()))
    before = snapshot(db.parent)
    for args in (
        ("ingest", str(mailbox(tmp_path / "more"))),
        ("emails", "list", "--json"),
        ("contacts", "list"),
        ("users", "add", "x@ourco.example"),
    ):
        one_line(logged_once.process(*args), 65, str(db), *words)
        assert snapshot(db.parent) == before


def test_unwritable_data_directory_is_exit_74_and_the_database_intact(logged_once, tmp_path):
    prefix = unprivileged()
    db = logged_once.db
    before = snapshot(db.parent)
    db.parent.chmod(0o500)
    try:
        box = mailbox(tmp_path / "more")
        for b in box.rglob("*"):
            b.chmod(0o755 if b.is_dir() else 0o644)
        one_line(logged_once.process("ingest", str(box), prefix=prefix), 74, str(db.parent))
        assert logged_once.process("emails", "list", "--json", prefix=prefix).returncode == 0  # readers still read
    finally:
        db.parent.chmod(0o700)
    assert snapshot(db.parent) == before


def test_unwritable_lock_beside_is_not_a_crash_either(logged_once, tmp_path):
    prefix = unprivileged()
    db = logged_once.db
    lock = Path(str(db) + ".lock")
    lock.touch()
    lock.chmod(0o400)
    before = snapshot(db.parent)
    try:
        proc = logged_once.process("ingest", str(mailbox(tmp_path / "more")), prefix=prefix)
    finally:
        lock.chmod(0o600)
    assert proc.returncode in (74, 75), proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert snapshot(db.parent) == before


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MB tmpfs: a disk that fills up. Skipped where mounting is not allowed."""
    mount = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a full disk needs a small tmpfs, and mounting one needs root (not root here)")
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if proc.returncode:
        pytest.skip(f"cannot mount a small tmpfs for a full disk here: {proc.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_disk_is_exit_74_and_the_database_intact(logged_once, tmp_path, small_disk):
    full = logged_once
    shutil.copytree(full.db.parent, small_disk / "data")
    full.db = small_disk / "data" / "crm.json"
    before = snapshot(full.db.parent)
    box = mailbox(tmp_path / "big", n=8, attachment=200_000, tag="big")  # 1.6 MB of attachments for a 1 MB disk
    proc = full.process("ingest", str(box))
    one_line(proc, 74, "No space left on device")
    after = snapshot(full.db.parent)
    assert after["crm.json"] == before["crm.json"]  # the database as it was
    assert [p for p in full.db.parent.rglob("*.tmp")] == []
    assert full.process("emails", "list", "--json").returncode == 0
    # room again (the attachments are smaller now): the next run logs them, nothing twice
    for i, p in enumerate(sorted((box / "new").iterdir())):
        p.write_bytes(
            eml(
                bcc=LOG,
                message_id=f"<big{i}@x>",
                to=f"c{i}@acme.example",
                attachments=[("a.bin", "application/octet-stream", b"x" * 1000)],
            )
        )
    proc = full.process("ingest", str(box), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["logged"] == 8
    assert len(json.loads(full.process("emails", "list", "--json").stdout)) == 13
