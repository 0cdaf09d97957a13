"""What a CRM of the embedded engine holds, read from its files as a test sees them: the
root's settings and every table's documents, gathered from the parts the root names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def tables(db: Path) -> dict[str, Any]:
    """{"meta": {"1": settings}, table: {id: document}} of the database `db`, tables in id
    order, as one file of schema 3 held them."""
    root = json.loads(db.read_bytes())
    if "parts" not in root:  # the single file of an older schema
        return dict(root)
    manifest = root["parts"]["1"]
    out: dict[str, Any] = {"meta": root["meta"]}
    for name, file in sorted(manifest["files"].items()):
        if name.startswith("idx."):
            continue
        for table, docs in json.loads((db.with_name(db.stem + ".tables") / file).read_bytes()).items():
            out.setdefault(table, {}).update(docs)
    return {t: docs if t == "meta" else dict(sorted(docs.items(), key=lambda i: int(i[0]))) for t, docs in out.items()}
