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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ..records import BodyRef, Contact, Deal, Doc, EmailBody, R, Record


@dataclass(frozen=True, slots=True, kw_only=True)
class RunProgress:
    """A batch of an ingest run (LIFE-6): the run's document gets `fields` and the batch's undo
    journal (journal.py), in the same write."""

    id: int
    fields: Mapping[str, Any]
    files: tuple[str, ...] = ()  # body packs and attachment files this batch wrote
    committed: int = 0  # the run's listing before this batch (where a failed write cuts it back)


@dataclass(frozen=True, slots=True, kw_only=True)
class Changes:
    """One batch: written all or nothing, in this order: removals, restorations, replacements,
    additions."""

    added: tuple[Record, ...] = ()
    replaced: tuple[Record, ...] = ()  # by id, whole
    removed: tuple[tuple[str, int], ...] = ()  # (table, id)
    restored: tuple[tuple[str, int, Doc], ...] = ()  # documents put back under their own ids (undo)
    sources: tuple[Doc, ...] = ()  # mailbox states, by their "source" (ONCE-2)
    dropped_sources: tuple[str, ...] = ()  # mailbox states removed (undo of a run that made them)
    meta: Mapping[str, Any] = field(default_factory=dict)  # settings of the database itself
    run: RunProgress | None = None


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
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[R]:
        """Records of a kind, by id (or newest first: by date, then id). `where` keeps those
        whose field equals the value, or, for a list field, contains it. Fields are named as
        the record names them. `since`/`until` keep e-mails whose `Email.time()` is in
        [since, until) (a period: an engine reads only the part of the history it covers);
        other kinds ignore them."""
        ...

    def get(self, kind: type[R], id: int) -> R | None: ...

    def count(self, kind: type[Record]) -> int: ...

    def tally(self, kind: type[Record], field: str | tuple[str, ...]) -> Counter[Any]:
        """How many records have each value of `field` (each element, for a list field), or
        each combination of values of several fields (a tuple of them, in that order)."""
        ...

    def meta(self) -> Mapping[str, Any]: ...

    def source_states(self) -> list[Doc]:
        """Every mailbox's state (ONCE-2), for undo and copies of the whole CRM."""
        ...

    def source_state(self, source: str) -> Doc | None:
        """One mailbox's state, read when a run first comes to that mailbox."""
        ...

    # ---- the rules' lookups
    def contact(self, email: str) -> Contact | None: ...

    def has_company(self, domain: str) -> bool: ...

    def deals_of(self, email: str) -> tuple[Deal, ...]: ...

    def is_logged(self, identity: str) -> bool:
        """Logged, or logged and deleted since (LIFE-5: it stays decided)."""
        ...

    def email_id(self, identity: str) -> int | None:
        """The logged e-mail of a message (ONCE-1 identity)."""
        ...

    def is_forgotten(self, hashed: str) -> bool:
        """LIFE-3: an erased address's keyed hash is on record."""
        ...

    def next_id(self, kind: type[Record]) -> int:
        """The id the next record of `kind` will get (the writer is alone: ONCE-4)."""
        ...

    def document(self, table: str, id: int) -> Doc | None:
        """A stored document as it is (for a run's undo journal)."""
        ...

    def rejection_id(self, identity: str) -> int | None: ...

    # ---- writing
    def write(self, changes: Changes) -> list[int]:
        """Persist one batch, all or nothing; the ids given to `changes.added`, in order."""
        ...

    @property
    def taken(self) -> tuple[int, ...]:
        """After a write: the positions in its `changes.added` of e-mails that another writer
        (another host) had logged since this one decided; their ids are the stored e-mails'."""
        ...

    def close(self) -> None: ...


class Blobs(Protocol):
    """Bodies and attachment contents, written before the records that point to them."""

    def add_body(self, body: EmailBody) -> BodyRef: ...

    def body(self, ref: BodyRef) -> EmailBody: ...

    def add_attachment(self, sha256: str, data: bytes) -> None: ...

    def written(self) -> tuple[str, ...]:
        """The files made durable by the flushes since the last call (a run's undo journal)."""
        ...

    def add_listing(self, run: int, rows: Sequence[Doc], committed: int) -> int:
        """Append rows to a run's listing after the `committed` part of it (what a batch cut
        short left after it is dropped), durably; the listing's new length."""
        ...

    def cut_listing(self, run: int, length: int) -> int:
        """A batch's rows taken back out of a run's listing (its write failed); `length`."""
        ...

    def listing(self, run: int, length: int, name: str = "") -> list[Doc]:
        """The rows of a run's listing (under `name`, once written anew), its first `length`."""
        ...

    def replace_listing(self, run: int, rows: Sequence[Doc]) -> tuple[str, int]:
        """A run's listing written anew (rows taken out: LIFE-3) under a new name, for the
        database write that names it; its name and length."""
        ...

    def copy_bodies(self, refs: Iterable[BodyRef]) -> dict[BodyRef, BodyRef]:
        """Bodies added again as they are stored (a pack written again without some of its
        bodies keeps the others): where each will be."""
        ...

    def bodies_naming(self, refs: Iterable[BodyRef], texts: Sequence[Sequence[str]]) -> list[BodyRef]:
        """Of the bodies `refs`, those whose stored form holds all texts of one of the groups
        `texts`, in any case (LIFE-3: the bodies that may name an erased address), read in one
        pass."""
        ...

    def pack_of(self, ref: BodyRef) -> str:
        """The name of the file a body is kept in, as `written` and `remove` name files."""
        ...

    def remove(self, names: Iterable[str]) -> None:
        """Delete files no record points to any more (an undone run's, a forgotten body's pack)."""
        ...

    def attachment(self, sha256: str) -> bytes | None: ...

    @property
    def pending_bytes(self) -> int: ...

    def flush(self) -> Mapping[str, Any]:
        """Make what was added durable; what the database must remember of it (meta)."""
        ...

    def discard(self) -> None: ...
