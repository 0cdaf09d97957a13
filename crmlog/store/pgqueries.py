"""The SQL of the PostgreSQL engine's reads: a kind's records filtered, ordered and limited,
and tallies, built from the same field names `records.doc_value` reads. A field whose stored
form is not the document's key of its name (a kind's STORED) is filtered or tallied in Python
over the documents, as the embedded engine does."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from ..errors import DataError
from ..records import KINDS, Doc, Email, Record, doc_value
from .pgschema import COLUMNS, LIST_FIELDS

TABLES = frozenset(kind.TABLE for kind in KINDS)


def table(name: str) -> sql.Identifier:
    """A kind's table, by name (names come from the code, and from undo journals: checked)."""
    if name not in TABLES:
        raise DataError(f"the database names a table crmlog does not know: {name!r}")
    return sql.Identifier(name)


@dataclass(frozen=True, slots=True)
class Selection:
    """A read: the query and its parameters, and what is left to Python (filters, limit)."""

    query: sql.Composed
    params: tuple[Any, ...]
    filters: tuple[tuple[Callable[[Doc], Any], object], ...]
    limit: int | None


def selection(
    kind: type[Record],
    where: Mapping[str, object] | None,
    *,
    newest_first: bool,
    limit: int | None,
    since: datetime | None,
    until: datetime | None,
    after: int | None = None,
    page: int | None = None,
) -> Selection:
    """`after` and `page`: the next `page` rows by id after the id `after` (a long read, page
    by page, never the whole table in memory at once)."""
    conds: list[sql.Composable] = []
    params: list[Any] = []
    filters = []
    stored = getattr(kind, "STORED", {})
    lists = LIST_FIELDS.get(kind.TABLE, frozenset())
    columns = set(COLUMNS.get(kind.TABLE, ())) - {"date_key", "time"}
    for field, wanted in (where or {}).items():
        if field in columns and isinstance(wanted, str):  # an indexed column holds the record's own value
            conds.append(sql.SQL("{} = %s").format(sql.Identifier(field)))
            params.append(wanted)
        elif field in stored:
            filters.append((doc_value(kind, field), wanted))
        elif field in lists:
            conds.append(sql.SQL("doc -> %s @> %s"))
            params += [field, Jsonb([wanted])]
        elif wanted is None:
            conds.append(sql.SQL("coalesce(doc -> %s, 'null') = 'null'"))
            params.append(field)
        else:
            conds.append(sql.SQL("(doc -> %s = %s OR (jsonb_typeof(doc -> %s) = 'array' AND doc -> %s @> %s))"))
            params += [field, Jsonb(wanted), field, field, Jsonb([wanted])]
    if kind is Email and since is not None:
        conds.append(sql.SQL("time >= %s"))
        params.append(since)
    if kind is Email and until is not None:
        conds.append(sql.SQL("time < %s"))
        params.append(until)
    if after is not None:
        conds.append(sql.SQL("id > %s"))
        params.append(after)
    query = sql.SQL("SELECT id, doc FROM {}").format(table(kind.TABLE))
    if conds:
        query += sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conds)
    if newest_first:  # as the embedded engine: (date or "", id), by code point
        date = "date_key" if "date_key" in COLUMNS.get(kind.TABLE, ()) else "coalesce(doc ->> 'date', '') COLLATE \"C\""
        query += sql.SQL(" ORDER BY " + date + " DESC, id DESC")
    else:
        query += sql.SQL(" ORDER BY id")
    if page:
        query += sql.SQL(" LIMIT %s")
        params.append(page)
    elif limit and not filters:
        query += sql.SQL(" LIMIT %s")
        params.append(limit)
    return Selection(query=sql.Composed([query]), params=tuple(params), filters=tuple(filters), limit=limit or None)


def put_query(name: str) -> sql.Composed:
    """Documents under their own ids, as (id, doc, the table's columns): replacing one there."""
    names = ("id", "doc", *COLUMNS.get(name, ()))
    return sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT (id) DO UPDATE SET {}").format(
        table(name),
        sql.SQL(", ").join(map(sql.Identifier, names)),
        sql.SQL(", ").join(sql.Placeholder() * len(names)),
        sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(n)) for n in names[1:]),
    )


def filtered(rows: Iterable[tuple[int, Doc]], selection: Selection) -> Iterable[tuple[int, Doc]]:
    """Rows kept by the filters left to Python, up to the limit left to it."""
    if not selection.filters:
        return rows
    kept = ((i, doc) for i, doc in rows if all(_matches(value(doc), wanted) for value, wanted in selection.filters))
    if selection.limit:
        return [row for _, row in zip(range(selection.limit), kept, strict=False)]
    return kept


def _matches(value: object, wanted: object) -> bool:
    return value == wanted or (isinstance(value, list) and wanted in value)


def tally_query(kind: type[Record], fields: tuple[str, ...]) -> tuple[sql.Composed, tuple[str, ...]] | None:
    """GROUP BY over the documents' keys; None where a field is read otherwise (STORED)."""
    if any(f in getattr(kind, "STORED", {}) for f in fields):
        return None
    values = sql.SQL(", ").join(sql.SQL("doc -> %s") for _ in fields)
    groups = sql.SQL(", ").join(sql.Literal(n) for n in range(1, len(fields) + 1))
    query = sql.SQL("SELECT {}, count(*) FROM {} GROUP BY {}").format(values, table(kind.TABLE), groups)
    return sql.Composed([query]), fields


def tally_rows(rows: Iterable[tuple[Any, ...]], several: bool) -> Counter[Any]:
    counts: Counter[Any] = Counter()
    for *values, n in rows:
        if several:
            counts[tuple(values)] += n
        elif isinstance(values[0], list):
            for element in values[0]:
                counts[element] += n
        else:
            counts[values[0]] += n
    return counts


def tally_docs(kind: type[Record], fields: tuple[str, ...], docs: Iterable[Doc], several: bool) -> Counter[Any]:
    """A tally in Python, over the documents, as the embedded engine makes it."""
    counts: Counter[Any] = Counter()
    readers = [doc_value(kind, f) for f in fields]
    for doc in docs:
        if several:
            counts[tuple(value(doc) for value in readers)] += 1
        else:
            value = readers[0](doc)
            if isinstance(value, list):
                counts.update(value)
            else:
                counts[value] += 1
    return counts
