"""Per mailbox folder, what the next run needs to read only what is new (ONCE-2): the keys
of a Maildir folder decided on and the mtimes of its directories when they were last listed
whole (read/directory_times.py), the position in an mbox. A folder's stored state is read
when the run first comes to that folder, kept in memory while the run works there, and handed
back as a `sources` record to be written in the same atomic write as the records it accounts
for."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ..model import RawMessage, Unaddressed, tail_digest

State = dict[str, Any]


class SourceStates:
    def __init__(self, stored: Callable[[str], State | None]):
        """Over `stored(source)`: one source's stored state (the engine's `source_state`),
        asked once per source, when the run first comes to it."""
        self._stored = stored
        self._states: dict[str, State] = {}  # source -> its state, for the sources met so far
        self._changed: set[str] = set()  # sources whose state changed since written
        self._moved_on: set[str] = set()  # of them, those with a message decided or a key forgotten

    def maildir_keys(self, source: str) -> dict[str, None]:
        """The keys of a Maildir folder decided on, in the order decided (the live index:
        look keys up in it, don't change it)."""
        keys: dict[str, None] = self._state(source, "maildir")["keys"]
        return keys

    def maildir_mtimes(self, source: str) -> Mapping[str, int]:
        """directory (new, cur) -> its st_mtime_ns when a run last listed it whole and
        decided every message of it (only an mtime old enough to be trusted is kept)."""
        return dict(self._state(source, "maildir")["mtimes"])  # a copy: this run records anew

    def mbox_resume(self, source: str) -> tuple[int, str | None] | None:
        """(offset, digest of the bytes before it) where the last run stopped in an mbox
        (no digest for a state upgraded from schema 1)."""
        state = self._state(source, "mbox")
        return (state["offset"], state.get("tail")) if state.get("offset") else None

    def keep_keys(self, source: str, listed: set[str]) -> None:
        """Forget the keys of files no longer in a Maildir folder, so its state stays the size
        of the folder. Only after a run that listed every directory of the folder whole:
        `listed` must hold every key in it."""
        state = self._state(source, "maildir")
        if not state["keys"].keys() <= listed:
            state["keys"] = {k: None for k in state["keys"] if k in listed}
            self._changed.add(source)
            self._moved_on.add(source)

    def note_listed(self, source: str, directory: str, mtime: int | None) -> None:
        """A directory (new, cur) of a Maildir folder listed whole, every message of it decided
        on: its mtime recorded for the next run, or (None: not to be trusted) none kept."""
        mtimes = self._state(source, "maildir")["mtimes"]
        if mtimes.get(directory) == mtime:
            return
        if mtime is None:
            del mtimes[directory]
        else:
            mtimes[directory] = mtime
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
        self._moved_on.add(item.source)

    def moved_on(self) -> bool:
        """Has a message been decided or a key forgotten since the states were last written?
        (Else at most mtimes were recorded: no run of its own, LIFE-6.)"""
        return bool(self._moved_on)

    def changed(self, *, mtimes_alone: bool = True) -> Iterator[State]:
        """The record of each state changed since written, in source order; with
        `mtimes_alone` false, not those in which only mtimes were recorded (they wait)."""
        for source in sorted(self._changed if mtimes_alone else self._moved_on):
            state = self._states[source]
            doc: State = {"source": source, "kind": state["kind"]}
            if state["kind"] == "maildir":
                doc["keys"] = list(state["keys"])
                if state["mtimes"]:
                    doc["mtimes"] = dict(state["mtimes"])
            else:
                position = state.pop("position", None)
                if position is not None:
                    state["offset"], state["tail"] = position.offset, tail_digest(position.tail)
                doc["offset"], doc["tail"] = state.get("offset", 0), state.get("tail")
            yield doc
        self._changed = set() if mtimes_alone else self._changed - self._moved_on
        self._moved_on = set()

    def _state(self, source: str, kind: str) -> State:
        if source not in self._states:
            stored = self._stored(source)
            if stored is not None:
                self._states[source] = _in_memory(stored)
        state = self._states.get(source)
        if state is None or state["kind"] != kind:  # new, or a path that changed its kind
            state = {"source": source, "kind": kind}
            if kind == "maildir":
                state |= {"keys": {}, "mtimes": {}}
            self._states[source] = state
        return state


def _in_memory(stored: State) -> State:
    """A stored state as a run works on it (a copy: the engine's document stays as read)."""
    state = dict(stored)
    if state["kind"] == "maildir":
        state["keys"] = dict.fromkeys(state.get("keys", ()))
        state["mtimes"] = dict(state.get("mtimes", {}))
    return state
