"""How long `crmlog db migrate` takes, and how much memory, JSON to PostgreSQL and back.

    python benchmarks/migrate.py [--emails 20000] [--workdir DIR] [--keep]

The CRM is built as export.py builds it (make_corpus.py and `crmlog ingest`, or reused from
--workdir with --keep); the PostgreSQL server is the tests' private one (tests/pg.py). Each
copy runs as a new process: `--to` a new database on the server, then `--from` it into a new
JSON file. Prints wall time, peak RSS and the command's own summary line; then checks that
`export emails --format jsonl` is the same on all three. Figures only: nothing is timed
against a threshold.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

from export import Crm, build, run_measured  # noqa: E402
from pg import start_server  # noqa: E402


def export_digest(crm: Crm) -> str:
    out = subprocess.run(crm.argv("export", "emails", "--format", "jsonl"), capture_output=True, check=True).stdout
    return hashlib.sha256(out).hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--emails", type=int, default=20_000)
    ap.add_argument("--workdir", type=Path, help="where the CRM goes (default: a temporary directory)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (and reuse its CRM next time)")
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="crmlog-migrate-"))
    work.mkdir(parents=True, exist_ok=True)
    crm = Crm(work / "crmlog.toml", work / "data" / "crm.json")
    if not (args.keep and crm.db.exists()):
        build(crm, work / "Maildir", args.emails, print)
    server = start_server()
    try:
        url = server.url(server.database(schema=False))
        to = run_measured(crm.argv("db", "migrate", "--to", url), work / "to.out")
        back = Crm(crm.config, work / "back" / "crm.json")
        shutil.rmtree(back.db.parent, ignore_errors=True)
        again = run_measured(back.argv("db", "migrate", "--from", url), work / "from.out")
        on_server = Crm(crm.config, url)  # a URL where a path goes: argv makes it a string either way
        for name, measured, out in (("json -> pg", to, "to.out"), ("pg -> json", again, "from.out")):
            line = (work / out).read_text().strip()
            print(f"{name}: {measured.seconds:.1f} s wall, peak RSS {measured.peak_mb:.0f} MB; {line}")
        digests = {export_digest(c) for c in (crm, on_server, back)}
        print("export emails --format jsonl identical on all three:", len(digests) == 1)
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)
        if not args.keep and not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
