"""Per mailbox folder, what the next run needs to read only what is new (ONCE-2): the keys
of a Maildir folder decided on, the position in an mbox. Kept in memory while a run works,
handed back as `sources` records to be written in the same atomic write as the records they
account for."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..model import RawMessage, Unaddressed, tail_digest

State = dict[str, Any]


class SourceStates:
    def __init__(self, stored: list[State]):
        """From the stored states, one per source."""
        self._states: dict[str, State] = {}  # source -> its state
        for d in stored:
            state = dict(d)
            if state["kind"] == "maildir":
                state["keys"] = dict.fromkeys(state.get("keys", ()))
            self._states[state["source"]] = state
        self._changed: set[str] = set()

    def maildir_keys(self, source: str) -> dict[str, None]:
        """The keys of a Maildir folder decided on, in the order decided (the live index:
        look keys up in it, don't change it)."""
        keys: dict[str, None] = self._state(source, "maildir")["keys"]
        return keys

    def mbox_resume(self, source: str) -> tuple[int, str | None] | None:
        """(offset, digest of the bytes before it) where the last run stopped in an mbox
        (no digest for a state upgraded from schema 1)."""
        state = self._state(source, "mbox")
        return (state["offset"], state.get("tail")) if state.get("offset") else None

    def keep_keys(self, source: str, listed: set[str]) -> None:
        """Forget the keys of files no longer in a Maildir folder (after a whole listing), so
        its state stays the size of the folder."""
        state = self._state(source, "maildir")
        if not state["keys"].keys() <= listed:
            state["keys"] = {k: None for k in state["keys"] if k in listed}
            self._changed.add(source)

    def mark(self, item: RawMessage | Unaddressed) -> None:
        """`item` is decided on (a Maildir key decided before, under --reprocess, changes nothing)."""
        if item.position is not None:  # the digest of its tail is taken once, when it is written
            self._state(item.source, "mbox")["position"] = item.position
        else:
            keys = self._state(item.source, "maildir")["keys"]
            if item.key in keys:
                return
            keys[item.key] = None
        self._changed.add(item.source)

    def changed(self) -> Iterator[State]:
        """The record of each state changed since the last call, in source order."""
        for source in sorted(self._changed):
            state = self._states[source]
            doc: State = {"source": source, "kind": state["kind"]}
            if state["kind"] == "maildir":
                doc["keys"] = list(state["keys"])
            else:
                position = state.pop("position", None)
                if position is not None:
                    state["offset"], state["tail"] = position.offset, tail_digest(position.tail)
                doc["offset"], doc["tail"] = state.get("offset", 0), state.get("tail")
            yield doc
        self._changed = set()

    def _state(self, source: str, kind: str) -> State:
        state = self._states.get(source)
        if state is None or state["kind"] != kind:  # new, or a path that changed its kind
            state = (
                {"source": source, "kind": kind, "keys": {}} if kind == "maildir" else {"source": source, "kind": kind}
            )
            self._states[source] = state
        return state
