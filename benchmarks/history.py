"""Years of history: what a cron run and the views cost as the CRM grows, on both engines.

    python benchmarks/history.py [--sizes 0,200000,1000000] [--engines json,postgresql]
                                 [--repeat 3] [--workdir DIR] [--keep]

For each engine, one CRM grows through `crmlog ingest` of generated mail (benchmarks/
corrections.py's generator: four users, 20,000 contacts, one e-mail in twenty with an
attachment, one every five minutes from 2024 on) to each size in turn. At each size, measured
`--repeat` times, each a new process with its peak memory, each paired with the same on an
empty CRM run right before it (so that the ratio holds under whatever else the machine does):
- a cron-sized run: `crmlog ingest` of an mbox of 10 new messages (new ones each time);
- `contacts show` of a contact of an early e-mail (of the 20,000, about the average number
  of e-mails; the one contact with 1% of all e-mails is not it), `emails show` of
  one e-mail with its body, `emails list` (its first screen) and `attribution` of one month;
and each figure's range, and the range of its ratios to the empty CRM's, are printed. With
--keep, a grown embedded CRM is kept (and its size) for the next run to grow on.

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
    """One CRM on one engine, grown in steps, with fresh cron-sized mail for each measurement.
    A CRM kept from an earlier run (--keep: its size in `<name>.size`) is grown on, not anew."""

    def __init__(self, work: Path, name: str, db: str):
        self.work, self.name = work, name
        self.env = ["--config", str(work / f"{name}.toml"), "--db", db]
        self.marker = work / f"{name}.size"
        self.size = int(self.marker.read_text()) if self.marker.exists() else 0
        self.next_cron = 10_000_000 + self.size * 10  # message numbers of cron-sized runs, unused so far
        if not self.marker.exists():
            run(self.env, "init", "--force", "--bcc", LOG)
            for u in USERS:
                run(self.env, "users", "add", u, "--inbox", u)
            self.marker.write_text("0")

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
            self.marker.write_text(str(self.size))
        return spent

    def cron(self) -> tuple[float, float]:
        box = self.work / f"cron-{self.name}-{self.next_cron}.mbox"
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
            seconds, peak, _ = run(self.env, *args, ok=(0, 1) if self.size < 10 else (0,))
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
                dbs = [str(work / name / "crm.json") for name in ("json", "json-empty")]
            else:  # a server per run: a PostgreSQL CRM is grown anew each time
                server, db = postgres(work)
                servers.append(server)
                dbs = [db, server.url(server.database(schema=False))]
                for name in ("postgresql", "postgresql-empty"):
                    (work / f"{name}.size").unlink(missing_ok=True)
            crm, empty = Crm(work, engine, dbs[0]), Crm(work, f"{engine}-empty", dbs[1])
            for size in sizes:
                spent = crm.grow(size)
                if spent:
                    print(f"[{engine}] grew to {size:,} e-mails through ingest in {spent:.0f} s", flush=True)
                measure(engine, crm, empty, args.repeat)
    finally:
        for server in servers:
            server.stop()  # type: ignore[attr-defined]
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def measure(engine: str, crm: Crm, empty: Crm, repeat: int) -> None:
    """Each figure on `crm` paired with the same on the empty CRM, one right after the other,
    so that the ratio compares them under the same load of the machine."""
    figures: dict[str, list[tuple[float, float]]] = {}
    base: dict[str, list[tuple[float, float]]] = {}
    for _ in range(repeat):
        for target, out in ((empty, base), (crm, figures)):
            out.setdefault("cron run (10 new)", []).append(target.cron())
        for target, out in ((empty, base), (crm, figures)):
            for label, value in target.views().items():
                out.setdefault(label, []).append(value)
    for label, values in figures.items():
        secs, peaks = [v[0] for v in values], [v[1] for v in values]
        ratios = [v[0] / b[0] for v, b in zip(values, base[label], strict=True)]
        print(
            f"[{engine}] {crm.size:>9,} {label:<22} {fmt(secs, 's', 2):>12}  peak {fmt(peaks, 'MB', 0):>10}"
            f"  x{fmt(ratios, '', 2).strip()} of the empty CRM's (paired)",
            flush=True,
        )


if __name__ == "__main__":
    main()
