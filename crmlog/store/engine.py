"""The narrow interface between the CRM and whatever keeps it: an `Engine` persists records,
`Blobs` keeps bodies and attachments. The JSON file of today (jsonfile.py, blobs.py) is one
engine; a second (PostgreSQL) implements the same two protocols, and tests/test_engines.py
holds every engine to the same behaviour.

An engine answers the rules' lookups (a contact by address, open deals, whether a message is
logged or rejected) and the views' reads (records of a kind, filtered, newest first, counted),
and writes one batch of `Changes` all or nothing. The unit of work above it (db.py) queues a
batch's changes, makes the blobs durable first, then hands the batch to `write`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..records import BodyRef, Contact, Deal, Doc, EmailBody, R, Record


@dataclass(frozen=True, slots=True, kw_only=True)
class Changes:
    """One batch: written all or nothing, in this order: removals, replacements, additions."""

    added: tuple[Record, ...] = ()
    replaced: tuple[Record, ...] = ()  # by id, whole
    removed: tuple[tuple[str, int], ...] = ()  # (table, id)
    sources: tuple[Doc, ...] = ()  # mailbox states, by their "source" (ONCE-2)
    meta: Mapping[str, Any] = field(default_factory=dict)  # settings of the database itself


class Engine(Protocol):
    """Persists the CRM's records. Opened for reading, or for writing under the engine's own
    guarantee of one writer at a time (ONCE-4)."""

    @property
    def blobs(self) -> Blobs: ...

    # ---- reading
    def read(
        self,
        kind: type[R],
        *,
        where: Mapping[str, object] | None = None,
        newest_first: bool = False,
        limit: int | None = None,
    ) -> Iterator[R]:
        """Records of a kind, by id (or newest first: by date, then id). `where` keeps those
        whose field equals the value, or, for a list field, contains it. Fields are named as
        the record names them."""
        ...

    def get(self, kind: type[R], id: int) -> R | None: ...

    def count(self, kind: type[Record]) -> int: ...

    def tally(self, kind: type[Record], field: str | tuple[str, ...]) -> Counter[Any]:
        """How many records have each value of `field` (each element, for a list field), or
        each combination of values of several fields (a tuple of them, in that order)."""
        ...

    def meta(self) -> Mapping[str, Any]: ...

    def source_states(self) -> list[Doc]: ...

    # ---- the rules' lookups
    def contact(self, email: str) -> Contact | None: ...

    def has_company(self, domain: str) -> bool: ...

    def deals_of(self, email: str) -> tuple[Deal, ...]: ...

    def is_logged(self, identity: str) -> bool: ...

    def rejection_id(self, identity: str) -> int | None: ...

    # ---- writing
    def write(self, changes: Changes) -> list[int]:
        """Persist one batch, all or nothing; the ids given to `changes.added`, in order."""
        ...

    def close(self) -> None: ...


class Blobs(Protocol):
    """Bodies and attachment contents, written before the records that point to them."""

    def add_body(self, body: EmailBody) -> BodyRef: ...

    def body(self, ref: BodyRef) -> EmailBody: ...

    def add_attachment(self, sha256: str, data: bytes) -> None: ...

    def attachment(self, sha256: str) -> bytes | None: ...

    @property
    def pending_bytes(self) -> int: ...

    def flush(self) -> Mapping[str, Any]:
        """Make what was added durable; what the database must remember of it (meta)."""
        ...

    def discard(self) -> None: ...
