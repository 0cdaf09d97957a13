"""The database file's schema: read it checked (a corrupt or unknown one is refused, 65, and
left untouched), and upgrade an older one in memory, for the writer's first commit."""

from __future__ import annotations

import gc
import os
import re
from pathlib import Path
from typing import Any

from .. import jsonio
from ..errors import DataError, StorageIOError

SCHEMA_VERSION = 3  # 1: a `seen` record per message, bodies inline (read, and upgraded on write)
# 2: before runs, merged contacts, deactivated users, erasures and deletions (LIFE-1..8): its
# documents read as they are; a crmlog of schema 2 must not write a CRM that has them
READABLE_SCHEMAS = (1, 2, 3)


def load(path: Path) -> dict[str, Any]:
    """The database file, checked: corrupt or unknown-schema files are refused (65), untouched."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {"meta": {"1": {"schema": SCHEMA_VERSION}}}
    except OSError as exc:
        raise StorageIOError(f"cannot read the database {path}: {exc.strerror}") from None
    try:
        # A database is millions of small objects: the cyclic garbage collector would walk all
        # of them again and again while they are made (a 73 MB file: 2.2 s to load instead of
        # 0.7), and they hold no cycles, so it is off while loading and they are frozen out
        # of its walks afterwards.
        gc.disable()
        try:
            data = jsonio.loads(raw)
        finally:
            gc.enable()
        gc.freeze()
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"the database {path} is corrupt ({exc}); it was left untouched") from None
    if not isinstance(data, dict) or not all(
        isinstance(table, dict) and all(isinstance(doc, dict) for doc in table.values()) for table in data.values()
    ):
        raise DataError(f"the database {path} is not a crmlog database; it was left untouched")
    meta: dict[str, Any] = next(iter(data.get("meta", {}).values()), {})
    schema = meta.get("schema")
    if schema not in READABLE_SCHEMAS:
        raise DataError(
            f"the database {path} has schema version {schema!r}; this crmlog reads versions "
            f"{', '.join(map(str, READABLE_SCHEMAS))}; it was left untouched"
        )
    return data


def upgrade(data: dict[str, Any]) -> bool:
    """Schema 1 -> 2 -> 3, in memory (written by the writer's first commit): the `seen` records
    become one state record per source. Bodies stored inline by schema 1 stay where they are.
    True when there was something to upgrade."""
    meta = next(iter(data["meta"].values()))
    if meta.get("schema") == SCHEMA_VERSION:
        return False
    if meta.get("schema") == 2:  # 2 -> 3: new tables and fields, all optional
        meta["schema"] = SCHEMA_VERSION
        return True
    sources: dict[str, dict[str, Any]] = {}
    for doc in data.pop("seen", {}).values():
        source, key = doc["source"], doc["key"]
        mbox = re.fullmatch(r"(\d+)-(\d+)", key) if not os.path.isdir(source) else None
        state = sources.setdefault(source, {"source": source, "kind": "mbox" if mbox else "maildir", "keys": []})
        if mbox:
            state["offset"] = max(state.get("offset", 0), int(mbox.group(2)))
        else:
            state["keys"].append(key)
    table = data.setdefault("sources", {})
    for n, state in enumerate(sources.values(), start=len(table) + 1):
        if state["kind"] == "mbox":  # schema 1 kept no digest: the next run checks the offset alone
            state = {"source": state["source"], "kind": "mbox", "offset": state.get("offset", 0), "tail": None}
        table[str(n)] = state
    meta["schema"] = SCHEMA_VERSION
    return True
