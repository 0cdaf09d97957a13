"""Rows to the screen: rich tables on a terminal, tab-separated rows in a pipe, one JSON
document for scripts. The only module that imports rich.

SEC-5: every value printed here may come from a message or a configuration, so none is ever
read as markup (rich gets `Text`, never a markup string) and no control character reaches
the terminal: C0 and C1 controls, DEL, the bidirectional controls and lone surrogates are
written as `\\xNN` / `\\uNNNN`, in a pipe as on a terminal. `--json` keeps the exact text.

Human output to a pipe or file (`crmlog users list | grep ...`) is never cut: each section
is a `# Title (N)` line, then a header row and one row per record, the fields separated by
one tab (a tab or line break inside a value is shown escaped, so a row is always one line);
a record is `field<TAB>value` lines; sections are separated by an empty line.
"""
from __future__ import annotations

import os
import re
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence, TextIO

from . import jsonio

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

# rich is imported where it is first used: a cron run that prints nothing never loads it.
RICH_TABLE_ROWS = 2000  # longer listings on a terminal are printed as plain columns (rich takes ~1 ms a row)

# What a terminal would act on rather than show: C0 controls, DEL, C1 controls, the Arabic
# letter mark, the bidirectional marks, embeddings, overrides and isolates, the line and
# paragraph separators, and lone surrogates (undecodable bytes of a message, which no
# terminal encoding can carry).
_OTHER_CONTROLS = "\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff"
_IN_LINE = re.compile(f"[\x00-\x1f{_OTHER_CONTROLS}]")
_IN_TEXT = re.compile(f"[\x00-\x08\x0b-\x1f{_OTHER_CONTROLS}]")  # tab and line feed kept


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(value: str) -> str:
    """One line of text as it may reach a terminal: every control character escaped, line
    breaks and tabs included (SEC-5)."""
    return _IN_LINE.sub(_escaped, value) if _IN_LINE.search(value) else value


def shown_text(value: str) -> str:
    """Running text (a body, a note) as it may reach a terminal: line breaks and tabs kept
    (a CR LF pair is a line break), every other control character escaped (SEC-5)."""
    if "\r" in value:
        value = value.replace("\r\n", "\n")
    return _IN_TEXT.sub(_escaped, value) if _IN_TEXT.search(value) else value


def _to_terminal(stream: TextIO) -> bool:
    """Is `stream` a terminal? `TTY_COMPATIBLE=1` or `0` (rich's own convention) says so
    where the stream cannot tell: `TTY_COMPATIBLE=1 crmlog emails list | less -R`."""
    forced = os.environ.get("TTY_COMPATIBLE", "")
    if forced in ("0", "1"):
        return forced == "1"
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _console(stream: TextIO) -> Console:
    from rich.console import Console

    # markup and emoji off: a stray markup string would be shown as written, not obeyed
    return Console(file=stream, force_terminal=True, highlight=False, markup=False, emoji=False)


def _text(value: str, style: str = "") -> Text:
    from rich.text import Text

    return Text(shown(value), style=style)


def emit_json(obj: Any) -> None:
    sys.stdout.flush()
    sys.stdout.buffer.write(jsonio.dumps(obj, indent=True) + b"\n")
    sys.stdout.buffer.flush()


def _diagnostic(message: str, style: str) -> None:
    if _to_terminal(sys.stderr):
        from rich.text import Text

        _console(sys.stderr).print(Text.assemble(("crmlog:", style), " ", _text(message)), soft_wrap=True)
    else:
        sys.stderr.write(f"crmlog: {shown(message)}\n")
        sys.stderr.flush()


def error(message: str) -> None:
    _diagnostic(message, "bold red")


def warn(message: str) -> None:
    _diagnostic(message, "yellow")


def debug(trace: str) -> None:
    """A traceback for `--debug`: its lines may quote a message, so controls are escaped."""
    sys.stderr.write(shown_text(trace))
    sys.stderr.flush()


def _cell(value: Any) -> str:
    if type(value) is str:
        return shown(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{_cell(k)}: {_cell(v)}" for k, v in value.items())
    return shown(str(value))


def _piped_line(fields: Sequence[str]) -> str:
    # a value's own tabs and line breaks are escaped already (_cell), so a row is one line
    return "\t".join(fields) + "\n"


def table(title: str, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """A listing: a rich table on a terminal (plain columns past RICH_TABLE_ROWS), else
    tab-separated rows under a header row."""
    if not _to_terminal(sys.stdout):
        out = [f"# {shown(title)} ({len(rows):,})\n", _piped_line(columns)]
        out += [_piped_line([_cell(r.get(c)) for c in columns]) for r in rows]
        _write_section("".join(out))
        return
    if not rows:
        _console(sys.stdout).print(_text(f"{title}: none"))
        return
    if len(rows) > RICH_TABLE_ROWS:
        _plain_columns(title, rows, columns)
        return
    from rich.table import Table
    from rich.text import Text

    t = Table(title=_text(title), title_justify="left")
    for c in columns:
        t.add_column(Text(c), overflow="fold")  # on a screen too, a long value wraps, never cut
    for r in rows:
        t.add_row(*(Text(_cell(r.get(c))) for c in columns), end_section=False)
    _console(sys.stdout).print(t)


_sections_written = 0


def _write_section(text: str) -> None:
    """A piped section, after an empty line if one came before it."""
    global _sections_written
    sys.stdout.write(("\n" if _sections_written else "") + text)
    sys.stdout.flush()
    _sections_written += 1


def _plain_columns(title: str, rows: Sequence[dict[str, Any]], columns: Sequence[str], widest: int = 40) -> None:
    """Aligned columns without rich, for listings too long to lay out as a rich table on a
    terminal: built a column at a time (a row at a time is three times slower). A cell
    wider than `widest` ends in an ellipsis here; in a pipe nothing is cut."""
    cols = []
    for c in columns:
        cells = [_cell(r.get(c)) for r in rows]
        width = min(widest, max(len(c), *map(len, cells)))
        cells = [v.ljust(width) if len(v) <= width else v[: width - 1] + "…" for v in cells]
        cols.append([c.ljust(width), "-" * width, *cells])
    sys.stdout.write(f"{shown(title)} ({len(rows):,})\n" + "\n".join("  ".join(line).rstrip() for line in zip(*cols)) + "\n")


def record(title: str, fields: dict[str, Any], skip: Sequence[str] = ()) -> None:
    """One record, a field a line: a two-column rich table on a terminal, else
    `field<TAB>value` lines."""
    shown_fields = [(k, _cell(v)) for k, v in fields.items() if k not in skip]
    if not _to_terminal(sys.stdout):
        _write_section(f"# {shown(title)}\n" + "".join(_piped_line(kv) for kv in shown_fields))
        return
    from rich.table import Table
    from rich.text import Text

    t = Table(title=_text(title), title_justify="left", show_header=False)
    t.add_column("field", style="bold")
    t.add_column("value", overflow="fold")
    for k, v in shown_fields:
        t.add_row(Text(k), Text(v))
    _console(sys.stdout).print(t)


def text(message: str) -> None:
    """A line of ours (`added user 3: ...`), whose values may come from anywhere."""
    sys.stdout.write(shown(message) + "\n")
    sys.stdout.flush()


def body(title: str, content: str) -> None:
    """Running text from a message (a body, a forward note), line breaks kept."""
    if not _to_terminal(sys.stdout):
        _write_section(f"# {shown(title)}\n{shown_text(content)}\n")
        return
    from rich.text import Text

    console = _console(sys.stdout)
    console.print(_text(title, "bold"))
    console.print(Text(shown_text(content)), soft_wrap=True)


class Progress:
    """What `ingest` reports while it runs: the folder it reads, each message it is done with."""

    def __init__(self, folder: Callable[[str], None], message: Callable[[], None]):
        self.folder = folder
        self.message = message


@contextmanager
def progress(enabled: bool, label: str) -> Iterator[Progress]:
    """A progress display on a terminal (stderr); a no-op elsewhere. The folder's path is
    shown as text, never as markup, its control characters escaped (SEC-5)."""
    if not enabled or not _to_terminal(sys.stderr):
        yield Progress(lambda _folder: None, lambda: None)
        return
    from rich.progress import BarColumn, Progress as Bar, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Bar(
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        TextColumn("{task.completed} messages", markup=False),
        TimeElapsedColumn(),
        console=_console(sys.stderr),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)
        yield Progress(
            lambda folder: bar.update(task, description=f"{label} {shown(folder)}"),
            lambda: bar.advance(task),
        )
