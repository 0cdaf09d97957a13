"""Rows to the screen: rich tables on a terminal, tab-separated rows in a pipe, one JSON
document for scripts. The only module that imports rich.

SEC-5: every value printed here may come from a message or a configuration, so none is ever
read as markup (rich gets `Text`, never a markup string) and no character a terminal would act
on or hide reaches it (the controls, the format characters but the zero-width joiners, the
line separators, lone surrogates: _UNSAFE_RANGES): they are written as `\\xNN`, `\\uNNNN` or
`\\UNNNNNNNN`, in a pipe as on a terminal. `--json` keeps the exact text, as JSON escapes.

Human output to a pipe or file (`crmlog users list | grep ...`) is never cut: each section
is a `# Title (N)` line, then a header row and one row per record, the fields separated by
one tab (a tab or line break inside a value is shown escaped, so a row is always one line);
a record is `field<TAB>value` lines; sections are separated by an empty line.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TextIO

from .. import jsonio

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

# rich is imported where it is first used: a cron run that prints nothing never loads it.
RICH_TABLE_ROWS = 2000  # longer listings get the piped layout on a terminal too (rich takes ~1 ms a row)
MIN_COLUMN_WIDTH = 6  # a terminal narrower than this per column gets the piped layout (rich would drop columns)

# What a terminal would act on, or hide, rather than show: DEL and the C1 controls (with C0,
# Unicode's Cc), the invisible format characters (Cf: the bidirectional marks, embeddings,
# overrides and isolates, zero-width spaces, the byte order mark, the soft hyphen, tag
# characters, ...) but the zero-width joiner and non-joiner, which emoji and many scripts need
# to be read at all, and the line and paragraph separators; as (first, last) code points, the
# Cf ranges Unicode 14's. C0 and lone surrogates (undecodable bytes of a message, which no
# terminal encoding can carry) are added below.
_UNSAFE_RANGES = (
    (0x7F, 0x9F),
    (0xAD, 0xAD),
    (0x600, 0x605),
    (0x61C, 0x61C),
    (0x6DD, 0x6DD),
    (0x70F, 0x70F),
    (0x890, 0x891),
    (0x8E2, 0x8E2),
    (0x180E, 0x180E),
    (0x200B, 0x200B),
    (0x200E, 0x200F),
    (0x2028, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x13438),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
)
_OTHER = "".join(f"{chr(a)}-{chr(b)}" for a, b in _UNSAFE_RANGES) + "\ud800-\udfff"
_IN_LINE = re.compile(f"[\x00-\x1f{_OTHER}]")
_IN_TEXT = re.compile(f"[\x00-\x08\x0b-\x1f{_OTHER}]")  # tab and line feed kept


@lru_cache(maxsize=1)
def _in_json() -> re.Pattern[bytes]:
    """The UTF-8 bytes of each unsafe character that JSON does not escape itself (it does C0),
    for a scan of the bytes orjson writes: several times faster than decoding and a scan of
    the text (a 40 MB listing: 0.09 s against 0.6 s)."""
    return re.compile(b"|".join(re.escape(chr(c).encode()) for a, b in _UNSAFE_RANGES for c in range(a, b + 1)))


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _json_escaped(match: re.Match[bytes]) -> bytes:
    code = ord(match.group().decode("utf-8"))
    if code < 0x10000:
        return b"\\u%04x" % code
    code -= 0x10000  # a UTF-16 surrogate pair, as JSON writes a character beyond the BMP
    return b"\\u%04x\\u%04x" % (0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF))


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


def json_for_terminal(document: bytes) -> bytes:
    """UTF-8 JSON whose strings carry no raw character a terminal would act on: JSON escapes
    C0 controls itself; DEL, C1 controls, format characters and the line and paragraph
    separators become \\u escapes, which decode to the same text (SEC-5: `--json` keeps the
    exact text and is safe to print)."""
    if document.isascii():  # the common case: only DEL to look for
        return document.replace(b"\x7f", b"\\u007f") if b"\x7f" in document else document
    pattern = _in_json()
    return pattern.sub(_json_escaped, document) if pattern.search(document) else document


def to_terminal(stream: TextIO) -> bool:
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
    sys.stdout.buffer.write(json_for_terminal(jsonio.dumps(obj, indent=True)) + b"\n")
    sys.stdout.buffer.flush()


def _diagnostic(message: str, style: str) -> None:
    if to_terminal(sys.stderr):
        from rich.text import Text

        _console(sys.stderr).print(Text.assemble(("crmlog:", style), " ", _text(message)), soft_wrap=True)
    else:
        sys.stderr.write(f"crmlog: {shown(message)}\n")
        sys.stderr.flush()


def error(message: str) -> None:
    _diagnostic(message, "bold red")


def warn(message: str) -> None:
    _diagnostic(message, "yellow")


def stderr_text(trace: str) -> None:
    """Lines for stderr that may quote a message or what was typed (a traceback for
    `--debug`, Click's usage message): control characters escaped, as ever."""
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
    """A listing: a rich table on a terminal wide enough for its columns; else, and for very
    long listings, tab-separated rows under a header row, nothing cut."""
    console = _console(sys.stdout) if to_terminal(sys.stdout) else None
    if console is None or len(rows) > RICH_TABLE_ROWS or console.width < MIN_COLUMN_WIDTH * len(columns):
        out = [f"# {shown(title)} ({len(rows):,})\n", _piped_line(columns)]
        out += [_piped_line([_cell(r.get(c)) for c in columns]) for r in rows]
        _write_section("".join(out))
        return
    if not rows:
        console.print(_text(f"{title}: none"))
        return
    from rich.table import Table
    from rich.text import Text

    t = Table(title=_text(title), title_justify="left")
    for c in columns:
        t.add_column(Text(c), overflow="fold")  # on a screen too, a long value wraps, never cut
    for r in rows:
        t.add_row(*(Text(_cell(r.get(c))) for c in columns), end_section=False)
    console.print(t)


_last_section_to: list[TextIO] = []  # the stream the last piped section went to


def _write_section(text: str) -> None:
    """A piped section, after an empty line if one came before it on the same stream."""
    out = sys.stdout
    out.write(("\n" if _last_section_to and _last_section_to[0] is out else "") + text)
    out.flush()
    _last_section_to[:] = [out]


def record(title: str, fields: dict[str, Any], skip: Sequence[str] = ()) -> None:
    """One record, a field a line: a two-column rich table on a terminal, else
    `field<TAB>value` lines."""
    shown_fields = [(k, _cell(v)) for k, v in fields.items() if k not in skip]
    if not to_terminal(sys.stdout):
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
    if not to_terminal(sys.stdout):
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
    if not enabled or not to_terminal(sys.stderr):
        yield Progress(lambda _folder: None, lambda: None)
        return
    from rich.progress import BarColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

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
