"""Rows to the terminal: rich tables for people, one JSON document for scripts.
The only module that imports rich."""
from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table


def _out() -> Console:
    return Console(file=sys.stdout, highlight=False, soft_wrap=False)


def _err() -> Console:
    return Console(file=sys.stderr, highlight=False)


def emit_json(obj: Any) -> None:
    text = json.dumps(obj, ensure_ascii=False, indent=2, default=str)
    # a stray surrogate (undecodable bytes) leaves as a JSON \\u escape, never as an error
    sys.stdout.write(text.encode("utf-8", "backslashreplace").decode("utf-8") + "\n")


def error(message: str) -> None:
    _err().print(f"[bold red]crmlog:[/] {message}", markup=True, highlight=False, soft_wrap=True)


def warn(message: str) -> None:
    _err().print(f"crmlog: {message}", markup=False, soft_wrap=True)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_cell(v)}" for k, v in value.items())
    return str(value)


def table(title: str, rows: Sequence[dict], columns: Sequence[str]) -> None:
    t = Table(title=title, title_justify="left")
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*(_cell(r.get(c)) for c in columns), end_section=False)
    if not rows:
        _out().print(f"{title}: none")
        return
    _out().print(t)


def record(title: str, fields: dict, skip: Sequence[str] = ()) -> None:
    t = Table(title=title, title_justify="left", show_header=False)
    t.add_column("field", style="bold")
    t.add_column("value", overflow="fold")
    for k, v in fields.items():
        if k not in skip:
            t.add_row(k, _cell(v))
    _out().print(t)


def text(message: str) -> None:
    _out().print(message, markup=False)


@contextmanager
def progress(enabled: bool, label: str) -> Iterator[Callable[[], None]]:
    """A progress display on a terminal (stderr); a no-op elsewhere."""
    console = _err()
    if not enabled or not console.is_terminal:
        yield lambda: None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed} messages"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)
        yield lambda: bar.advance(task)
