"""ONCE-3 and ONCE-4 with real processes: `crmlog ingest` killed with SIGKILL at many moments,
and runs that overlap. The final database must equal an uninterrupted run's.

CRMLOG_CRASH_KILLS sets the number of kills (30 by default; the long variant: 300)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from conftest import LOG, Cli, eml, make_maildir

from crmlog.records import Company, Contact, Email, Notice, Rejection
from crmlog.store import Store

KILLS = int(os.environ.get("CRMLOG_CRASH_KILLS", "30"))
MESSAGES = 3000
CONFIG = f'[addresses]\nbcc = ["{LOG}"]\nforward = ["fwd@crm.example.com"]\n'


def busy_maildir(root: Path, n: int = MESSAGES) -> Path:
    """n messages in two folders: logged ones (some with attachments), rejected ones, copies
    of the same message in both folders, and many that are not for us."""
    inbox, sent = [], []
    for i in range(n):
        kind = i % 10
        mid = f"<m{i}@ourco.example>"
        to = f"Contact {i % 50} <c{i % 50}@acme{i % 7}.example>"
        if kind in (0, 1, 2):
            atts = (
                [(f"quote-{i}.pdf", "application/pdf", b"%PDF-1.4 " + str(i % 13).encode() * 400)] if i % 6 == 0 else ()
            )
            sent.append((f"{i}.host:2,S", eml(bcc=LOG, to=to, message_id=mid, subject=f"offer {i}", attachments=atts)))
        elif kind == 3:
            inbox.append((f"{i}.host", eml(frm="stranger@else.example", bcc=LOG, to=to, message_id=mid)))
        elif kind == 4:
            inbox.append((f"{i}.host", eml(frm="ben@ourco.example", bcc=LOG, to=to, message_id=mid)))
        elif kind == 5:  # the delivered copy of message i - 5, found in the other folder (ONCE-1)
            inbox.append(
                (
                    f"{i}.host",
                    eml(
                        to=f"Contact {(i - 5) % 50} <c{(i - 5) % 50}@acme{(i - 5) % 7}.example>",
                        message_id=f"<m{i - 5}@ourco.example>",
                        subject=f"offer {i - 5}",
                        headers={"Delivered-To": LOG},
                    ),
                )
            )
        else:
            inbox.append((f"{i}.host", eml(to=to, message_id=mid, subject="not for the CRM")))
    return make_maildir(root, {"": inbox, ".Sent": sent})


class Crm(Cli):
    """A configuration, a database with a team, and `crmlog` as a real process."""

    def __init__(self, root: Path, team_from: Crm | None = None):
        super().__init__(root)
        self.write_config(CONFIG)
        if team_from is None:
            self.run("users", "add", "anna@ourco.example", "--inbox", "anna@ourco.example", check=True)
            self.run("users", "add", "ben@ourco.example", "--seat", "read-only", check=True)
        else:
            shutil.copytree(team_from.db.parent, self.db.parent)

    def run(self, *args: str, check=False) -> subprocess.CompletedProcess:
        proc = self.process(*args, timeout=600)
        if check:
            assert proc.returncode == 0, proc.stderr
        return proc

    def state(self) -> dict:
        """Everything a run decides, without ids and times: what must match across runs."""
        store = Store.reader(self.db)
        emails = []
        for e in store.read(Email):
            emails.append(
                (
                    e.identity,
                    e.subject,
                    e.path,
                    e.user,
                    e.rule,
                    e.sender,
                    e.contacts,
                    e.companies,
                    e.deals,
                    tuple((a.filename, a.size, a.sha256, a.stored) for a in e.attachments),
                    store.body(e).text,
                )
            )
        stored = self.db.parent / "crm.attachments"
        return {
            "emails": sorted(emails),
            "contacts": sorted((c.email, c.name, c.source, c.company or "") for c in store.read(Contact)),
            "companies": sorted(c.domain for c in store.read(Company)),
            "rejections": sorted((r.identity, r.code, r.reason) for r in store.read(Rejection)),
            "notices": sorted((n.kind, n.user, n.message_id, n.detail) for n in store.read(Notice)),
            "sources": sorted((s["source"], tuple(sorted(s.get("keys", ())))) for s in store.engine.source_states()),
            "attachment files": sorted(p.name for p in stored.iterdir()) if stored.exists() else [],
        }


def assert_a_whole_prefix(partial: dict, final: dict) -> None:
    """ONCE-3 after a kill: what is on disk is part of the final result, nothing twice, and
    every message marked as read has its outcome stored."""
    for table in ("emails", "contacts", "rejections", "companies"):
        assert set(partial[table]) <= set(final[table]), table
        assert len(set(partial[table])) == len(partial[table]), table
    assert len({e[0] for e in partial["emails"]}) == len(partial["emails"])  # ONCE-1
    assert set(partial["attachment files"]) >= {a[2] for e in partial["emails"] for a in e[9] if a[3]}
    final_keys = dict(final["sources"])
    for source, keys in partial["sources"]:
        assert set(keys) <= set(final_keys[source])


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    root = tmp_path_factory.mktemp("crash")
    box = busy_maildir(root / "Maildir")
    team = Crm(root / "team")
    ref = Crm(root / "ref", team_from=team)
    proc = ref.run("ingest", str(box), "--json", "--batch-size", "25", check=True)
    summary = json.loads(proc.stdout)
    assert summary["logged"] == 900 and summary["duplicates"] == 300 and summary["rejected"] == 600
    return box, team, ref.state()


def delays(total: float):
    """Kill moments spread over a whole run, none twice alike: start-up included, when the
    lock is taken, between commits and inside them."""
    k = 0
    while True:
        k += 1
        yield 0.05 + ((k * 0.6180339887) % 1.0) * total


def test_once_3_sigkill_at_any_moment_loses_nothing_and_doubles_nothing(reference, tmp_path):
    box, team, final = reference
    probe = Crm(tmp_path / "probe", team_from=team)
    start = os.times().elapsed
    probe.run("ingest", str(box), "--quiet", "--batch-size", "25", check=True)
    moments = delays(os.times().elapsed - start)
    kills = episodes = midway = 0
    while kills < KILLS:
        episodes += 1
        crm = Crm(tmp_path / f"episode-{episodes}", team_from=team)
        done = 0  # e-mails on disk before this run
        while True:
            proc = crm.start("ingest", str(box), "--quiet", "--batch-size", "25")
            try:
                proc.wait(timeout=next(moments))  # the kill moment: not waiting for anything
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.communicate()
                kills += 1
                partial = crm.state()
                assert_a_whole_prefix(partial, final)  # readable, and a whole prefix
                midway += done < len(partial["emails"])  # this run had written part of its work
                done = len(partial["emails"])
                continue
            _out, err = proc.communicate()
            assert proc.returncode == 0, err
            break
        assert crm.state() == final  # the same e-mails, contacts, rejections, attachments
        assert [p.name for p in crm.db.parent.rglob("*.tmp")] == []  # a killed run's temp files are gone
    print(
        f"\n{kills} kills over {episodes} runs to completion, each equal to the uninterrupted run; "
        f"{midway} kills came after the killed run had written part of its work"
    )
    assert kills >= KILLS


def lock_holder_inodes() -> set[int]:
    """Inodes that some process holds a lock on now (Linux /proc/locks)."""
    out = set()
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        dev_inode = next((f for f in fields if f.count(":") == 2), None)
        if dev_inode:
            out.add(int(dev_inode.rsplit(":", 1)[1]))
    return out


def wait_until_locked(proc: subprocess.Popen, lock: Path) -> None:
    """Until `proc` holds the lock file (its inode shows in /proc/locks)."""
    while True:
        try:
            proc.wait(timeout=0.005)
            raise AssertionError(f"the run ended before it took the lock: {proc.stderr.read()}")
        except subprocess.TimeoutExpired:
            pass
        if lock.exists() and lock.stat().st_ino in lock_holder_inodes():
            return


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs Linux /proc/locks to see who holds the lock")
def test_once_4_second_run_waits_then_exits_75_untouched_and_a_killed_holder_frees_the_lock(reference, tmp_path):
    box, team, final = reference
    overlaps = 0
    for attempt in range(5):
        crm = Crm(tmp_path / f"overlap-{attempt}", team_from=team)
        holder = crm.start("ingest", str(box), "--quiet", "--batch-size", "25")
        wait_until_locked(holder, Path(str(crm.db) + ".lock"))
        holder.send_signal(signal.SIGSTOP)  # frozen while it holds the lock, at a different point each time
        try:
            before = {p.name: p.read_bytes() for p in crm.db.parent.rglob("*") if p.is_file()}
            second = crm.run("ingest", str(box), "--json", "--lock-timeout", "0.3")
            assert second.returncode == 75, second.stderr
            assert second.stdout == ""
            assert second.stderr.count("\n") == 1 and "another crmlog run holds the lock" in second.stderr
            after = {p.name: p.read_bytes() for p in crm.db.parent.rglob("*") if p.is_file()}
            assert after == before  # the second run touched nothing
            overlaps += 1
        finally:
            holder.send_signal(signal.SIGKILL)  # the lock must die with it, stopped or not
            holder.communicate()
        third = crm.run("ingest", str(box), "--json", "--lock-timeout", "5")
        assert third.returncode == 0, third.stderr
        assert crm.state() == final
    print(f"\n{overlaps} overlaps: each second run gave up with 75, each killed holder freed the lock")


def test_once_4_runs_started_together_write_one_at_a_time(reference, tmp_path):
    box, team, final = reference
    for attempt in range(3):
        crm = Crm(tmp_path / f"together-{attempt}", team_from=team)
        runs = [crm.start("ingest", str(box), "--json", "--lock-timeout", "600") for _ in range(3)]
        summaries = []
        for proc in runs:
            out, err = proc.communicate(timeout=600)
            assert proc.returncode == 0, err
            summaries.append(json.loads(out))
        # one run did the work, the others found it done: nothing logged twice
        assert sorted(s["logged"] for s in summaries) == [0, 0, 900]
        assert crm.state() == final


@pytest.mark.skipif(shutil.which("flock") is None, reason="needs flock(1) from util-linux")
def test_once_4_a_backup_under_flock_of_the_lock_file_keeps_runs_out(reference, tmp_path):
    """The README's backup recipe: `flock crm.json.lock cp -a ...` holds the same lock."""
    box, team, final = reference
    crm = Crm(tmp_path / "backup", team_from=team)
    lock = str(crm.db) + ".lock"
    inner = " ".join(crm.argv("ingest", str(box), "--lock-timeout", "0.2"))
    proc = subprocess.run(
        ["flock", lock, "sh", "-c", f"cp -a {crm.db.parent} {tmp_path / 'copy'} && {inner}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 75 and "another crmlog run holds the lock" in proc.stderr
    assert crm.run("ingest", str(box), "--quiet").returncode == 0
    assert crm.state() == final
