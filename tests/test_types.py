"""The package type-checks (mypy, the configuration in pyproject.toml): the errors it found
were a kept attachment list that also held parts cut out before parsing, a clock value that
could be missing where a record's time is written, and records whose shape was guessed."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT


def test_mypy_finds_no_type_errors_in_the_package():
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Success: no issues found")
