"""Ingest runs (LIFE-6): the run being written, batch by batch (undo.py undoes one)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from ..records import RunMessage
from .engine import Blobs, Changes, RunProgress


class Outcome(NamedTuple):
    """A message's outcome as stored, or as decided now (LIFE-7: `before`, and whether a run
    decided it again the same way: then it writes nothing)."""

    outcome: str  # logged | rejected
    code: str | None = None
    user: str | None = None
    contacts: tuple[str, ...] = ()
    deals: tuple[int, ...] = ()
    rule: str = ""
    id: int | None = None  # the stored record's

    def same(self, other: Outcome) -> bool:
        return self[:6] == other[:6]


@dataclass(slots=True)
class RunState:
    """The run being written (Store.begin_run): its document's fields, sent with each batch."""

    id: int
    started: str
    paths: tuple[str, ...]
    user: str | None
    counts: dict[str, int] = field(default_factory=dict)
    finished: str | None = None
    recorded: bool = False
    listing: int = 0  # bytes of its listing written
    _sent: int = 0  # messages of the listing written to the run so far

    def progress(self, listed: list[RunMessage], files: tuple[str, ...], blobs: Blobs) -> RunProgress:
        """The batch's part of the run: its rows added to the run's listing (durable before the
        write that counts them), the run's fields, the files the batch wrote."""
        rows = [m.to_doc() for m in listed[self._sent :]]
        committed, self.listing = self.listing, blobs.add_listing(self.id, rows, self.listing)
        self._sent, self.recorded = len(listed), True
        fields = {
            "started": self.started,
            "finished": self.finished,
            "paths": list(self.paths),
            "user": self.user,
            "undone": None,
            "counts": self.counts,
            "listing": self.listing,
        }
        return RunProgress(id=self.id, fields=fields, files=files, committed=committed)


def changes_anything(changes: Changes) -> bool:
    return bool(
        changes.added
        or changes.replaced
        or changes.removed
        or changes.restored
        or changes.sources
        or changes.dropped_sources
    )
