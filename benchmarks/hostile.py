"""Time and peak memory of `crmlog ingest` on each hostile message of tests/hostile.py.

    python benchmarks/hostile.py [--runs N]

Each message is ingested alone into a fresh database, by a new process started through a
small launcher (so that the peak is the command's own, not this process's, which holds the
messages), and the outcome is printed beside the figures."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import hostile  # noqa: E402
from ingest import run_measured  # noqa: E402  (benchmarks/ingest.py: time and the command's own peak)


def crmlog(work: Path, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "crmlog",
        "--config",
        str(work / "config.toml"),
        "--db",
        str(work / "crm.json"),
        *args,
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    print(f"{'input':38} {'size':>9} {f'time (best of {args.runs})':>18} {'peak':>8}  outcome")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        subprocess.run(crmlog(work, "init", "--bcc", hostile.LOG), check=True, capture_output=True)
        subprocess.run(
            crmlog(work, "users", "add", "anna@ourco.example", "--inbox", "anna@ourco.example"),
            check=True,
            capture_output=True,
        )
        shutil.copy(work / "crm.json", work / "team.json")
        for name, build in hostile.HOSTILE.items():
            box = work / "Maildir"
            shutil.rmtree(box, ignore_errors=True)
            for sub in ("cur", "new", "tmp"):
                (box / sub).mkdir(parents=True)
            data = build()
            (box / "new" / "1.host").write_bytes(data)
            del data
            best, peak = float("inf"), 0.0
            for _ in range(args.runs):
                shutil.copy(work / "team.json", work / "crm.json")
                shutil.rmtree(work / "crm.attachments", ignore_errors=True)
                shutil.rmtree(work / "crm.bodies", ignore_errors=True)
                seconds, mb, out = run_measured(crmlog(work, "ingest", str(box), "--json"))
                best, peak = min(best, seconds), max(peak, mb)
            summary = json.loads(out)
            outcome = (
                "logged" if summary["logged"] else "skipped" if summary["skipped"] else ", ".join(summary["rejections"])
            )
            if summary["notices"]:
                outcome += f" ({summary['notices']} notice)"
            size = (box / "new" / "1.host").stat().st_size
            print(f"{name:38} {size / 1e6:7.2f}MB {best:17.2f}s {peak:6.0f}MB  {outcome}", flush=True)


if __name__ == "__main__":
    main()
