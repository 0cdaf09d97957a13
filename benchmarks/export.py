"""How fast `crmlog export` is on a CRM of 100,000 logged e-mails, and how much memory it
takes beyond loading the database.

    python benchmarks/export.py [--emails 100000] [--workdir DIR] [--keep] [--repeat 3]
    python benchmarks/export.py --db CRM.json [--config crmlog.toml]   # an existing CRM

The CRM is built through the command line, as a mail host fills one: make_corpus.py delivers
a Maildir whose every message is addressed to the logging address, `crmlog ingest` logs it,
and more messages are delivered until --emails are logged. Then each command runs as a new
process (start-up included), its stdout to a file, through a launcher that reads the peak
RSS of the command alone (RUSAGE_CHILDREN):

- the database loaded and nothing else (orjson in a bare process), and `crmlog export deals`
  (the CLI opening the database, a handful of rows): what any view costs before its rows;
- `crmlog emails list --json`, which builds every row before it prints them;
- `crmlog export emails` as CSV and as JSON lines (to stdout, and with --output), `export
  contacts` as CSV and as vCard.

Prints wall time (best of --repeat), peak RSS, output size, the line each export printed on
stderr, and the peaks against the database's load. Figures only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_corpus
from make_corpus import FWD, LOG, USERS

# The launcher runs the command with its stdout to a file and reports the command's own peak
# RSS (a process forked from this benchmark would report the benchmark's memory as its own),
# and its RSS every 10 ms (Linux: /proc/PID/status), to tell loading from writing.
LAUNCHER = """
import json, resource, subprocess, sys, time
with open(sys.argv[1], "wb") as out:
    proc = subprocess.Popen(sys.argv[2:], stdout=out)
    start, rss = time.perf_counter(), []
    while proc.poll() is None:
        try:
            with open(f"/proc/{proc.pid}/status") as status:
                kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
            rss.append((time.perf_counter() - start, kb / 1024))
        except (OSError, StopIteration):
            pass
        time.sleep(0.01)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
sys.stderr.write("\\n" + json.dumps({"peak": peak, "rss": rss}) + "\\n")
sys.exit(proc.returncode)
"""


class Measured:
    def __init__(self, seconds: float, peak_mb: float, rss: list[tuple[float, float]], stderr: str):
        self.seconds, self.peak_mb, self.rss, self.stderr = seconds, peak_mb, rss, stderr

    def after_load(self) -> tuple[float, float] | None:
        """(RSS with the database loaded, the highest RSS after that), or None if the run is
        too short to tell. Loading peaks while the file's bytes and the parsed documents are
        both held, then falls when the bytes are freed: the lowest RSS in the 0.15 s after
        the fall starts is the loaded database; whatever a command holds beyond it shows
        after."""
        top = 0.0
        for i, (t, mb) in enumerate(self.rss):
            if top > 50 and mb < 0.9 * top:
                after = [(u, m) for u, m in self.rss[i:] if u <= t + 0.15]
                j = i + min(range(len(after)), key=lambda k: after[k][1])
                if j + 1 >= len(self.rss):
                    return None
                return self.rss[j][1], max(m for _, m in self.rss[j:])
            top = max(top, mb)
        return None


def run_measured(cmd: list[str], out: Path) -> Measured:
    """Run `cmd` with its stdout into `out`: its wall time, peak RSS, RSS over time, stderr."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", LAUNCHER, str(out), *cmd], capture_output=True)
    seconds = time.perf_counter() - start
    err, _, report = proc.stderr.decode("utf-8", "replace").rstrip("\n").rpartition("\n")
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {err[-2000:]}")
    figures = json.loads(report)
    return Measured(seconds, figures["peak"], figures["rss"], err.strip())


class Crm:
    def __init__(self, config: Path, db: Path):
        self.config, self.db = config, db

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "crmlog", "--config", str(self.config), "--db", str(self.db), *args]

    def run(self, *args: str) -> str:
        proc = subprocess.run(self.argv(*args), capture_output=True, text=True)
        if proc.returncode:
            raise SystemExit(f"crmlog {' '.join(args)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
        return proc.stdout


def build(crm: Crm, maildir: Path, emails: int, say) -> None:
    """A new CRM with the sales team, and `emails` logged e-mails (or a few more: a delivery
    is sized by how many of the last were logged), through make_corpus and `crmlog ingest`."""
    shutil.rmtree(crm.db.parent, ignore_errors=True)
    shutil.rmtree(maildir, ignore_errors=True)
    crm.config.unlink(missing_ok=True)
    crm.run("init", "--bcc", LOG, "--forward", FWD)
    for user in USERS:
        crm.run("users", "add", user, "--inbox", user)
    logged = delivered = 0
    generating = ingesting = 0.0
    while logged < emails:
        rate = logged / delivered if delivered else 1.0
        batch = max(100, round((emails - logged) / max(rate, 0.5)))
        start = time.perf_counter()
        paths = make_corpus.write_maildir(maildir, batch, 1.0, start=delivered)
        generating += time.perf_counter() - start
        size = sum(p.stat().st_size for p in paths)
        start = time.perf_counter()
        summary = json.loads(crm.run("ingest", str(maildir), "--json", "--quiet"))
        ingesting += time.perf_counter() - start
        delivered += batch
        logged += summary["logged"]
        say(
            f"  delivered {batch:,} ({size / 1e9:.2f} GB), ingested",
            f"logged {summary['logged']:,}, rejected {summary['rejected']:,}: {logged:,} logged in all",
        )
    say("CRM built", f"{logged:,} logged e-mails: corpus {generating:.0f} s, crmlog ingest {ingesting:.0f} s")


def count_rows(out: Path, fmt: str) -> int:
    """Rows in an export, read back as a stream (CSV without its header row)."""
    with open(out, encoding="utf-8", newline="") as fh:
        if fmt == "csv":
            return sum(1 for _ in csv.reader(fh)) - 1
        if fmt == "vcard":
            return sum(1 for line in fh if line == "BEGIN:VCARD\r\n")
        return sum(1 for _ in fh)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--emails", type=int, default=100_000, help="logged e-mails in the CRM built")
    ap.add_argument("--db", type=Path, help="an existing CRM's database, instead of building one")
    ap.add_argument("--config", type=Path, help="its configuration (default: beside the database)")
    ap.add_argument("--workdir", type=Path, help="where the CRM and the exports go (default: a temporary directory)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (and reuse its CRM next time)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each command; the fastest is shown")
    a = ap.parse_args()
    work = a.workdir or Path(tempfile.mkdtemp(prefix="crmlog-export-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    def say(label: str, value: str) -> None:
        print(f"{label:<52} {value}", flush=True)

    say("python, cpus", f"{platform.python_version()}, {os.cpu_count()}")
    try:
        if a.db:
            crm = Crm(a.config or a.db.with_name("crmlog.toml"), a.db)
        else:
            crm = Crm(work / f"crm-{a.emails}.toml", work / f"crm-{a.emails}" / "crm.json")
            stamp = crm.db.parent / ".complete"
            if not stamp.exists():
                build(crm, work / f"Maildir-{a.emails}", a.emails, say)
                stamp.write_text("")
                shutil.rmtree(work / f"Maildir-{a.emails}", ignore_errors=True)  # the CRM holds what is needed
            else:
                say("CRM reused", str(crm.db.parent))
        say("database", f"{crm.db.stat().st_size / 1e6:.1f} MB")
        outs = work / "exports"
        outs.mkdir(exist_ok=True)

        def measure(label: str, cmd: list[str], out: Path, written: Path | None = None, after: bool = True) -> Measured:
            """The fastest of --repeat runs; the peak and RSS figures are the highest of them
            (`after`: RSS after the load, for a command that goes on once it is loaded)."""
            runs = [run_measured(cmd, out) for _ in range(a.repeat)]
            best = min(runs, key=lambda m: m.seconds)
            best.peak_mb = max(m.peak_mb for m in runs)
            size = (written or out).stat().st_size
            say(label, f"{best.seconds:6.2f} s   peak {best.peak_mb:5.0f} MB   output {size / 1e6:6.1f} MB")
            figures = [f for f in (m.after_load() for m in runs) if f] if after else []
            if figures:
                held, highest = max(f[0] for f in figures), max(f[1] for f in figures)
                say("  RSS: the database loaded, the most after it", f"{held:5.0f} MB, {highest:5.0f} MB")
                best.rss = [(0.0, held), (0.0, highest)]
            return best

        loaded = "import orjson, sys; orjson.loads(open(sys.argv[1], 'rb').read())"
        bare = [sys.executable, "-c", loaded, str(crm.db)]
        load = measure("the database loaded (orjson, a bare process)", bare, outs / "x", after=False)
        opened = crm.argv("export", "deals")
        measure("crmlog export deals (the CLI opens the database)", opened, outs / "x", after=False)
        results = [
            (
                "emails list --json",
                measure("crmlog emails list --json", crm.argv("emails", "list", "--json"), outs / "list.json"),
            )
        ]
        for kind, fmt, to_file in [
            ("emails", "csv", False),
            ("emails", "jsonl", False),
            ("emails", "csv", True),
            ("contacts", "csv", False),
            ("contacts", "vcard", False),
        ]:
            out = outs / f"{kind}.{fmt}"
            extra = ["--output", str(out)] if to_file else []
            label = f"export {kind} --format {fmt}{' --output FILE' if to_file else ''}"
            stdout = outs / "x" if to_file else out
            m = measure(f"crmlog {label}", crm.argv("export", kind, "--format", fmt, *extra), stdout, out)
            say("  it printed", m.stderr)
            say("  rows read back", f"{count_rows(out, fmt):,}")
            results.append((label, m))
        print("\nmemory: the peak is loading's (file bytes and parsed documents at once); what a command adds")
        print("once the database is loaded shows after it")
        for label, m in results:
            added = f"{m.rss[1][1] - m.rss[0][1]:+5.0f} MB after the load" if len(m.rss) == 2 else "(too short to tell)"
            say(f"  {label}", f"peak {m.peak_mb:5.0f} MB ({m.peak_mb - load.peak_mb:+4.0f} on the bare load), {added}")
    finally:
        if not a.keep and not a.workdir:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nthe whole benchmark took {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
