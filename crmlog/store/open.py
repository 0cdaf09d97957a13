"""The engine a `--db` value names: a `postgresql://` (or `postgres://`) URL, the PostgreSQL
engine; anything else, the path of the embedded engine's JSON file."""

from __future__ import annotations

from pathlib import Path
from typing import TypeGuard

from .engine import Engine
from .jsonfile import JsonEngine

LOCK_TIMEOUT = 60.0  # seconds a writer waits for another's lock, on either engine
URL_PREFIXES = ("postgresql://", "postgres://")


def is_url(db: object) -> TypeGuard[str]:
    return isinstance(db, str) and db.startswith(URL_PREFIXES)


def open_engine(
    db: Path | str, *, write: bool, lock_timeout: float = LOCK_TIMEOUT, dry_run: bool = False, create: bool = True
) -> Engine:
    """`create=False`: a database that does not exist (for a server's, one without the crmlog
    schema yet) is NoDatabase (66), not an empty CRM."""
    if is_url(db):
        from .pgengine import PgEngine  # psycopg is loaded only for a server's CRM

        return PgEngine(str(db), write=write, lock_timeout=lock_timeout, dry_run=dry_run, create=create)
    return JsonEngine(Path(db), write=write, lock_timeout=lock_timeout, dry_run=dry_run, create=create)
