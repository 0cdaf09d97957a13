"""The PostgreSQL engine: the CRM in a database that several mail hosts ingest into at once.

- A write is one transaction (ONCE-3: a run killed mid-batch leaves nothing of the batch),
  taking first a transaction-scoped advisory lock (ONCE-4), waited for up to the engine's
  lock timeout (LockBusy, 75, after it): hosts read, parse and decide in parallel, and only
  their short writes take turns. No lock is held between writes, and readers take none.
- ONCE-1 across hosts is the database's own: emails.identity is UNIQUE. An e-mail another host
  logged since this one decided is not added again (`ON CONFLICT DO NOTHING`): the batch gets
  the stored e-mail's id for it, and its body and notices are left out; a contact, company or
  rejection that another host added meanwhile is reused the same way (by address, domain or
  identity). Ids come from each table's sequence, so two writers never share one.
- Mailbox states are kept per host (`socket.gethostname()`): two hosts may have the same
  Maildir path; this engine's `source_state(s)` are its own host's.
- A dry run works in one transaction that is never committed: it sees its own batches.
"""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from ..errors import DataError, LockBusy
from ..records import BodyRef, Contact, Deal, Doc, Email, Notice, R, Record
from . import journal, pgqueries, pgschema
from .engine import Changes, RunProgress
from .pgblobs import PgBlobs
from .pgconnect import connect, failure, shown
from .pgqueries import table

LOCK_TIMEOUT = 60.0  # seconds a write waits for another host's write
PAGE = 5000  # rows a long read fetches at a time


class PgEngine:
    """Open with `PgEngine(url, write=..., ...)`; `host` names this host's mailbox states."""

    def __init__(
        self,
        url: str,
        *,
        write: bool,
        lock_timeout: float = LOCK_TIMEOUT,
        dry_run: bool = False,
        create: bool = True,
        host: str | None = None,
    ):
        self.url, self.where = url, shown(url)
        self.writing = write and not dry_run
        self.dry_run = write and dry_run
        self.lock_timeout = lock_timeout
        self.host = host or socket.gethostname()
        self._conn = connect(url, autocommit=not self.dry_run)
        try:
            if not write:
                self._conn.execute("SET default_transaction_read_only = on")
            found = pgschema.check(self._conn, self.where, create=create and write)
            if write and found != pgschema.SCHEMA_VERSION:
                if self.dry_run:  # in the transaction that is never committed
                    pgschema.migrate(self._conn, self.where)
                else:
                    with self._conn.transaction():
                        self._timeout()
                        pgschema.migrate(self._conn, self.where)
        except psycopg.errors.LockNotAvailable:
            self.close()
            raise LockBusy(f"another crmlog run is setting up {self.where}; gave up after {lock_timeout:g}s") from None
        except psycopg.Error as exc:
            self.close()
            raise failure(exc, url, "open") from None
        except BaseException:
            self.close()
            raise
        self.blobs = PgBlobs(self._conn, writing=self.writing)
        self.taken: tuple[int, ...] = ()

    def close(self) -> None:
        if not self._conn.closed:
            self._conn.close()  # a dry run's transaction goes with it

    def _rows(self, query: sql.Composed | sql.SQL | str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._conn.execute(query.encode() if isinstance(query, str) else query, tuple(params)).fetchall()
        except psycopg.Error as exc:
            raise failure(exc, self.url, "read") from None

    def _one(self, query: sql.Composed | sql.SQL | str, params: Iterable[Any] = ()) -> Any:
        rows = self._rows(query, params)
        return rows[0][0] if rows else None

    def _records(self, kind: type[R], rows: Iterable[tuple[int, Doc]]) -> Iterator[R]:
        from_doc = kind.from_doc
        try:
            for doc_id, doc in rows:
                yield from_doc(doc, int(doc_id))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(
                f"the database {self.where} has a record crmlog cannot read ({type(exc).__name__}: {exc}); "
                "it was left untouched"
            ) from None

    def _record(self, kind: type[R], query: str, *params: Any) -> R | None:
        q = sql.SQL(query).format(table(kind.TABLE))
        return next(self._records(kind, self._rows(q, params)), None)

    # ------------------------------------------------------------ reading

    def read(
        self,
        kind: type[R],
        *,
        where: Mapping[str, object] | None = None,
        newest_first: bool = False,
        limit: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[R]:
        if newest_first or limit:
            chosen = pgqueries.selection(kind, where, newest_first=newest_first, limit=limit, since=since, until=until)
            return self._records(kind, pgqueries.filtered(self._rows(chosen.query, chosen.params), chosen))
        return self._records(kind, self._pages(kind, where, since, until))

    def _pages(
        self, kind: type[R], where: Mapping[str, object] | None, since: datetime | None, until: datetime | None
    ) -> Iterator[tuple[int, Doc]]:
        """Every row a read keeps, in id order, PAGE rows a query (an export of a million
        e-mails holds a page at a time)."""
        after: int | None = None
        while True:
            chosen = pgqueries.selection(
                kind, where, newest_first=False, limit=None, since=since, until=until, after=after, page=PAGE
            )
            rows = self._rows(chosen.query, chosen.params)
            yield from pgqueries.filtered(rows, chosen)
            if len(rows) < PAGE:
                return
            after = int(rows[-1][0])

    def get(self, kind: type[R], id: int) -> R | None:
        return self._record(kind, "SELECT id, doc FROM {} WHERE id = %s", id)

    def count(self, kind: type[Record]) -> int:
        return int(self._one(sql.SQL("SELECT count(*) FROM {}").format(table(kind.TABLE))))

    def tally(self, kind: type[Record], field: str | tuple[str, ...]) -> Counter[Any]:
        fields = field if isinstance(field, tuple) else (field,)
        several = isinstance(field, tuple)
        grouped = pgqueries.tally_query(kind, fields)
        if grouped is None:
            docs = (doc for (doc,) in self._rows(sql.SQL("SELECT doc FROM {}").format(table(kind.TABLE))))
            return pgqueries.tally_docs(kind, fields, docs, several)
        query, names = grouped
        return pgqueries.tally_rows(self._rows(query, names), several)

    def meta(self) -> Mapping[str, Any]:
        return {key: value for key, value in self._rows("SELECT key, value FROM meta ORDER BY key")}

    def source_states(self) -> list[Doc]:
        return [doc for (doc,) in self._rows("SELECT doc FROM sources WHERE host = %s ORDER BY source", (self.host,))]

    def source_state(self, source: str) -> Doc | None:
        doc: Doc | None = self._one("SELECT doc FROM sources WHERE host = %s AND source = %s", (self.host, source))
        return doc

    # ------------------------------------------------------------ the rules' lookups

    def contact(self, email: str) -> Contact | None:
        """By its address, or by the address of a contact merged into it (LIFE-4)."""
        return self._record(Contact, "SELECT id, doc FROM {} WHERE email = %s", email) or self._record(
            Contact, "SELECT id, doc FROM {} WHERE doc -> 'aliases' @> %s ORDER BY id LIMIT 1", Jsonb([email])
        )

    def has_company(self, domain: str) -> bool:
        return bool(self._one("SELECT EXISTS (SELECT 1 FROM companies WHERE domain = %s)", (domain,)))

    def deals_of(self, email: str) -> tuple[Deal, ...]:
        rows = self._rows("SELECT id, doc FROM deals WHERE doc -> 'contacts' @> %s ORDER BY id", (Jsonb([email]),))
        return tuple(self._records(Deal, rows))

    def is_logged(self, identity: str) -> bool:
        return bool(
            self._one(
                "SELECT EXISTS (SELECT 1 FROM emails WHERE identity = %s) OR EXISTS (SELECT 1 FROM deleted WHERE identity = %s)",
                (identity, identity),
            )
        )

    def email_id(self, identity: str) -> int | None:
        found = self._one("SELECT id FROM emails WHERE identity = %s", (identity,))
        return int(found) if found is not None else None

    def is_forgotten(self, hashed: str) -> bool:
        return bool(self._one("SELECT EXISTS (SELECT 1 FROM forgotten WHERE hash = %s)", (hashed,)))

    def next_id(self, kind: type[Record]) -> int:
        """Taken from the table's sequence: no other writer gets it. A reader (a destructive
        command working out what it would do, before it asks) and a dry run only look at the
        sequence: a read-only transaction cannot take a value, and a dry run leaves it as it was."""
        if self.writing:
            return int(self._one("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", (kind.TABLE,)))
        sequence = self._one("SELECT pg_get_serial_sequence(%s, 'id')", (kind.TABLE,))
        query = sql.SQL("SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM {}")
        return int(self._one(query.format(sql.Identifier(*str(sequence).split(".")))))

    def document(self, table_name: str, id: int) -> Doc | None:
        doc: Doc | None = self._one(sql.SQL("SELECT doc FROM {} WHERE id = %s").format(table(table_name)), (id,))
        return doc

    def rejection_id(self, identity: str) -> int | None:
        found = self._one("SELECT id FROM rejections WHERE identity = %s", (identity,))
        return int(found) if found is not None else None

    # ------------------------------------------------------------ writing

    def write(self, changes: Changes) -> list[int]:
        """One transaction (a savepoint of a dry run's), under the write lock."""
        try:
            with self._conn.transaction():
                if not self.dry_run:
                    self._lock()
                return self._apply(changes)
        except psycopg.errors.LockNotAvailable:
            raise LockBusy(
                f"another crmlog run is writing to {self.where}; gave up after {self.lock_timeout:g}s"
            ) from None
        except psycopg.Error as exc:
            raise failure(exc, self.url, "write") from None
        finally:
            self.blobs.clear()

    def _timeout(self) -> None:
        timeout = f"{max(1, round(self.lock_timeout * 1000))}ms"
        self._conn.execute("SELECT set_config('lock_timeout', %s, true)", (timeout,))

    def _lock(self) -> None:
        if self.lock_timeout > 0:
            self._timeout()
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (pgschema.WRITE_LOCK,))
        else:
            row = self._conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (pgschema.WRITE_LOCK,)).fetchone()
            if not row or not row[0]:
                raise psycopg.errors.LockNotAvailable("the write lock is taken")

    def _apply(self, changes: Changes) -> list[int]:
        undo = self._journal(changes)
        conn = self._conn
        by_table: dict[str, list[int]] = {}
        for table_name, doc_id in changes.removed:
            by_table.setdefault(table_name, []).append(doc_id)
        for table_name, doc_ids in by_table.items():
            conn.execute(sql.SQL("DELETE FROM {} WHERE id = ANY(%s)").format(table(table_name)), (doc_ids,))
        restored: dict[str, list[tuple[int, Doc]]] = {}
        for table_name, doc_id, doc in changes.restored:
            restored.setdefault(table_name, []).append((doc_id, doc))
        for table_name, docs in restored.items():
            self._put(table_name, docs)
        for record in changes.replaced:  # whole: a field left out is gone, not kept
            if not self._update(record.TABLE, record.id, record.to_doc()):
                raise KeyError(f"no record {record.id} in {record.TABLE} to replace")
        ids, fresh, skipped = self._add(changes.added)
        self.taken = tuple(n for n, r in enumerate(changes.added) if isinstance(r, Email) and not fresh[n])
        for doc in changes.sources:
            conn.execute(
                "INSERT INTO sources (host, source, doc) VALUES (%s, %s, %s)"
                " ON CONFLICT (host, source) DO UPDATE SET doc = EXCLUDED.doc",
                (self.host, doc["source"], Jsonb(doc)),
            )
        if changes.dropped_sources:
            conn.execute(
                "DELETE FROM sources WHERE host = %s AND source = ANY(%s)", (self.host, list(changes.dropped_sources))
            )
        if undo is not None:
            assert changes.run is not None
            for n, record in enumerate(changes.added):
                if fresh[n]:  # not what another host logged: undoing this run leaves that
                    journal.note_added(undo, record.TABLE, [ids[n]])
            self._put_run(changes.run, undo)
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                [(key, Jsonb(value)) for key, value in changes.meta.items()],
            )
        self.blobs.insert(conn, skipped=skipped)
        return ids

    def _put(self, table_name: str, docs: list[tuple[int, Doc]]) -> None:
        """Documents under their own ids (undo puts them back, a copy brings them), in one
        statement; the table's sequence then moved past the largest, so that no later record
        is given one of them."""
        with self._conn.cursor() as cur:
            rows = [(doc_id, Jsonb(doc), *pgschema.columns(table_name, doc)) for doc_id, doc in docs]
            cur.executemany(pgqueries.put_query(table_name), rows)
        sequence = str(self._one("SELECT pg_get_serial_sequence(%s, 'id')", (table_name,)))
        seq = sql.Identifier(*sequence.split("."))
        given = self._one(sql.SQL("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {}").format(seq))
        top = max(doc_id for doc_id, _ in docs)
        if top > int(given):
            self._conn.execute("SELECT setval(%s, %s)", (sequence, top))

    def _update(self, table_name: str, doc_id: int, doc: Doc) -> bool:
        names = ("doc", *pgschema.COLUMNS.get(table_name, ()))
        values = (Jsonb(doc), *pgschema.columns(table_name, doc), doc_id)
        cur = self._conn.execute(
            sql.SQL("UPDATE {} SET {} WHERE id = %s").format(
                table(table_name),
                sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(n)) for n in names),
            ),
            values,
        )
        return cur.rowcount > 0

    def _add(self, added: tuple[Record, ...]) -> tuple[list[int], list[bool], list[BodyRef]]:
        """Each record added (in one statement per table), or, where another host added the
        same one first (by its UNIQUE column), that one's id; the bodies of e-mails not added."""
        ids, fresh = [0] * len(added), [False] * len(added)
        skipped: list[BodyRef] = []
        duplicates: set[str] = set()  # message ids of e-mails another host logged: their notices go too
        grouped: dict[str, list[int]] = {}
        for n, record in enumerate(added):
            grouped.setdefault(record.TABLE, []).append(n)
        for table_name, positions in grouped.items():
            if table_name == Notice.TABLE:
                positions = [n for n in positions if getattr(added[n], "message_id", "") not in duplicates]
                if not positions:
                    continue
            docs = [added[n].to_doc() for n in positions]
            names = ("doc", *pgschema.COLUMNS.get(table_name, ()))
            unique = pgschema.UNIQUE.get(table_name)
            query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) {} RETURNING id").format(
                table(table_name),
                sql.SQL(", ").join(map(sql.Identifier, names)),
                sql.SQL(", ").join(sql.Placeholder() * len(names)),
                sql.SQL("ON CONFLICT ({}) DO NOTHING").format(sql.Identifier(unique)) if unique else sql.SQL(""),
            )
            params = [(Jsonb(doc), *pgschema.columns(table_name, doc)) for doc in docs]
            with self._conn.cursor() as cur:
                cur.executemany(query, params, returning=True)
                got: list[int | None] = []
                while True:
                    row = cur.fetchone()
                    got.append(int(row[0]) if row else None)
                    if not cur.nextset():
                        break
            missing = [p[1] for p, i in zip(params, got, strict=True) if i is None]
            existing: dict[str, int] = {}
            if missing:
                rows = self._rows(
                    sql.SQL("SELECT {0}, id FROM {1} WHERE {0} = ANY(%s)").format(
                        sql.Identifier(unique or "id"), table(table_name)
                    ),
                    (missing,),
                )
                existing = {key: int(i) for key, i in rows}
            for n, param, got_id in zip(positions, params, got, strict=True):
                fresh[n] = got_id is not None
                ids[n] = got_id if got_id is not None else existing[param[1]]
                record = added[n]
                if got_id is None and isinstance(record, Email):
                    duplicates.add(record.message_id)
                    if record.body is not None:
                        skipped.append(record.body)
        return ids, fresh, skipped

    def _journal(self, changes: Changes) -> Doc | None:
        """The undo journal of the run this batch belongs to, as the embedded engine keeps it
        (journal.py), read inside the write's transaction."""
        if changes.run is None:
            return None
        return journal.for_batch(self.document("runs", changes.run.id), changes, self.document, self.source_state)

    def _put_run(self, progress: RunProgress, undo: Doc) -> None:
        self._put("runs", [(progress.id, journal.run_document(self.document("runs", progress.id), progress, undo))])
