"""What a CRM in a PostgreSQL database holds, read by the tests' own hand (SQL on the CRM's
role, never through the engine under test): the schema's presence, every table's rows, the
mailboxes' states, the attachments."""

from __future__ import annotations

import socket

import psycopg


def _connect(url: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(url, autocommit=True)


def has_schema(url: str) -> bool:
    with _connect(url) as conn:
        row = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
        return bool(row and row[0])


def rows(url: str) -> dict[str, list[str]]:
    """Every table's rows, as text, in order."""
    with _connect(url) as conn:
        names = [
            name
            for (name,) in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            ).fetchall()
        ]
        return {
            name: [text for (text,) in conn.execute(f'SELECT t::text FROM "{name}" t ORDER BY 1').fetchall()]
            for name in names
        }


def docs(url: str, table: str) -> dict[str, dict]:
    """A table's documents by id (as tests/stored.py gives a JSON file's)."""
    with _connect(url) as conn:
        return {str(i): doc for i, doc in conn.execute(f'SELECT id, doc FROM "{table}" ORDER BY id').fetchall()}


def sources(url: str) -> list[dict]:
    if not has_schema(url):
        return []
    with _connect(url) as conn:
        return [
            doc
            for (doc,) in conn.execute(
                "SELECT doc FROM sources WHERE host = %s ORDER BY source", (socket.gethostname(),)
            ).fetchall()
        ]


def attachments(url: str) -> set[str]:
    if not has_schema(url):
        return set()
    with _connect(url) as conn:
        return {sha for (sha,) in conn.execute("SELECT sha256 FROM attachments").fetchall()}


def files(url: str) -> dict[str, bytes]:
    """Every stored byte, as files would hold it: each table's rows as JSON (`table/id.json`,
    every column), each pack's compressed bodies one after another (`bodies/pack.pack`), each
    attachment's bytes (`attachments/sha256`)."""
    out: dict[str, bytes] = {}
    if not has_schema(url):
        return out
    with _connect(url) as conn:
        tables = [t for (t,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()]
        for table in sorted(set(tables) - {"bodies", "attachments"}):
            for n, (row,) in enumerate(conn.execute(f'SELECT row_to_json(t)::text FROM "{table}" t ORDER BY 1')):
                out[f"{table}/{n}.json"] = row.encode()
        for pack, _n, data in conn.execute("SELECT pack, n, data FROM bodies ORDER BY pack, n"):
            out[f"bodies/{pack}.pack"] = out.get(f"bodies/{pack}.pack", b"") + bytes(data)
        for sha, data in conn.execute("SELECT sha256, data FROM attachments ORDER BY sha256"):
            out[f"attachments/{sha}"] = bytes(data)
    return out


def tables(url: str) -> dict[str, dict]:
    """As tests/stored.py gives a JSON file's: {"meta": {"1": settings}, "sources": {source:
    state}, table: {id: document}}, each table of documents (the tables without one left out)."""
    out: dict[str, dict] = {}
    if not has_schema(url):
        return out
    with _connect(url) as conn:
        out["meta"] = {"1": dict(conn.execute("SELECT key, value FROM meta ORDER BY key").fetchall())}
        out["sources"] = {s["source"]: s for s in sources(url)}
        with_doc = conn.execute(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'doc'"
            " AND table_name IN (SELECT table_name FROM information_schema.columns WHERE column_name = 'id')"
        ).fetchall()
    for (table,) in sorted(with_doc):
        out[table] = docs(url, table)
    return out
