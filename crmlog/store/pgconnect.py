"""Connecting to a PostgreSQL CRM by its URL (libpq's form: `postgresql://user@host/db`, or
`postgresql:///db?host=/run/postgresql`), and the one-line errors a failure becomes. A URL
is only ever shown without its password (`shown`)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import conninfo

from ..errors import NoDatabase, StorageIOError
from . import pgtext


def shown(url: str) -> str:
    """The database a URL names, for a message: no password, whatever the URL held."""
    try:
        params = conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "postgresql://(a URL that cannot be read)"
    user = f"{params['user']}@" if params.get("user") else ""
    host = str(params.get("host") or "")
    port = f":{params['port']}" if params.get("port") else ""
    where = f"{user}{host}{port}" if not host.startswith("/") else f"{user}{port}"
    query = f"?host={host}" if host.startswith("/") else ""
    return f"postgresql://{where}/{params.get('dbname') or ''}{query}"


def without_secret(text: str, url: str) -> str:
    """An error message of libpq, with the URL's password taken out should it appear."""
    try:
        password = conninfo.conninfo_to_dict(url).get("password")
    except psycopg.Error:
        password = None
    return text.replace(str(password), "***") if password else text


def connect(url: str, *, autocommit: bool) -> psycopg.Connection[Any]:
    """A connection whose jsonb reads and writes go through jsonio (orjson), and whose text
    takes NULs and lone surrogates both ways (pgtext); a server that
    cannot be reached, or refuses us, is StorageIOError (74); a database that does not exist,
    NoDatabase (66)."""
    try:
        conn = psycopg.connect(url, autocommit=autocommit, connect_timeout=30)
    except psycopg.ProgrammingError as exc:  # a URL libpq cannot read
        raise StorageIOError(
            f"cannot read the database URL {shown(url)}: {without_secret(_first_line(exc), url)}"
        ) from None
    except psycopg.OperationalError as exc:
        message = without_secret(_first_line(exc), url)
        if "does not exist" in message and "database" in message:
            raise NoDatabase(
                f"no database {shown(url)} on the server ({message}); create it with createdb, then run crmlog"
            ) from None
        raise StorageIOError(f"cannot connect to the database {shown(url)}: {message}") from None
    pgtext.register(conn)
    return conn


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return "; ".join(lines[:2]) if lines else type(exc).__name__


def failure(exc: psycopg.Error, url: str, doing: str) -> StorageIOError:
    """A database error while `doing` something, as the one-line error it becomes (74)."""
    return StorageIOError(f"cannot {doing} the database {shown(url)}: {without_secret(_first_line(exc), url)}")
