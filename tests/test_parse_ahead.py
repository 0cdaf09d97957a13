"""Parsing in a second process (crmlog/parse_ahead.py): the same parses, in the reader's order,
its events in their place; a worker that dies is replaced by parsing here; a run killed with
SIGKILL leaves no worker behind and no lock held. Real Maildirs, a real worker process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import LOG, eml, make_maildir
from test_cli import BROKEN_MIME
from test_ingest import SETTINGS, team_db

from crmlog import parse_ahead
from crmlog.ingest import ingest
from crmlog.parse import HeaderFilter
from crmlog.read import sources
from crmlog.read.caps import Caps
from crmlog.read.directory_times import DirectoryListed
from crmlog.records import Email, Rejection
from crmlog.store import Store

CAPS = Caps(attachment_bytes=SETTINGS.max_attachment_bytes, body_bytes=SETTINGS.max_body_bytes)


def mailbox(root: Path, n: int = 40) -> Path:
    """Addressed messages (one in ten unparseable), unaddressed ones between them, in new/ and cur/."""
    items = []
    for i in range(n):
        data = eml(bcc=LOG, message_id=f"<p{i}@x>", to=f"c{i}@acme.example", subject=f"number {i}")
        if i % 10 == 9:
            data = BROKEN_MIME.replace(b"<broken@x>", b"<p%d@x>" % i)
        items.append((f"{i:03d}.host" + (":2,S" if i % 2 else ""), data))
        items.append((f"{i:03d}.other" + (":2,S" if i % 3 else ""), eml(message_id=f"<o{i}@x>", to="x@y.example")))
    return make_maildir(root, {"": items})


def walked(box: Path, *, parallel: bool, kill_after: int | None = None) -> list[tuple[str, object]]:
    """What ParseAhead gives for the folder: (kind and key or event, parse), in order."""
    (folder,) = sources.open_folders(box)
    out: list[tuple[str, object]] = []
    with parse_ahead.ParseAhead(CAPS, SETTINGS.forward, parallel=parallel) as ahead:
        items = folder.messages(HeaderFilter(SETTINGS.logging_addresses), on_directory=ahead.mark)
        for n, (item, parsed) in enumerate(ahead.items(items)):
            if kill_after is not None and n == kill_after:
                assert ahead._worker is not None, "no worker was started"
                ahead._worker._proc.kill()
            if isinstance(item, DirectoryListed):
                out.append((f"listed {item.directory}", None))
            else:
                out.append((f"{type(item).__name__} {getattr(item, 'key', '')}", parsed))
    return out


@pytest.fixture
def early_worker(monkeypatch):
    monkeypatch.setattr(parse_ahead, "MIN_ADDRESSED", 3)
    monkeypatch.setattr(parse_ahead, "WINDOW", 4)


def test_once_3_the_worker_gives_the_same_parses_in_the_readers_order(tmp_path, early_worker):
    box = mailbox(tmp_path / "M")
    here = walked(box, parallel=False)
    there = walked(box, parallel=True)
    assert there == here
    assert sum(1 for kind, _ in here if kind.startswith("RawMessage")) == 40
    assert sum(1 for _, parsed in here if isinstance(parsed, tuple) and parsed[1] is not None) == 4  # unparseable
    listed = [n for n, (kind, _) in enumerate(here) if kind.startswith("listed")]
    assert len(listed) == 2 and listed[-1] == len(here) - 1  # each directory's event after its last message


def test_a_worker_that_dies_is_replaced_by_parsing_here(tmp_path, early_worker):
    box = mailbox(tmp_path / "M")
    assert walked(box, parallel=True, kill_after=10) == walked(box, parallel=False)


def test_once_1_a_run_with_the_worker_stores_what_a_run_without_it_stores(tmp_path, early_worker):
    box = mailbox(tmp_path / "M")
    stored = []
    for parallel in (False, True):
        db = team_db(tmp_path / f"{parallel}" / "crm.json")
        s = ingest([box], settings=SETTINGS, db_path=db, parallel=parallel)
        assert (s.logged, s.rejected, s.skipped) == (36, 4, 40)
        with Store.reader(db) as store:
            emails = [(e.id, e.identity, e.subject, e.contacts, store.body(e).text) for e in store.read(Email)]
            rejections = [(r.identity, r.code) for r in store.read(Rejection)]
        stored.append((emails, rejections))
    assert stored[0] == stored[1]


def children_parsing(pid: int) -> list[int]:
    """The worker processes of the process `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"crmlog.parse_ahead" in cmdline:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the worker through /proc (Linux)")
def test_once_3_a_run_killed_with_sigkill_leaves_no_worker_and_no_lock(tmp_path, cli):
    many = [(f"{i:04d}.host", eml(bcc=LOG, message_id=f"<k{i}@x>", to=f"c{i}@acme.example")) for i in range(3000)]
    box = make_maildir(tmp_path / "M", {"": many})
    cli.init()
    cli("users", "add", "anna@ourco.example", "--inbox", "anna@ourco.example")
    run = subprocess.Popen(cli.argv("ingest", str(box), "--quiet"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    workers: list[int] = []
    deadline = time.monotonic() + 120
    while not workers and run.poll() is None and time.monotonic() < deadline:
        workers = children_parsing(run.pid)
    assert workers, "the run started no worker (or ended before it could be seen)"
    run.send_signal(signal.SIGKILL)
    run.wait()
    deadline = time.monotonic() + 60
    while any(alive(w) for w in workers) and time.monotonic() < deadline:
        os.sched_yield()
    assert not any(alive(w) for w in workers), "the worker outlived the run"
    again = cli("ingest", str(box), "--json", "--lock-timeout", "0")  # the lock is free
    assert json.loads(again.stdout)["logged"] + json.loads(again.stdout)["duplicates"] <= 3000


def test_the_worker_runs_as_its_own_module():
    proc = subprocess.run([sys.executable, "-m", "crmlog.parse_ahead"], input=b"", capture_output=True)
    assert proc.returncode == 0 and proc.stdout == b""  # ends quietly when its input ends
