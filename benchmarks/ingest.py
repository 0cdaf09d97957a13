"""Times `crmlog ingest` on a generated Maildir: cold, then a rescan with nothing new.

    python benchmarks/ingest.py [--messages 10000] [--addressed 0.03]

Prints messages per second; runs the real command line in a subprocess, so the figures
include interpreter start-up and the final database write."""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from make_corpus import LOG, USERS, write_maildir  # noqa: E402


def crmlog(env_args: list[str], *args: str) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "crmlog", *env_args, *args], check=True, capture_output=True, text=True)
    return time.perf_counter() - start, out.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--addressed", type=float, default=0.03)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        write_maildir(tmp / "Maildir", a.messages, a.addressed)
        print(f"generated {a.messages} messages in {time.perf_counter() - start:.1f}s")
        env = ["--config", str(tmp / "c.toml"), "--db", str(tmp / "crm.json")]
        crmlog(env, "init", "--bcc", LOG)
        for u in USERS:
            crmlog(env, "users", "add", u, "--inbox", u)
        for label in ("cold ingest", "rescan, nothing new"):
            seconds, out = crmlog(env, "ingest", str(tmp / "Maildir"), "--json")
            s = json.loads(out)
            print(
                f"{label:22s} {seconds:7.2f}s  {a.messages / seconds:8.0f} messages/s  "
                f"scanned={s['scanned']} logged={s['logged']} rejected={s['rejected']} skipped={s['skipped']}"
            )
        size = (tmp / "crm.json").stat().st_size
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"database: {size / 1e6:.1f} MB; peak memory of a crmlog run: {peak:.0f} MB")


if __name__ == "__main__":
    main()
