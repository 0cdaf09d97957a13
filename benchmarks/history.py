"""Years of history: what a cron run and the views cost as the CRM grows, on both engines.

    python benchmarks/history.py [--sizes 0,200000,1000000] [--engines json,postgresql]
                                 [--repeat 3] [--workdir DIR] [--keep]

For each engine, one CRM grows through `crmlog ingest` of generated mail (benchmarks/
corrections.py's generator: four users, 20,000 contacts, one e-mail in twenty with an
attachment, one every five minutes from 2024 on) to each size in turn. At each size, measured
`--repeat` times, each a new process with its peak memory:
- a cron-sized run: `crmlog ingest` of an mbox of 10 new messages (new ones each time);
- `contacts show` of a contact of an early e-mail (of the 20,000, about the average number
  of e-mails; the one contact with 1% of all e-mails is not it), `emails show` of
  one e-mail with its body, `emails list` (its first screen) and `attribution` of one month;
and each figure's range, and its ratio to the same on the empty CRM, are printed.

PostgreSQL runs in a private server started here (initdb and pg_ctl, a unix socket, fsync
on as a deployment has it; as root, as an unprivileged user). Its memory is the server's,
not counted in the client's peak.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from corrections import LAUNCHER, LOG, USERS, write_mbox

SAMPLE = "gen.8@ourco.example"  # an early e-mail; `contacts show` shows its first contact
CRON = 10


def run(env: list[str], *args: str, ok: tuple[int, ...] = (0,)) -> tuple[float, float, str]:
    start = time.perf_counter()
    cmd = [sys.executable, "-c", LAUNCHER, sys.executable, "-m", "crmlog", *env, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    err, _, peak = proc.stderr.rpartition("\npeak-kb ")
    if proc.returncode not in ok:
        raise SystemExit(f"crmlog {' '.join(args)} failed ({proc.returncode}): {err[-2000:]}")
    return seconds, int(peak) / 1024, proc.stdout


class Crm:
    """One CRM on one engine, grown in steps, with fresh cron-sized mail for each measurement."""

    def __init__(self, work: Path, engine: str, db: str):
        self.work, self.engine = work, engine
        self.env = ["--config", str(work / f"{engine}.toml"), "--db", db]
        self.size = 0
        self.next_cron = 10_000_000  # message numbers of cron-sized runs, far above the history
        run(self.env, "init", "--force", "--bcc", LOG)
        for u in USERS:
            run(self.env, "users", "add", u, "--inbox", u)

    def grow(self, to: int, chunk: int = 100_000) -> float:
        """Ingest generated mail until the CRM holds `to` e-mails (in mboxes of `chunk`)."""
        spent = 0.0
        while self.size < to:
            n = min(chunk, to - self.size)
            box = self.work / f"history-{self.size}-{n}.mbox"
            if not box.exists():
                write_mbox(box, self.size, n)
            spent += run(self.env, "ingest", "--quiet", "--batch-size", "5000", str(box))[0]
            self.size += n
        return spent

    def cron(self) -> tuple[float, float]:
        box = self.work / f"cron-{self.engine}-{self.next_cron}.mbox"
        write_mbox(box, self.next_cron, CRON)
        self.next_cron += CRON
        seconds, peak, _ = run(self.env, "ingest", "--quiet", str(box))
        box.unlink()
        return seconds, peak

    def views(self) -> dict[str, tuple[float, float]]:
        month = ("--since", "2024-06-01T00:00:00+00:00", "--until", "2024-07-01T00:00:00+00:00")
        contact = "nobody@nowhere.example"
        if self.size:
            contact = json.loads(run(self.env, "emails", "show", SAMPLE, "--json")[2])["contacts"][0]
        out = {}
        for label, args in (
            ("contacts show", ("contacts", "show", contact)),
            ("emails show", ("emails", "show", SAMPLE)),
            ("emails list", ("emails", "list")),
            ("attribution (a month)", ("attribution", *month)),
        ):
            # on the empty CRM there is no such contact or e-mail (exit 1): the cost of looking
            seconds, peak, _ = run(self.env, *args, ok=(0, 1) if self.size == 0 else (0,))
            out[label] = (seconds, peak)
        return out


def postgres(work: Path) -> tuple[object, str]:
    """A private server with fsync on, and a CRM database on it."""
    import pg  # the tests' own server (tests/pg.py)

    server = pg.start_server()
    with server.admin("postgres") as conn:  # the tests run it without fsync; a deployment does not
        conn.execute("ALTER SYSTEM SET fsync = on")
        conn.execute("ALTER SYSTEM SET full_page_writes = on")
        conn.execute("SELECT pg_reload_conf()")
    return server, server.url(server.database(schema=False))


def fmt(values: list[float], unit: str, digits: int) -> str:
    lo, hi = f"{min(values):.{digits}f}", f"{max(values):.{digits}f}"
    return f"{lo}-{hi} {unit}" if hi != lo else f"{lo} {unit}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="0,200000,1000000")
    ap.add_argument("--engines", default="json,postgresql")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = args.workdir or Path(tempfile.mkdtemp(prefix="crmlog-history-"))
    work.mkdir(parents=True, exist_ok=True)
    servers = []
    try:
        for engine in args.engines.split(","):
            if engine == "json":
                shutil.rmtree(work / "json", ignore_errors=True)
                db = str(work / "json" / "crm.json")
            else:
                server, db = postgres(work)
                servers.append(server)
            crm = Crm(work, engine, db)
            base: dict[str, tuple[float, float]] = {}
            for size in sizes:
                spent = crm.grow(size)
                if spent:
                    print(f"[{engine}] grew to {size:,} e-mails through ingest in {spent:.0f} s", flush=True)
                figures: dict[str, list[tuple[float, float]]] = {}
                for _ in range(args.repeat):
                    figures.setdefault("cron run (10 new)", []).append(crm.cron())
                    for label, value in crm.views().items():
                        figures.setdefault(label, []).append(value)
                for label, values in figures.items():
                    secs, peaks = [v[0] for v in values], [v[1] for v in values]
                    if size == sizes[0]:
                        base[label] = (min(secs), min(peaks))
                    ratio = min(secs) / base[label][0] if label in base else float("nan")
                    print(
                        f"[{engine}] {size:>9,} {label:<22} {fmt(secs, 's', 2):>14}  peak {fmt(peaks, 'MB', 0):>12}"
                        f"  x{ratio:.2f} of empty",
                        flush=True,
                    )
    finally:
        for server in servers:
            server.stop()  # type: ignore[attr-defined]
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
