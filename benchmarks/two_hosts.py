"""Two hosts ingesting into one PostgreSQL CRM at once, against one after the other.

    python benchmarks/two_hosts.py [--messages 10000] [--repeat 3] [--workdir DIR] [--keep]

Two Maildirs of --messages messages each, half of them in both (the same Message-IDs in files
of different names, as two hosts' delivery agents store them), every one BCC'd to the logging
address. Each setup starts from an empty CRM in a private PostgreSQL server (fsync on): both
`crmlog ingest` runs one after the other, then both started at once. Printed: the wall time of
each, their ratio, and whether every message was logged exactly once.
"""

from __future__ import annotations

import argparse
import email.message
import email.utils
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corrections import LOG, USERS
from history import postgres


def message(i: int) -> bytes:
    m = email.message.EmailMessage()
    m["From"] = USERS[i % len(USERS)]
    m["To"] = f"c{i % 3000}@acme.example"
    m["Bcc"] = LOG
    m["Subject"] = f"Quote #{i}"
    m["Date"] = email.utils.format_datetime(datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=7 * i))
    m["Message-ID"] = f"<shared.{i}@ourco.example>"
    m.set_content(f"Hello,\n\nthe quote number {i} as discussed.\n" * 5)
    return bytes(m)


def maildir(root: Path, host: str, numbers: range) -> Path:
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i in numbers:
        (root / "new" / f"{1700000000 + i}.M{i}P1.{host}").write_bytes(message(i))
    return root


def crmlog(env: list[str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "crmlog", *env, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(proc: subprocess.Popen[str]) -> dict:
    out, err = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"crmlog failed ({proc.returncode}): {err[-2000:]}")
    return json.loads(out) if out.strip().startswith("{") else {}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="crmlog-concurrent-"))
    work.mkdir(parents=True, exist_ok=True)
    n, half = args.messages, args.messages // 2
    boxes = [work / "mx1" / "Maildir", work / "mx2" / "Maildir"]
    if not (work / f"generated-{n}").exists():
        for box in boxes:
            shutil.rmtree(box.parent, ignore_errors=True)
        maildir(boxes[0], "mx1", range(0, n))
        maildir(boxes[1], "mx2", range(half, half + n))
        (work / f"generated-{n}").touch()
    server, _ = postgres(work)
    figures: dict[str, list[float]] = {"one after the other": [], "at once": []}
    try:
        for _ in range(args.repeat):
            for setup in figures:
                env = ["--config", str(work / "crmlog.toml"), "--db", server.url(server.database(schema=False))]
                for cmd in (("init", "--force", "--bcc", LOG), *(("users", "add", u, "--inbox", u) for u in USERS)):
                    finish(crmlog(env, *cmd))
                start = time.perf_counter()
                if setup == "at once":
                    runs = [crmlog(env, "ingest", "--json", str(box)) for box in boxes]
                    summaries = [finish(p) for p in runs]
                else:
                    summaries = [finish(crmlog(env, "ingest", "--json", str(box))) for box in boxes]
                figures[setup].append(time.perf_counter() - start)
                listed = json.loads(finish_text(crmlog(env, "emails", "list", "--json")))
                ids = [e["message_id"] for e in listed]
                once = len(ids) == len(set(ids)) == n + half
                logged = sum(s["logged"] for s in summaries)
                print(
                    f"{setup:<20} {figures[setup][-1]:6.2f} s  logged {logged:,} + duplicates "
                    f"{sum(s['duplicates'] for s in summaries):,}; stored {len(ids):,} e-mails, "
                    f"each once: {'yes' if once else 'NO'}",
                    flush=True,
                )
        seq, par = figures["one after the other"], figures["at once"]
        print(
            f"one after the other {min(seq):.2f}-{max(seq):.2f} s; at once {min(par):.2f}-{max(par):.2f} s; "
            f"at once / one after the other {min(par) / min(seq):.2f}x (best of each)"
        )
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        os.sync()


def finish_text(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"crmlog failed ({proc.returncode}): {err[-2000:]}")
    return out


if __name__ == "__main__":
    main()
