"""The lookups over the history, kept on disk beside the parts (parts.py): hashed indexes,
each cut into shards by a hash of the key, so that looking up a key reads one small file.

An index maps a key of a record (an e-mail's identity, each of its contacts) to the record's
id (`unique`) or to the ids of the records that have it, in id order. The engine keeps each
up to date in the same write as the records (tables.py); `INDEXES` names them all.

A write does not rewrite the shards of the keys it changed: their new values go to one small
part, the delta (`DELTA`), which every lookup reads first, and which is folded into the
shards when it holds more than DELTA_KEYS keys. A run that logs ten e-mails writes the delta
and not thirty shards; the run that folds pays for the thousands of keys before it at once.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..records import Company, Contact, Doc, Email, Rejection, doc_value

DELTA = "idx.delta"
DELTA_KEYS = 5000


@dataclass(frozen=True, slots=True)
class Index:
    table: str
    field: str
    unique: bool
    value: Callable[[Doc], Any]
    shard_count: int  # about one shard per thousand keys of a CRM of a million e-mails

    @property
    def name(self) -> str:
        return f"{self.table}.{self.field}"

    def keys(self, doc: Doc | None) -> list[str]:
        if doc is None:
            return []
        value = self.value(doc)
        values = value if isinstance(value, list) else [value]
        return [v for v in dict.fromkeys(values) if isinstance(v, str) and v]

    def shard(self, key: str) -> str:
        """The part that holds `key`."""
        h = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=2).digest()
        return f"idx.{self.name}.{int.from_bytes(h) % self.shard_count:03x}"

    def shards(self) -> list[str]:
        return [f"idx.{self.name}.{n:03x}" for n in range(self.shard_count)]


INDEXES: dict[tuple[str, str], Index] = {
    (i.table, i.field): i
    for i in (
        Index("emails", "identity", True, doc_value(Email, "identity"), 1024),
        Index("emails", "contacts", False, doc_value(Email, "contacts"), 256),
        Index("emails", "companies", False, doc_value(Email, "companies"), 64),
        Index("rejections", "identity", True, doc_value(Rejection, "identity"), 256),
        Index("contacts", "email", True, doc_value(Contact, "email"), 64),
        Index("contacts", "aliases", False, doc_value(Contact, "aliases"), 16),
        Index("companies", "domain", True, doc_value(Company, "domain"), 16),
    )
}


def of_table(table: str) -> list[Index]:
    return [i for (t, _), i in INDEXES.items() if t == table]


def ids(index: Index, value: Any) -> list[int]:
    """The ids a key's value names."""
    if value is None:
        return []
    return [int(value)] if index.unique else [int(v) for v in value]


def added(index: Index, value: Any, id: int) -> Any:
    """A key's value with `id` added (a new value: values are never changed in place)."""
    if index.unique:
        return id
    ids_ = list(value or [])
    if not ids_ or ids_[-1] < id:
        ids_.append(id)
    elif id not in ids_:
        bisect.insort(ids_, id)
    return ids_


def dropped(index: Index, value: Any, id: int) -> Any:
    """A key's value without `id`; None once it names no record."""
    if index.unique:
        return None if value == id else value
    ids_ = [i for i in value or [] if i != id]
    return ids_ or None


def counts(values: Iterable[tuple[str, Any]], index: Index) -> dict[str, int]:
    """How many records have each key (a tally of the field)."""
    return {key: 1 if index.unique else len(value) for key, value in values if value is not None}
