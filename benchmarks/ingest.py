"""How fast `crmlog ingest` is, against what it must read, in one run on one generated corpus.

    python benchmarks/ingest.py [--messages 100000] [--addressed 0.03] [--mbox-gb 2] [--views 100000]
                                [--workdir DIR] [--keep]

Prints, as messages/s and as ratios:
- baselines measured here, in this process, on the same files (warm cache):
  listing and stat()ing every file; reading each file's header block and searching it for
  the logging addresses (bytes, no parsing); the same, then mail-parser on the hits only;
- `crmlog ingest` as a real command (a new process each, so start-up is included): cold,
  a rescan with nothing new, a rescan after 1% new messages were delivered; its peak memory;
- a 2 GB mbox, cold and rescanned, and one 60 MB message: time and peak memory;
- views (`contacts show`, `emails list`, `attribution`) on a database of --views logged
  e-mails, against the time to load that database's JSON;
- and whether each target of the performance issue holds.
The corpus generator is benchmarks/make_corpus.py (deterministic)."""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import make_corpus
from make_corpus import FWD, LOG, USERS

ADDRESSES = (LOG.encode(), FWD.encode())
TAGGED = re.compile(rb"(?:log|fwd)\+[^@\s<>]*@crm\.example\.com")


# ---------------------------------------------------------------- baselines (in this process)


def message_files(root: Path) -> list[str]:
    out = []
    for folder, dirs, files in os.walk(root):
        if os.path.basename(folder) in ("cur", "new"):
            out += [os.path.join(folder, f) for f in files]
        dirs[:] = [d for d in dirs if d != "tmp"]
    return out


def stat_walk(root: Path) -> int:
    n = 0
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != "tmp"]
        if os.path.basename(folder) in ("cur", "new"):
            for f in files:
                os.stat(os.path.join(folder, f))
                n += 1
    return n


def read_head(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        head = os.read(fd, 16384)
        while b"\n\n" not in head and b"\r\n\r\n" not in head:
            more = os.read(fd, 16384)
            if not more:
                break
            head += more
    finally:
        os.close(fd)
    end = min(i for i in (head.find(b"\n\n"), head.find(b"\r\n\r\n"), len(head)) if i >= 0)
    return head[:end]


def header_hit(head: bytes) -> bool:
    h = head.lower()
    return any(a in h for a in ADDRESSES) or (b"@crm.example.com" in h and TAGGED.search(h) is not None)


def header_scan(files: list[str]) -> list[str]:
    return [p for p in files if header_hit(read_head(p))]


def scan_and_parse(files: list[str]) -> int:
    import mailparser

    hits = header_scan(files)
    for p in hits:
        with open(p, "rb") as fh:
            mailparser.parse_from_bytes(fh.read())
    return len(hits)


def best_of(n: int, fn, *args) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(n):
        start = time.perf_counter()
        result = fn(*args)
        best = min(best, time.perf_counter() - start)
    return best, result


# ---------------------------------------------------------------- crmlog as a command


class Crmlog:
    def __init__(self, work: Path, name: str):
        self.env = ["--config", str(work / f"{name}.toml"), "--db", str(work / name / "crm.json")]
        self.db = work / name / "crm.json"

    def fresh(self) -> None:
        """A new, empty database and configuration with the sales team."""
        shutil.rmtree(self.db.parent, ignore_errors=True)
        Path(self.env[1]).unlink(missing_ok=True)
        self.setup()

    def setup(self) -> None:
        crmlog_run(self, "init", "--bcc", LOG, "--forward", FWD)
        for u in USERS:
            crmlog_run(self, "users", "add", u, "--inbox", u)


# Children are started through this small launcher: a process forked from the benchmark (which
# grows to hundreds of MB) would report the benchmark's memory as its own peak.
LAUNCHER = """
import os, resource, subprocess, sys
code = subprocess.call(sys.argv[1:])
sys.stderr.write(f"\\npeak-kb {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\\n")
sys.exit(code)
"""


def run_measured(cmd: list[str]) -> tuple[float, float, bytes]:
    """Like subprocess.run, with the wall time and the peak RSS of the command alone."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", LAUNCHER, *cmd], capture_output=True)
    seconds = time.perf_counter() - start
    err, _, peak = proc.stderr.rpartition(b"\npeak-kb ")
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd[2:])} failed ({proc.returncode}): {err.decode()[-2000:]}")
    return seconds, int(peak) / 1024, proc.stdout


def crmlog_run(c: Crmlog, *args: str) -> tuple[float, float, object]:
    seconds, peak, out = run_measured([sys.executable, "-m", "crmlog", *c.env, *args])
    return seconds, peak, (json.loads(out) if "--json" in args else out)


# ---------------------------------------------------------------- a big database for the views


def build_views_db(c: Crmlog, n: int) -> None:
    """n logged e-mails written through the store as ingest writes them (rules included),
    without mail-parser: messages are built as values."""
    from crmlog import rules
    from crmlog.config import load
    from crmlog.model import Address, Message, RawMessage
    from crmlog.store import Store, edits

    settings = load(Path(c.env[1]))
    rng = random.Random(7)
    contacts = [
        f"{make_corpus.FIRST[i % 12]}.{i}@{make_corpus.DOMAINS[i % len(make_corpus.DOMAINS)]}" for i in range(n // 5)
    ]
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with Store.writer(c.db) as store:
        for k in range(n // 50):  # a deal for one contact in ten
            edits.add_deal(
                store,
                name=f"Deal {k}",
                contacts=[contacts[k * 10]],
                stage=rng.choice(["open", "open", "won", "lost"]),
                created=start + timedelta(hours=k),
            )
        store.commit()
        for i in range(n):
            to = tuple(Address(email=e, name="") for e in rng.sample(contacts, rng.choice([1, 1, 2, 3])))
            text = "\n".join(rng.choice(make_corpus.TEXT["en"][2]) for _ in range(rng.randint(5, 60)))
            message = Message(
                identity=f"view.{i}@ourco.example",
                message_id=f"view.{i}@ourco.example",
                date=start + timedelta(minutes=5 * i),
                subject=rng.choice(make_corpus.SUBJECTS),
                sender=Address(email=rng.choice(USERS)),
                to=to,
                bcc=(Address(email=LOG),),
                text=text,
                body_bytes=len(text),
            )
            decision = rules.decide(message, store.view(), settings)
            store.apply(RawMessage(source="/views", key=str(i), data=b""), message, decision, now=start)
            if i % 2000 == 1999:
                store.commit()
        store.commit()


def json_load_times(db: Path) -> dict[str, float]:
    import orjson

    raw = db.read_bytes()
    out = {}
    out["json.loads"], data = best_of(3, json.loads, raw)
    out["orjson.loads"], _ = best_of(3, orjson.loads, raw)
    out["json.dumps"], _ = best_of(2, lambda: json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())
    out["orjson.dumps"], _ = best_of(3, orjson.dumps, data)
    return out


# ---------------------------------------------------------------- the run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--addressed", type=float, default=0.03)
    ap.add_argument("--mbox-gb", type=float, default=2.0, help="size of the big mbox (0: skip)")
    ap.add_argument("--views", type=int, default=100_000, help="logged e-mails in the views database (0: skip)")
    ap.add_argument("--workdir", type=Path, help="where the corpus goes (default: a temporary directory)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (and reuse its corpus next time)")
    a = ap.parse_args()
    work = a.workdir or Path(tempfile.mkdtemp(prefix="crmlog-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    rows: list[tuple[str, str]] = []
    checks: list[tuple[str, bool, str]] = []

    def say(label: str, value: str) -> None:
        rows.append((label, value))
        print(f"{label:<48} {value}", flush=True)

    try:
        n = a.messages
        maildir = work / f"Maildir-{n}-{a.addressed}"
        stamp = maildir / ".complete"
        if not stamp.exists():
            shutil.rmtree(maildir, ignore_errors=True)
            start = time.perf_counter()
            size = sum(p.stat().st_size for p in make_corpus.write_maildir(maildir, n, a.addressed))
            stamp.write_text(str(size))
            say("corpus generated", f"{n:,} messages, {size / 1e9:.2f} GB, in {time.perf_counter() - start:.0f} s")
        else:
            say("corpus reused", f"{n:,} messages, {int(stamp.read_text()) / 1e9:.2f} GB")
        files = message_files(maildir)

        # baselines
        t_stat, _ = best_of(3, stat_walk, maildir)
        say("baseline: list + stat every file", f"{n / t_stat:10,.0f} msg/s  ({t_stat:.2f} s)")
        t_scan, hits = best_of(3, header_scan, files)
        say(
            "baseline: header scan (bytes, no parse)",
            f"{n / t_scan:10,.0f} msg/s  ({t_scan:.2f} s, {len(hits):,} hits)",
        )
        t_both, _ = best_of(2, scan_and_parse, files)
        say("baseline: header scan + mail-parser on hits", f"{n / t_both:10,.0f} msg/s  ({t_both:.2f} s)")

        # crmlog on the Maildir
        c = Crmlog(work, f"db-{n}")
        c.fresh()
        t_cold, m_cold, s = crmlog_run(c, "ingest", str(maildir), "--json", "--quiet")
        say(
            "crmlog ingest, cold",
            f"{n / t_cold:10,.0f} msg/s  ({t_cold:.2f} s, peak {m_cold:.0f} MB; "
            f"logged {s['logged']:,}, rejected {s['rejected']:,}, skipped {s['skipped']:,})",
        )
        say("  ratio to header scan + mail-parser on hits", f"{t_cold / t_both:10.2f} x")
        checks.append(
            (
                "cold ingest within 1.5x of header scan + mail-parser on hits",
                t_cold <= 1.5 * t_both,
                f"{t_cold / t_both:.2f}x",
            )
        )
        checks.append(("peak memory of the cold ingest under 200 MB", m_cold < 200, f"{m_cold:.0f} MB"))
        t_re, m_re, s = crmlog_run(c, "ingest", str(maildir), "--json", "--quiet")
        assert s["scanned"] == 0, s
        say("crmlog ingest, rescan with nothing new", f"{n / t_re:10,.0f} msg/s  ({t_re:.2f} s, peak {m_re:.0f} MB)")
        say("  ratio to list + stat", f"{t_re / t_stat:10.2f} x")
        checks.append(
            ("rescan with nothing new within 1.5x the stat walk", t_re <= 1.5 * t_stat, f"{t_re / t_stat:.2f}x")
        )
        new = max(1, n // 100)
        added = make_corpus.write_maildir(maildir, new, a.addressed, start=n)
        t_new, _m_new, s = crmlog_run(c, "ingest", str(maildir), "--json", "--quiet")
        for p in added:  # the corpus as it was, for the next run of this script
            p.unlink()
        say(
            f"crmlog ingest, +1% new ({new:,} messages)",
            f"{t_new:10.2f} s   ({t_new / t_cold * 100:.1f}% of cold; logged {s['logged']}, scanned {s['scanned']:,})",
        )
        checks.append(
            ("+1% new messages under 5% of the cold ingest", t_new < 0.05 * t_cold, f"{t_new / t_cold * 100:.1f}%")
        )
        db_size = c.db.stat().st_size
        packs = sum(p.stat().st_size for p in (c.db.parent / "crm.bodies").glob("*"))
        say("  database / body packs", f"{db_size / 1e6:.1f} MB / {packs / 1e6:.1f} MB")

        # a big mbox and a big message
        if a.mbox_gb:
            mbox = work / "big.mbox"
            start = time.perf_counter()
            count, size = make_corpus.write_mbox(mbox, 10**9, a.addressed, start=10**6, max_bytes=int(a.mbox_gb * 1e9))
            say("mbox generated", f"{count:,} messages, {size / 1e9:.2f} GB, in {time.perf_counter() - start:.0f} s")
            m = Crmlog(work, "db-mbox")
            m.fresh()
            t, peak, s = crmlog_run(m, "ingest", str(mbox), "--json", "--quiet")
            say(
                f"crmlog ingest, {size / 1e9:.1f} GB mbox, cold",
                f"{count / t:10,.0f} msg/s  ({t:.1f} s, {size / t / 1e6:.0f} MB/s, peak {peak:.0f} MB; logged {s['logged']:,})",
            )
            checks.append(
                (f"peak memory of the {size / 1e9:.1f} GB mbox ingest under 200 MB", peak < 200, f"{peak:.0f} MB")
            )
            t, peak, s = crmlog_run(m, "ingest", str(mbox), "--json", "--quiet")
            say("crmlog ingest, the mbox rescanned", f"{t:10.2f} s   (scanned {s['scanned']}, peak {peak:.0f} MB)")
            mbox.unlink()
        big = work / "Big"
        shutil.rmtree(big, ignore_errors=True)
        for sub in ("cur", "new", "tmp"):
            (big / sub).mkdir(parents=True)
        import base64

        rng = random.Random(3)
        with open(big / "new" / "big.eml", "wb") as fh:  # 45 MB of attachment, base64: 61 MB
            fh.write(
                f"From: {USERS[0]}\nTo: li@acme.example\nBcc: {LOG}\nSubject: big\nMessage-ID: <big@x>\nMIME-Version: 1.0\n"
                'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\n\nsee attached\n--b\n'
                'Content-Type: application/octet-stream; name="big.bin"\nContent-Transfer-Encoding: base64\n\n'.encode()
            )
            for _ in range(45):
                fh.write(base64.encodebytes(rng.randbytes(1_000_000 - 1_000_000 % 57)))
            fh.write(b"--b--\n")
        g = Crmlog(work, "db-big")
        g.fresh()
        t, peak, s = crmlog_run(g, "ingest", str(big), "--json", "--quiet")
        say(
            f"crmlog ingest, one {(big / 'new' / 'big.eml').stat().st_size / 1e6:.0f} MB message",
            f"{t:10.2f} s   (peak {peak:.0f} MB; logged {s['logged']})",
        )
        shutil.rmtree(big)

        # views on a big database
        if a.views:
            v = Crmlog(work, f"db-views-{a.views}")
            if not v.db.exists():
                v.fresh()
                start = time.perf_counter()
                build_views_db(v, a.views)
                say("views database built", f"{a.views:,} logged e-mails in {time.perf_counter() - start:.0f} s")
            say("  database size", f"{v.db.stat().st_size / 1e6:.1f} MB")
            loads = json_load_times(v.db)
            for k, secs in loads.items():
                say(f"  {k} of the database", f"{secs:10.2f} s")
            t_load, _, _ = run_measured(
                [sys.executable, "-c", "import orjson,sys; orjson.loads(open(sys.argv[1],'rb').read())", str(v.db)]
            )
            say("  a new process that loads it (orjson)", f"{t_load:10.2f} s")
            busiest = "li.0@acme.example"
            for args in (
                ("contacts", "show", busiest, "--json"),
                ("contacts", "show", busiest),
                ("emails", "list", "--json"),
                ("emails", "list"),
                ("attribution", "--json"),
                ("attribution",),
                ("contacts", "list", "--json"),
            ):
                t, peak, _ = crmlog_run(v, *args)
                say(f"  crmlog {' '.join(args)}", f"{t:10.2f} s   ({t / t_load:.1f}x the load, peak {peak:.0f} MB)")
                if (args[0] in ("contacts", "emails", "attribution") and "list" not in args[:2]) or args[:2] == (
                    "emails",
                    "list",
                ):
                    checks.append(
                        (f"crmlog {' '.join(args)} on {a.views:,} e-mails under 1.5 s", t < 1.5, f"{t:.2f} s")
                    )
    finally:
        if not a.keep and not a.workdir:
            shutil.rmtree(work, ignore_errors=True)

    print()
    print("targets")
    for label, ok, figure in checks:
        print(f"  {'holds' if ok else 'MISSES'}  {label}: {figure}")
    print(f"\nthe whole benchmark took {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
