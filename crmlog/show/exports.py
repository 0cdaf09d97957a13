"""`crmlog export`: records to export rows, and the writers of the three formats. Pure: a row
function takes one record (and the counts it reports), a writer takes an iterator of rows or
records and a text stream, and writes each as it comes, so that an export of any size holds
one row at a time.

- CSV (`write_csv`): the standard library's `csv` (RFC 4180 quoting, CRLF rows) under a
  header row; a list is one cell, its items joined with `;`. A cell that a spreadsheet would
  read as a formula (one that begins with `=`, `+`, `-`, `@`, a tab or a carriage return) gets
  a leading `'` (OWASP's advice against CSV injection: a subject is written by whoever sent
  the mail). Everything else is kept exactly, control characters included.
- JSON lines (`write_jsonl`): one compact JSON object a line, through `crmlog.jsonio`, every
  value exact (C0 controls as JSON writes them; DEL, C1 and the invisible format characters
  as \\u escapes, as `--json` does: the same text once decoded).
- vCard 3.0 (`write_vcards`): one card per contact, written by vobject (escaping, line
  folding): FN, N, an EMAIL per address (the contact's own first, then its aliases), ORG.
  vCard text cannot hold control characters (RFC 2425); those but tab and line breaks are
  left out of a card.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from .. import jsonio
from ..records import Company, Contact, Deal, Email
from .render import json_for_terminal

Row = dict[str, Any]

KINDS = ("contacts", "companies", "deals", "emails")
COLUMNS: Mapping[str, tuple[str, ...]] = {
    "contacts": ("email", "name", "company", "source", "created", "emails", "aliases"),
    "companies": ("domain", "name", "contacts", "emails"),
    "deals": ("id", "name", "stage", "created", "contacts"),
    "emails": (
        "id",
        "message_id",
        "date",
        "subject",
        "path",
        "user",
        "from",
        "contacts",
        "companies",
        "deals",
        "attachments",
    ),
}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet reads as the start of a formula
LIST_SEPARATOR = ";"
_NOT_VCARD_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # CTLs; vobject escapes CR and LF


class TextSink(Protocol):
    def write(self, text: str, /) -> Any: ...


# ---------------------------------------------------------------- records to rows


def contact(c: Contact, emails_per_contact: Counter[str]) -> Row:
    return {
        "email": c.email,
        "name": c.name,
        "company": c.company,
        "source": c.source,
        "created": c.created,
        "emails": emails_per_contact[c.email],
        "aliases": list(c.aliases),
    }


def company(c: Company, contacts_per_company: Counter[Any], emails_per_company: Counter[str]) -> Row:
    return {
        "domain": c.domain,
        "name": c.name,
        "contacts": contacts_per_company[c.domain],
        "emails": emails_per_company[c.domain],
    }


def deal(d: Deal) -> Row:
    return {"id": d.id, "name": d.name, "stage": d.stage, "created": d.created, "contacts": list(d.contacts)}


def email(e: Email, *, attachment_count: bool = False) -> Row:
    """An e-mail's row; its attachments as their number (CSV's cell) or as the list of
    {filename, content_type, size, sha256, stored}."""
    return {
        "id": e.id,
        "message_id": e.message_id,
        "date": e.date,
        "subject": e.subject,
        "path": e.path,
        "user": e.user,
        "from": e.sender,
        "contacts": e.contacts,
        "companies": e.companies,
        "deals": e.deals,
        "attachments": len(e.attachments) if attachment_count else [a.to_doc() for a in e.attachments],
    }


# ---------------------------------------------------------------- writers


def csv_cell(value: Any) -> str:
    """A value as a CSV cell: nothing for None, a list's items joined with `;`, and text a
    spreadsheet would run as a formula behind a `'`."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
    elif isinstance(value, (list, tuple)):
        text = LIST_SEPARATOR.join(str(v) for v in value)
    else:
        return str(value)  # a number: never a formula
    return "'" + text if text.startswith(FORMULA_START) else text


def write_csv(rows: Iterable[Row], columns: Iterable[str], fh: TextSink) -> int:
    """A header row, then a line per row (`fh` opened with newline=""); returns the rows written."""
    names = list(columns)
    writer = csv.writer(fh)
    writer.writerow(names)
    n = 0
    for row in rows:
        writer.writerow([csv_cell(row[c]) for c in names])
        n += 1
    return n


def write_jsonl(rows: Iterable[Row], fh: TextSink) -> int:
    """One JSON object a line; returns the rows written."""
    n = 0
    for row in rows:
        fh.write(json_for_terminal(jsonio.dumps(row)).decode("utf-8") + "\n")
        n += 1
    return n


def write_vcards(contacts: Iterable[Contact], companies_by_domain: Mapping[str, str], fh: TextSink) -> int:
    """A vCard 3.0 per contact (`fh` opened with newline="": vCard lines end in CRLF); ORG is
    the name of the contact's company. Returns the cards written.

    vobject takes longer to make a card than to write one: one card is made per shape (how
    many addresses, whether there is an ORG) and written again with each contact's values."""
    import vobject  # type: ignore[import-untyped]  # here: a CSV export does not load it

    cards: dict[tuple[int, bool], Any] = {}
    n = 0
    for c in contacts:
        addresses = (c.email, *c.aliases)
        org = companies_by_domain.get(c.company, c.company) if c.company else None
        shape = (len(addresses), org is not None)
        card = cards.get(shape)
        if card is None:
            card = cards[shape] = vobject.vCard()
            card.add("n").value = vobject.vcard.Name()  # required in 3.0; a name's parts are not known
            card.add("fn")
            for i in range(len(addresses)):
                card.add("email").type_paramlist = ["INTERNET", "PREF"] if i == 0 else ["INTERNET"]
            if org is not None:
                card.add("org")
        card.fn.value = _vcard_text(c.name or c.email)
        for line, address in zip(card.contents["email"], addresses, strict=True):
            line.value = address
        if org is not None:
            card.org.value = [_vcard_text(org)]
        card.serialize(buf=fh)
        n += 1
    return n


def _vcard_text(value: str) -> str:
    return _NOT_VCARD_TEXT.sub("", value) if _NOT_VCARD_TEXT.search(value) else value
