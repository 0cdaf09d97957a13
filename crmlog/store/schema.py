"""The database file's schema: read it checked (a corrupt or unknown one is refused, 65, and
left untouched), and upgrade an older one: in memory (`upgrade`), then from the single file
of schemas 1 to 3 to the root and parts of schema 4 (`split`; parts.py), which the writer
writes at once, crash-safely (the parts first, in files no root names yet, then the root)."""

from __future__ import annotations

import gc
import os
import re
from pathlib import Path
from typing import Any

from .. import jsonio
from ..errors import DataError, StorageIOError
from ..records import KINDS, Doc, Record
from . import indexes
from .parts import Manifest, part_name
from .tables import Tables, stats

SCHEMA_VERSION = 4  # 1: a `seen` record per message, bodies inline (read, and upgraded on write)
# 2: before runs, merged contacts, deactivated users, erasures and deletions (LIFE-1..8): its
# documents read as they are; a crmlog of schema 2 must not write a CRM that has them
# 3: one file holding every table; 4: a root file and the parts it names (parts.py)
READABLE_SCHEMAS = (1, 2, 3, 4)


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


def meta_of(data: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = next(iter(data["meta"].values()))
    return meta


def is_split(data: dict[str, Any]) -> bool:
    """A root of schema 4 (else the single file of an older one, or a new database)."""
    return "parts" in data


def manifest_of(data: dict[str, Any]) -> Manifest:
    return Manifest(next(iter(data["parts"].values())))


def split(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Doc], Manifest]:
    """An older single file (or a new database) as schema 4, in memory: its settings, its
    parts by name (each table cut by id, and the indexes over them), and their manifest."""
    upgrade(data)
    meta = meta_of(data)
    meta["schema"] = SCHEMA_VERSION
    parts: dict[str, Doc] = {}
    manifest = Manifest()
    kinds = {kind.TABLE: kind for kind in KINDS}
    for table, docs in data.items():
        if table in ("meta", "parts"):
            continue
        for key, doc in docs.items():
            _check(kinds.get(table), doc, key)
            parts.setdefault(part_name(table, Tables.number(table, int(key))), {}).setdefault(table, {})[key] = doc
            for index in indexes.of_table(table):
                for k in index.keys(doc):
                    shard = parts.setdefault(index.shard(k), {})
                    shard[k] = indexes.added(index, shard.get(k), int(key))
            if table == "sources":
                manifest.sources[doc["source"]] = int(key)
    for name, part in parts.items():
        if not name.startswith("idx."):
            ((table, rows),) = part.items()
            manifest.stats[name] = stats(table, rows)
    return meta, parts, manifest


def _check(kind: type[Record] | None, doc: Doc, key: str) -> None:
    """A record an upgrade would carry over is one crmlog can read (else nothing is written)."""
    try:
        if kind is not None:
            kind.from_doc(doc, int(key))
        else:
            int(key)
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(
            f"the database has a record crmlog cannot read ({type(exc).__name__}: {exc}); it was left untouched"
        ) from None


def upgrade(data: dict[str, Any]) -> None:
    """Schema 1 -> 2 -> 3, in memory: the `seen` records become one state record per source.
    Bodies stored inline by schema 1 stay where they are."""
    meta = meta_of(data)
    if meta.get("schema") != 1:  # 2 -> 3: new tables and fields, all optional
        return
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
