"""Several `crmlog ingest` processes on one CRM in a PostgreSQL server, through the real CLI
on a private server (tests/pg.py): two hosts that got the same messages ingest at once and
log each once (ONCE-1, ONCE-4), and a run killed in the middle of a batch leaves nothing of
that batch, for the next run to finish (ONCE-3).

The engine keeps mailbox states per host (socket.gethostname()). Where a process may have a
host name of its own (root, with util-linux's `unshare --uts`), each run is started as a host
of its own; elsewhere both are this host, on Maildirs of different paths."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest
from conftest import LOG, Cli, eml, make_maildir
from pg import ADMIN
from psycopg.conninfo import conninfo_to_dict

SHARED, OWN = 12, 6  # messages both hosts got; messages one host alone got
STRANGER = "stranger@else.example"  # no user: rejected sender-not-a-user


def message(name: str, *, frm: str = "Anna <anna@ourco.example>") -> bytes:
    return eml(
        frm=frm, bcc=LOG, to=f"Contact <{name}@acme.example>", message_id=f"<{name}@ourco.example>", subject=name
    )


def delivered(host: str, names: list[str]) -> list[tuple[str, bytes]]:
    """The messages as a host's delivery agent stores them: its own file names."""
    return [(f"{n}.{name}.{host}:2,S", message(name, frm=STRANGER if "rej" in name else "anna@ourco.example"))
            for n, name in enumerate(names)]  # fmt: skip


def own_host_names() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "--uts", "hostname", "mx-probe"], capture_output=True).returncode == 0


def as_host(host: str | None, argv: list[str]) -> list[str]:
    """The command run as `host` (a host name of its own), or as this host (None)."""
    return ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', host, *argv] if host else argv


@pytest.fixture
def crm(pg_url, tmp_path) -> Cli:
    cli = Cli(tmp_path, pg_url)
    cli.init()
    cli("users", "add", "anna@ourco.example", "--name", "Anna", "--inbox", "anna@ourco.example")
    return cli


def ingest_at_once(crm: Cli, runs: list[tuple[str | None, Path]]) -> list[dict]:
    """Each (host, Maildir) ingested by a process of its own, all started before any is waited for."""
    procs = [
        subprocess.Popen(
            as_host(host, crm.argv("ingest", box, "--json")), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for host, box in runs
    ]
    outs = [proc.communicate(timeout=600) for proc in procs]
    for proc, (_, err) in zip(procs, outs, strict=True):
        assert proc.returncode == 0, err
    return [json.loads(out) for out, _ in outs]


def test_once_1_two_hosts_ingesting_maildirs_that_share_messages_at_once_log_each_once(crm, tmp_path):
    shared = [f"s{n}" for n in range(SHARED)] + ["rej-s1", "rej-s2"]
    own = {host: [f"{host}-{n}" for n in range(OWN)] + [f"rej-{host}"] for host in ("mx1", "mx2")}
    boxes = {
        host: make_maildir(tmp_path / host / "Maildir", {"": delivered(host, shared + own[host])})
        for host in ("mx1", "mx2")
    }
    hosts = {host: host if own_host_names() else None for host in boxes}

    first = ingest_at_once(crm, [(hosts[h], boxes[h]) for h in boxes])
    emails = crm.json("emails", "list")
    logged = Counter(e["message_id"] for e in emails)
    expected = {f"{name}@ourco.example" for name in shared + own["mx1"] + own["mx2"] if "rej" not in name}
    assert set(logged) == expected and set(logged.values()) == {1}  # every message once, none twice
    rejected = Counter(r["message_id"] for r in crm.json("rejections"))
    assert rejected == {f"{name}@ourco.example": 1 for name in ("rej-s1", "rej-s2", "rej-mx1", "rej-mx2")}
    assert sum(run["logged"] + run["duplicates"] for run in first) == len(expected) + SHARED
    assert sum(run["logged"] for run in first) == len(expected), first  # a run says duplicate what another logged first
    assert sorted(run["scanned"] for run in first) == [len(shared) + OWN + 1] * 2
    assert len(crm.json("contacts", "list")) == len(expected)  # a contact per message, made once

    second = ingest_at_once(crm, [(hosts[h], boxes[h]) for h in boxes])
    assert [(run["scanned"], run["logged"], run["rejected"], run["run"]) for run in second] == [(0, 0, 0, None)] * 2
    assert len(crm.json("emails", "list")) == len(expected) and len(crm.json("rejections")) == 4
    with psycopg.connect(str(crm.db)) as conn:  # each host's own state of its Maildir
        states = {(host, doc["source"]) for host, doc in conn.execute("SELECT host, doc FROM sources")}
    assert {source for _, source in states} == {str(box.resolve()) for box in boxes.values()}
    if all(hosts.values()):
        assert states == {(host, str(box.resolve())) for host, box in boxes.items()}


def test_once_3_an_ingest_killed_in_the_middle_of_a_batch_leaves_nothing_of_it(crm, pg_server, tmp_path):
    names = [f"k{n}" for n in range(SHARED)] + ["rej-k"]
    box = make_maildir(tmp_path / "Maildir", {"": delivered("mx1", names)})
    db = conninfo_to_dict(str(crm.db))["dbname"]
    hold = psycopg.connect(pg_server.url(db, ADMIN))  # a transaction: the batch's write of sources waits for it
    hold.execute("LOCK TABLE sources IN SHARE MODE")  # readers go on; a writer waits
    run = crm.start("ingest", box, "--json")
    try:
        with pg_server.admin(db) as watch:
            deadline = time.monotonic() + 120
            while not watch.execute(  # the batch's e-mails inserted, its transaction waiting for sources
                "SELECT count(*) FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid"
                " WHERE a.datname = %s AND a.wait_event_type = 'Lock'"
                " AND l.relation = 'emails'::regclass AND l.mode = 'RowExclusiveLock' AND l.granted",
                (db,),
            ).fetchone()[0]:
                assert run.poll() is None and time.monotonic() < deadline, "the run never reached its write"
                time.sleep(0.01)
        os.kill(run.pid, signal.SIGKILL)
        run.wait()
    finally:
        hold.rollback()
        hold.close()
    assert run.returncode == -signal.SIGKILL
    assert crm.json("emails", "list") == [] and crm.json("rejections") == [] and crm.json("contacts", "list") == []
    assert crm.json("runs", "list") == []  # nothing of the batch, its run not recorded

    again = crm.json("ingest", box)
    assert (again["scanned"], again["logged"], again["rejected"]) == (len(names), SHARED, 1)
    assert Counter(e["message_id"] for e in crm.json("emails", "list")) == {
        f"{name}@ourco.example": 1 for name in names if name != "rej-k"
    }
    assert crm.json("ingest", box)["logged"] == 0  # decided: nothing twice
