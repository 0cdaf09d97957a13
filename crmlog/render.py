"""Rows to the terminal: rich tables for people, one JSON document for scripts.
The only module that imports rich."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

from . import jsonio

# rich is imported where it is first used: a cron run that prints nothing never loads it.
RICH_TABLE_ROWS = 2000  # longer listings are printed as plain columns (rich takes ~1 ms a row)


def _out():
    from rich.console import Console

    return Console(file=sys.stdout, highlight=False, soft_wrap=False)


def _err():
    from rich.console import Console

    return Console(file=sys.stderr, highlight=False)


def emit_json(obj: Any) -> None:
    sys.stdout.flush()
    sys.stdout.buffer.write(jsonio.dumps(obj, indent=True) + b"\n")
    sys.stdout.buffer.flush()


def error(message: str) -> None:
    _err().print(f"[bold red]crmlog:[/] {message}", markup=True, highlight=False, soft_wrap=True)


def warn(message: str) -> None:
    _err().print(f"crmlog: {message}", markup=False, soft_wrap=True)


def _cell(value: Any) -> str:
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(v if type(v) is str else _cell(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_cell(v)}" for k, v in value.items())
    return str(value)


def table(title: str, rows: Sequence[dict], columns: Sequence[str]) -> None:
    if len(rows) > RICH_TABLE_ROWS:
        _plain_table(title, rows, columns)
        return
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*(_cell(r.get(c)) for c in columns), end_section=False)
    if not rows:
        _out().print(f"{title}: none")
        return
    _out().print(t)


def _plain_table(title: str, rows: Sequence[dict], columns: Sequence[str], widest: int = 40) -> None:
    """Aligned columns without rich, for listings too long to lay out as a rich table: built
    a column at a time (a row at a time is three times slower)."""
    cols = []
    for c in columns:
        cells = [_cell(r.get(c)).replace("\n", " ") for r in rows]
        width = min(widest, max(len(c), *map(len, cells)))
        cells = [v.ljust(width) if len(v) <= width else v[: width - 1] + "…" for v in cells]
        cols.append([c.ljust(width), "-" * width, *cells])
    sys.stdout.write(f"{title} ({len(rows):,})\n" + "\n".join("  ".join(line).rstrip() for line in zip(*cols)) + "\n")


def record(title: str, fields: dict, skip: Sequence[str] = ()) -> None:
    from rich.table import Table

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
    if not enabled or not sys.stderr.isatty():
        yield lambda: None
        return
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = _err()
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
