"""Correcting a big CRM (LIFE-3..6): forget, merge, delete, undo and export on a CRM of
100,000 logged e-mails built through `crmlog ingest` of generated mail, printing each
command's own last line (what it removed, and its time) with its peak memory.

    python benchmarks/corrections.py [--emails 100000] [--workdir DIR] [--keep]

The CRM: four users, 20,000 contacts, one contact (`big.customer@bigco.example`) with 1,000
e-mails of its own, one e-mail in twenty with a small attachment. Then a cron-sized second
run of 100 messages. Measured, in this order: export of each kind (CSV, JSON lines, vCard),
`contacts merge`, `emails delete`, `contacts forget` of the contact with 1,000 e-mails (with
the store's size before and after), `runs undo` of the cron-sized run, then of the big one.
"""

from __future__ import annotations

import argparse
import email.message
import email.utils
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

LOG = "log@crm.example.com"
USERS = ["anna@ourco.example", "ben@ourco.example", "carla@ourco.example", "dev@ourco.example"]
BIG = "big.customer@bigco.example"
DOMAINS = ["acme.example", "globex.example", "initech.example", "gmail.com", "umbrella.example", "web.de"]
WORDS = "quote pilot renewal pricing meeting follow-up contract drawings delivery invoice".split()

LAUNCHER = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[1:])
sys.stderr.write(f"\\npeak-kb {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\\n")
sys.exit(code)
"""


def message(i: int, rng: random.Random, contacts: list[str], start: datetime) -> bytes:
    m = email.message.EmailMessage()
    m["From"] = rng.choice(USERS)
    to = [BIG] if i % 100 == 7 else rng.sample(contacts, rng.choice([1, 1, 1, 2]))
    m["To"] = ", ".join(to)
    m["Bcc"] = LOG
    m["Subject"] = f"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS)} #{i}"
    m["Date"] = email.utils.format_datetime(start + timedelta(minutes=5 * i))
    m["Message-ID"] = f"<gen.{i}@ourco.example>"
    m.set_content("\n".join(" ".join(rng.choices(WORDS, k=12)) for _ in range(rng.randint(3, 30))))
    if i % 20 == 0:
        m.add_attachment(rng.randbytes(2000 + i % 5000), maintype="application", subtype="pdf", filename=f"q{i}.pdf")
    return bytes(m)


def write_mbox(path: Path, first: int, count: int) -> None:
    rng = random.Random(first)
    contacts = [f"c{k}@{DOMAINS[k % len(DOMAINS)]}" for k in range(20_000)]
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with open(path, "wb") as fh:
        for i in range(first, first + count):
            data = message(i, rng, contacts, start).replace(b"\nFrom ", b"\n>From ")
            fh.write(b"From gen@ourco.example Mon Jan  1 00:00:00 2024\n" + data.rstrip(b"\n") + b"\n\n")


def run(env: list[str], *args: str) -> tuple[float, float, str, str]:
    start = time.perf_counter()
    cmd = [sys.executable, "-c", LAUNCHER, sys.executable, "-m", "crmlog", *env, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    err, _, peak = proc.stderr.rpartition("\npeak-kb ")
    if proc.returncode:
        raise SystemExit(f"crmlog {' '.join(args)} failed ({proc.returncode}): {err[-2000:]}")
    return seconds, int(peak) / 1024, proc.stdout, err


def store_size(db: Path) -> int:
    return sum(p.stat().st_size for p in db.parent.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--emails", type=int, default=100_000)
    ap.add_argument("--workdir", type=Path, help="where the CRM goes (default: a temporary directory)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="crmlog-corrections-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "crm" / "crm.json"
    shutil.rmtree(db.parent, ignore_errors=True)
    env = ["--config", str(work / "config.toml"), "--db", str(db)]
    try:
        (work / "config.toml").unlink(missing_ok=True)
        run(env, "init", "--bcc", LOG)
        for u in USERS:
            run(env, "users", "add", u, "--inbox", u)
        big, cron = work / "big.mbox", work / "cron.mbox"
        marker = work / f"generated-{args.emails}"
        if not marker.exists():  # the mail is a pure function of its number: kept, it is reused
            t = time.perf_counter()
            write_mbox(big, 0, args.emails)
            write_mbox(cron, args.emails, 100)
            marker.touch()
            print(f"generated {args.emails:,} + 100 messages in {time.perf_counter() - t:.1f} s")

        def show(label: str, result: tuple[float, float, str, str]) -> None:
            seconds, peak, out, err = result
            said = (out.strip().splitlines() or [""])[-1] if not label.startswith("export") else err.strip()
            print(f"{label:<34} {seconds:7.2f} s  peak {peak:7.0f} MB  | {said}")

        show("ingest (run 1)", run(env, "ingest", "--quiet", "--batch-size", "5000", str(big)))
        show("ingest, cron-sized (run 2)", run(env, "ingest", "--quiet", str(cron)))
        for kind, fmt in [
            ("emails", "csv"),
            ("emails", "jsonl"),
            ("contacts", "csv"),
            ("contacts", "vcard"),
            ("companies", "csv"),
            ("deals", "jsonl"),
        ]:
            out = work / f"export.{kind}.{fmt}"
            show(f"export {kind} --format {fmt}", run(env, "export", kind, "--format", fmt, "--output", str(out)))
        show("emails list --json (for comparison)", run(env, "emails", "list", "--json"))
        show("contacts merge", run(env, "contacts", "merge", "c1@globex.example", "c2@initech.example", "--yes"))
        show("emails delete", run(env, "emails", "delete", "gen.40@ourco.example", "--yes"))
        before = store_size(db)
        show("contacts forget (1,000 e-mails)", run(env, "contacts", "forget", BIG, "--yes"))
        after = store_size(db)
        print(f"store size before forget {before:,} bytes, after {after:,} bytes")
        show("runs undo (cron-sized run 2)", run(env, "runs", "undo", "2", "--yes"))
        show("runs undo (run 1, every e-mail)", run(env, "runs", "undo", "1", "--yes"))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
