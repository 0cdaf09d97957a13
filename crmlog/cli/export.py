"""`crmlog export`: the CRM's records as CSV, JSON lines or vCard, streamed to stdout or to a
file (the rows and formats are crmlog.show.exports')."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import click

from ..errors import StorageIOError
from ..records import Company, Contact, Deal, Email
from ..show import exports, render
from ..store import Store
from .base import Env, pass_env, took

NOUNS = {  # kind -> (one, several)
    "contacts": ("contact", "contacts"),
    "companies": ("company", "companies"),
    "deals": ("deal", "deals"),
    "emails": ("e-mail", "e-mails"),
}


@click.command()
@click.argument("kind", type=click.Choice(exports.KINDS))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl", "vcard"]),
    default="csv",
    show_default=True,
    help="CSV with a header row, JSON lines, or vCard 3.0 (contacts only).",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False),
    help="Write to FILE (readable by its owner only; replaced whole once written) instead of stdout.",
)
@pass_env
def export(env: Env, kind: str, fmt: str, output: str | None) -> None:
    """Export contacts, companies, deals or e-mails.

    Every record of KIND, one row each, in the order they are stored (by id; records
    that `runs undo` put back come last), streamed: an export of any size holds one row
    at a time.

    \b
    Columns (CSV) and keys (JSON lines):
      contacts   email, name, company, source, created, emails, aliases
      companies  domain, name, contacts, emails
      deals      id, name, stage, created, contacts
      emails     id, message_id, date, subject, path, user, from, contacts,
                 companies, deals, attachments

    A contact's and a company's `emails`, and a company's `contacts`, are counts. In
    CSV a list is one cell, its items joined with `;`, and an e-mail's `attachments`
    is their number; in JSON lines, the list of {filename, content_type, size, sha256,
    stored}.

    Text from mail is written exactly, with one exception in CSV: a cell that begins
    with =, +, -, @, a tab or a carriage return gets a leading ' so that a spreadsheet
    shows it as text instead of running it as a formula (CSV injection). JSON lines keep
    every value exactly. On a terminal, control characters are shown escaped.

    `--format vcard` writes one vCard 3.0 per contact: FN, EMAIL (the contact's
    addresses, merged ones included), ORG. A line on stderr says how many records were
    exported, and how long it took."""
    if fmt == "vcard" and kind != "contacts":
        raise click.UsageError(f"--format vcard exports contacts only, not {kind}")
    start = time.perf_counter()
    store = env.reader()
    loaded = time.perf_counter()
    with _destination(output) as fh:
        n = _write(store, kind, fmt, fh)
    noun = NOUNS[kind][n != 1]
    where = output if output is not None else "stdout"
    line = f"exported {n:,} {noun} to {where} {took(start)} (reading the database {loaded - start:.2f} s)"
    render.stderr_text(render.shown(line) + "\n")


def _write(store: Store, kind: str, fmt: str, fh: exports.TextSink) -> int:
    if fmt == "vcard":
        companies = {c.domain: c.name for c in store.read(Company)}
        return exports.write_vcards(store.read(Contact), companies, fh)
    rows: Iterator[dict[str, Any]]
    if kind == "contacts":
        emails_per_contact = store.tally(Email, "contacts")
        rows = (exports.contact(c, emails_per_contact) for c in store.read(Contact))
    elif kind == "companies":
        contacts_per_company = store.tally(Contact, "company")
        emails_per_company = store.tally(Email, "companies")
        rows = (exports.company(c, contacts_per_company, emails_per_company) for c in store.read(Company))
    elif kind == "deals":
        rows = (exports.deal(d) for d in store.read(Deal))
    else:
        as_count = fmt == "csv"
        rows = (exports.email(e, attachment_count=as_count) for e in store.read(Email))
    if fmt == "jsonl":
        return exports.write_jsonl(rows, fh)
    return exports.write_csv(rows, exports.COLUMNS[kind], fh)


class _Encoded:
    """Text written as UTF-8 to a binary stream, as it comes (the stream buffers). A lone
    surrogate (undecodable bytes of a message) cannot be UTF-8: it is written as its \\udcxx
    escape. On a terminal, every control character is shown escaped (SEC-5); elsewhere the
    text is written exactly."""

    def __init__(self, out: BinaryIO, *, terminal: bool):
        self.out = out
        self.terminal = terminal

    def write(self, text: str) -> int:
        shown = render.shown_text(text) if self.terminal else text
        self.out.write(shown.encode("utf-8", "backslashreplace"))
        return len(text)


@contextmanager
def _destination(output: str | None) -> Iterator[_Encoded]:
    """stdout, or FILE: a regular file is written beside it under a temporary name (0600)
    and renamed over it when complete, so that a failed export leaves the previous file or
    none, never half of one; anything else (a pipe, /dev/stdout) is written directly."""
    if output is None:
        sys.stdout.flush()
        yield _Encoded(sys.stdout.buffer, terminal=render.to_terminal(sys.stdout))  # TTY_COMPATIBLE's too
        sys.stdout.buffer.flush()
        return
    path = Path(output)
    try:
        direct = path.exists() and not path.is_file()
        raw = open(path, "wb") if direct else None  # closed below
        fd, temp = (-1, "") if direct else tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise StorageIOError(f"cannot write {path}: {exc.strerror}") from None
    if raw is not None:
        with raw:
            yield _Encoded(raw, terminal=raw.isatty())  # --output /dev/tty is a terminal too
        return
    try:
        with os.fdopen(fd, "wb") as out:  # 0600, as mkstemp makes it
            yield _Encoded(out, terminal=False)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise StorageIOError(f"cannot write {path}: {exc.strerror}") from None
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
