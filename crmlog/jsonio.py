"""JSON in and out, for the database and for --json: orjson, several times faster than the
standard library on big documents (measured in benchmarks/ingest.py), with the standard
library as the fallback for the one thing orjson refuses: a string with a stray surrogate
(the undecodable bytes of a message), which leaves as a JSON \\u escape and comes back as it
went."""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(data: Any, *, indent: bool = False) -> bytes:
    """UTF-8 JSON; `indent` for output (two spaces, as json.dumps(indent=2), anything else
    written as str); the database takes only JSON values."""
    try:
        return orjson.dumps(data, option=orjson.OPT_INDENT_2 if indent else 0, default=str if indent else None)
    except TypeError:
        text = json.dumps(
            data,
            ensure_ascii=False,
            indent=2 if indent else None,
            separators=None if indent else (",", ":"),
            default=str if indent else None,
        )
        return text.encode("utf-8", "backslashreplace")


def loads(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)  # a \u escape of a stray surrogate, which orjson refuses; or a real error
