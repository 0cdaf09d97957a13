"""Mailboxes that other programs change while crmlog reads them: Maildir files moved from
new/ to cur/, flags changed, files deleted between the listing and the read, files nobody may
read, names that are not UTF-8, and an mbox appended to during a run. The changes are made
on real files at a chosen moment of a real run (after the folder was listed, through the
run's progress hook) or with a real process that cannot read what root could."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_maildir
from test_incremental import FROM_, logged, mbox_of
from test_ingest import SETTINGS, team_db

from crmlog.ingest import ingest
from crmlog.records import Email
from crmlog.store import Store


def logged_ids(db: Path) -> list[str]:
    return sorted(e.identity for e in Store.reader(db).read(Email))


def inbox(root: Path, n: int, sub="new") -> Path:
    names = [(f"{i}.host" + (":2,S" if sub == "cur" else ""), logged(i)) for i in range(n)]
    return make_maildir(root, {"": names})


def once_in_all(db: Path, n: int) -> None:
    assert logged_ids(db) == sorted(f"m{i}@x" for i in range(n))  # each logged, none twice


def after_first_message(change):
    """A progress hook that makes `change` once, after the run has listed the folder and
    decided on its first message."""
    done = []

    def hook():
        if not done:
            done.append(True)
            change()

    return hook


def test_once_1_messages_moved_from_new_to_cur_mid_run_are_logged_once(tmp_path):
    box, db = inbox(tmp_path / "M", 20), team_db(tmp_path / "crm.json")

    def move():
        for p in (box / "new").iterdir():
            p.rename(box / "cur" / (p.name + ":2,S"))

    first = ingest([box], settings=SETTINGS, db_path=db, progress=after_first_message(move))
    second = ingest([box], settings=SETTINGS, db_path=db)
    assert first.logged + second.logged == 20 and first.unreadable == second.unreadable == 0
    once_in_all(db, 20)
    assert ingest([box], settings=SETTINGS, db_path=db).scanned == 0


def test_once_2_flags_changed_mid_run_and_between_runs_log_nothing_twice(tmp_path):
    box, db = inbox(tmp_path / "M", 20, sub="cur"), team_db(tmp_path / "crm.json")

    def reflag():
        for p in (box / "cur").iterdir():
            p.rename(p.with_name(p.name.replace(":2,S", ":2,RS")))

    ingest([box], settings=SETTINGS, db_path=db, progress=after_first_message(reflag))
    ingest([box], settings=SETTINGS, db_path=db)
    once_in_all(db, 20)
    reflag_again = [p.rename(p.with_name(p.name + "T")) for p in (box / "cur").iterdir()]
    assert reflag_again and ingest([box], settings=SETTINGS, db_path=db).scanned == 0


def test_files_deleted_between_listing_and_reading_are_passed_over_without_a_crash(tmp_path):
    box, db = inbox(tmp_path / "M", 20), team_db(tmp_path / "crm.json")
    deleted = []

    def delete():
        for p in sorted((box / "new").iterdir())[::2]:
            p.unlink()
            deleted.append(p.name)

    s = ingest([box], settings=SETTINGS, db_path=db, progress=after_first_message(delete))
    assert s.unreadable == 0 and s.problems == []
    kept = {f"m{p.name.split('.')[0]}@x" for p in (box / "new").iterdir()}
    assert set(logged_ids(db)) - kept <= {"m0@x", "m1@x", "m10@x"}  # only what was read before the delete
    assert kept <= set(logged_ids(db))
    assert len(deleted) == 10


def test_once_2_mbox_appended_to_during_a_run_loses_nothing(tmp_path):
    box, db = tmp_path / "mail.mbox", team_db(tmp_path / "crm.json")
    box.write_bytes(mbox_of(*(logged(i) for i in range(10))))

    def deliver():
        with open(box, "ab") as fh:
            fh.write(mbox_of(logged(10), logged(11)))

    first = ingest([box], settings=SETTINGS, db_path=db, progress=after_first_message(deliver))
    second = ingest([box], settings=SETTINGS, db_path=db)
    assert first.logged + second.logged == 12
    once_in_all(db, 12)


WRITER = """
import fcntl, sys
path, cut = sys.argv[1], int(sys.argv[2])
whole = sys.stdin.buffer.read(int(sys.argv[3]))
with open(path, "ab") as fh:
    fcntl.lockf(fh, fcntl.LOCK_EX)  # as Postfix's local and virtual agents lock an mbox
    fh.write(whole[:cut]); fh.flush()
    print("half", flush=True)
    sys.stdin.buffer.read(1)  # until told to go on
    fh.write(whole[cut:]); fh.flush()
    fcntl.lockf(fh, fcntl.LOCK_UN)
"""


def test_mbox_message_half_written_by_a_locking_writer_waits_for_the_next_run(tmp_path):
    box, db = tmp_path / "mail.mbox", team_db(tmp_path / "crm.json")
    box.write_bytes(mbox_of(logged(0), logged(1)))
    whole = FROM_ + logged(2, body="the whole body, line one\n" * 500 + "THE END\n") + b"\n"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(box), str(len(whole) // 2), str(len(whole))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        writer.stdin.write(whole)
        writer.stdin.flush()
        assert writer.stdout.readline() == b"half\n"
        s = ingest([box], settings=SETTINGS, db_path=db)
        assert (s.logged, s.scanned) == (2, 2)  # the half message is not decided on
        writer.stdin.write(b"go")
        writer.stdin.close()
        assert writer.wait(timeout=60) == 0
    finally:
        writer.kill()
    s = ingest([box], settings=SETTINGS, db_path=db)
    assert (s.logged, s.scanned) == (1, 1)
    store = Store.reader(db)
    (email,) = store.read(Email, where={"message_id": "m2@x"})
    assert store.body(email).text.rstrip().endswith("THE END")  # whole, not cut


def test_mbox_dot_lock_also_marks_a_writer(tmp_path):
    box, db = tmp_path / "mail.mbox", team_db(tmp_path / "crm.json")
    box.write_bytes(mbox_of(logged(0)) + FROM_ + logged(1)[:200])
    lock = Path(str(box) + ".lock")
    lock.write_text("12345\n")
    assert ingest([box], settings=SETTINGS, db_path=db).logged == 1
    lock.unlink()  # the writer is gone and left it cut: read as it stands, not waited for forever
    s = ingest([box], settings=SETTINGS, db_path=db)
    assert s.scanned == 1


# ---------------------------------------------------------------- a process that cannot read

NO_DAC = ["setpriv", "--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search"]


def unprivileged() -> list[str]:
    """A command prefix under which file modes hold: as root, without the capabilities that
    let root read any file; as anyone else, nothing."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv (util-linux): root reads files of mode 000")
    return NO_DAC


def test_once_2_unreadable_files_and_names_that_are_not_utf8_are_reported_and_retried(team, tmp_path):
    box = make_maildir(tmp_path / "M", {"": [("ok.host", logged(1))]})
    odd = os.path.join(os.fsencode(box / "new"), b"caf\xe9-\xff.host")
    with open(odd, "wb") as fh:
        fh.write(logged(2))
    os.chmod(odd, 0)
    (box / "new" / "plain.host").write_bytes(logged(3))
    (box / "new" / "plain.host").chmod(0)
    first = team.process("ingest", str(box), "--json", prefix=unprivileged())
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert (summary["logged"], summary["unreadable"]) == (1, 2)
    warnings = first.stderr.splitlines()
    assert len(warnings) == 2 and all("Permission denied" in w and "tried again next run" in w for w in warnings)
    assert any("caf\\xe9-\\xff.host" in w for w in warnings)  # the name shown, never a crash on it
    os.chmod(odd, 0o600)
    (box / "new" / "plain.host").chmod(0o600)
    second = team.process("ingest", str(box), "--json", prefix=unprivileged())
    assert json.loads(second.stdout)["logged"] == 2
    assert sorted(e["message_id"] for e in team.json("emails", "list")) == ["m1@x", "m2@x", "m3@x"]


def test_unreadable_mbox_is_exit_66_with_one_line(team, tmp_path):
    box = tmp_path / "mail.mbox"
    box.write_bytes(mbox_of(logged(1)))
    box.chmod(0)
    proc = team.process("ingest", str(box), prefix=unprivileged())
    assert proc.returncode == 66 and proc.stderr.count("\n") == 1 and "not readable" in proc.stderr
