"""Forward reader figures: accuracy on the sample sets under tests/forwards/ and time per
message on the real-mail corpus beside the checkout (if present).

    python benchmarks/forwards.py
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from test_forwards import FOUND, REJECTED, body_ends, inspect_raw  # noqa: E402

from crmlog.show.views import forward_report  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "real"


def accuracy() -> None:
    for subset in ("tuned", "heldout"):
        found = [row for row in FOUND if row[0].startswith(subset + "/")]
        rejected = [row for row in REJECTED if row[0].startswith(subset + "/")]
        right = fields_right = 0
        for name, addr, fname, subject, date, to, cc, client, note, first, last in found:
            r = forward_report(inspect_raw((ROOT / "tests" / "forwards" / name).read_bytes()))
            logged = (r["from_address"], r["subject"], r["date"], r["to"], r["cc"]) == (addr, subject, date, to, cc)
            exact = (
                logged
                and (r["from_name"] or "", r["client"], r["note"]) == (fname, client, note)
                and body_ends(r["body"]) == (first, last)
            )
            right += exact
            fields_right += logged
        threads = sum(
            forward_report(inspect_raw((ROOT / "tests" / "forwards" / name).read_bytes()))["code"] == code
            for name, code in rejected
        )
        print(
            f"{subset:8s} forwards fully correct {right}/{len(found)}, logged fields right {fields_right}/{len(found)}, "
            f"rejections right (threads, not recognised) {threads}/{len(rejected)}"
        )


def corpus() -> None:
    if not CORPUS.is_dir():
        print(f"corpus: absent ({CORPUS})")
        return
    times, outcomes = [], Counter()
    for path in sorted(p for p in CORPUS.rglob("*") if p.is_file() and not p.is_symlink() and p.name != "MANIFEST.md"):
        data = path.read_bytes()
        start = time.perf_counter()
        r = forward_report(inspect_raw(data))
        times.append((time.perf_counter() - start, path.relative_to(CORPUS)))
        outcomes[r["status"] if r["status"] == "ok" else r["code"]] += 1
    times.sort(reverse=True)
    total = sum(t for t, _ in times)
    print(
        f"corpus: {len(times)} messages in {total:.2f} s, mean {1000 * total / len(times):.1f} ms, "
        f"slowest {times[0][0]:.3f} s ({times[0][1]}); outcomes {dict(outcomes)}"
    )
    for _, name in times[:3]:  # the whole command, a fresh process each (imports, first date read)
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "crmlog", "forwards", "parse", str(CORPUS / name), "--json"],
            check=True,
            capture_output=True,
            cwd=ROOT,
        )
        print(f"  crmlog forwards parse {name}: {time.perf_counter() - start:.2f} s as a new process")


if __name__ == "__main__":
    accuracy()
    corpus()
