"""The tables of the embedded store as the engine works on them: the parts it has read (a
few kept for the next question), the parts a batch changed (held until it is written), the
hashed indexes kept up to date with every record put or taken out, and the manifest's stats
brought up to date before a write (parts.py has the files, indexes.py the lookups)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from datetime import UTC
from itertools import pairwise
from pathlib import Path
from typing import Any

from ..records import Doc, Email
from . import indexes
from .parts import Manifest, Parts, Stats, part_name, write_root

PART_SIZE = {"runs": 100, "sources": 1}  # a run holds its undo journal; a mailbox state, its keys
DEFAULT_PART_SIZE = 1000  # e-mails, rejections, contacts...: a part of a few hundred KB
CACHED_PARTS = 64  # parts kept in memory after a read, the least recently used dropped first


class Tables:
    """`resident`: every part already in memory (a database of the single-file layout read
    whole, not upgraded by a reader or a dry run)."""

    def __init__(self, parts: Parts, resident: dict[str, Doc] | None = None):
        self.parts = parts
        self.manifest = Manifest(parts.manifest.to_doc())  # as this engine sees it, written or not
        self._resident = resident
        self._cache: OrderedDict[str, Doc] = OrderedDict()
        self._dirty: dict[str, Doc] = {}
        self._touched: set[tuple[str, int]] = set()  # table parts whose stats are out of date
        self.took_out = False  # the batch took records or keys out, or replaced records

    # ------------------------------------------------------------ parts

    def part(self, name: str, *, change: bool = False) -> Doc:
        data = self._dirty.get(name)
        if data is None:
            if self._resident is not None:
                data = self._resident.setdefault(name, {})
            else:
                data = self._cache.pop(name, None)
                if data is None:
                    data = self.parts.load(name) if name in self.manifest.files else {}
                self._cache[name] = data
                while len(self._cache) > CACHED_PARTS:
                    self._cache.popitem(last=False)
        if change:
            self._dirty[name] = data
        return data

    def rows(self, table: str, number: int, *, change: bool = False) -> dict[str, Doc]:
        """A table's part: its documents by id (as text, as TinyDB keeps them)."""
        if change:
            self._touched.add((table, number))
        elif (table, number) not in self._touched and part_name(table, number) not in self.manifest.stats:
            return {}
        data = self.part(part_name(table, number), change=change)
        rows: dict[str, Doc] = data.setdefault(table, {}) if change else data.get(table, {})
        return rows

    def numbers(self, table: str) -> list[int]:
        """The parts a table has, in id order."""
        known = {n for n, _ in self.manifest.parts_of(table)}
        return sorted(known | {n for t, n in self._touched if t == table})

    @staticmethod
    def number(table: str, id: int) -> int:
        return id // PART_SIZE.get(table, DEFAULT_PART_SIZE)

    # ------------------------------------------------------------ records

    def doc(self, table: str, id: int) -> Doc | None:
        return self.rows(table, self.number(table, id)).get(str(id))

    def docs(self, table: str, numbers: list[int] | None = None) -> Iterator[tuple[int, Doc]]:
        """A table's documents in id order (of the parts `numbers` only, where given)."""
        for n in self.numbers(table) if numbers is None else numbers:
            for key, doc in list(self.rows(table, n).items()):
                yield int(key), doc

    def put(self, table: str, id: int, doc: Doc) -> None:
        rows = self.rows(table, self.number(table, id), change=True)
        old = rows.get(str(id))
        rows[str(id)] = doc
        self._reindex(table, id, old, doc)

    def pop(self, table: str, id: int) -> Doc | None:
        rows = self.rows(table, self.number(table, id), change=True)
        old = rows.pop(str(id), None)
        self._reindex(table, id, old, None)
        return old

    def next_id(self, table: str) -> int:
        """One more than the largest id the table has (as TinyDB gives them), counting what a
        batch being applied has put and taken out already."""
        touched = {n for t, n in self._touched if t == table}
        top = max((s.max_id for n, s in self.manifest.parts_of(table) if n not in touched), default=0)
        for n in touched:
            top = max(top, *map(int, self.rows(table, n)), 0)
        return top + 1

    def count(self, table: str) -> int:
        return sum(s.count for _, s in self.manifest.parts_of(table))

    # ------------------------------------------------------------ indexes

    def value(self, index: indexes.Index, key: str) -> Any:
        """A key's value in an index: the delta's, else its shard's."""
        delta = self.part(indexes.DELTA).get(index.name, {})
        if key in delta:
            return delta[key]
        return self.part(index.shard(key)).get(key)

    def lookup(self, index: indexes.Index, key: str) -> list[int]:
        return indexes.ids(index, self.value(index, key))

    def tally(self, index: indexes.Index) -> dict[str, int]:
        values: dict[str, Any] = {}
        for name in index.shards():
            values.update(self.part(name))
        values.update(self.part(indexes.DELTA).get(index.name, {}))
        return indexes.counts(values.items(), index)

    def _reindex(self, table: str, id: int, old: Doc | None, new: Doc | None) -> None:
        for index in indexes.of_table(table):
            before, after = index.keys(old), index.keys(new)
            for key in before:
                if key not in after:
                    self._set(index, key, indexes.dropped(index, self.value(index, key), id))
            for key in after:
                if key not in before or index.unique:
                    self._set(index, key, indexes.added(index, self.value(index, key), id))

    def _set(self, index: indexes.Index, key: str, value: Any) -> None:
        """A key's new value goes to the delta; a key that names nothing any more leaves the
        delta and its shard at once (no trace of it is kept: LIFE-3)."""
        delta = self.part(indexes.DELTA, change=True).setdefault(index.name, {})
        if value is not None:
            delta[key] = value
            return
        delta.pop(key, None)
        if key in self.part(index.shard(key)):
            del self.part(index.shard(key), change=True)[key]
        self.took_out = True

    def _fold(self) -> None:
        """The delta's values into their shards, once it holds more than DELTA_KEYS keys."""
        delta = self.part(indexes.DELTA)
        if sum(map(len, delta.values())) <= indexes.DELTA_KEYS:
            return
        for name, values in delta.items():
            index = next(i for i in indexes.INDEXES.values() if i.name == name)
            for key, value in values.items():
                shard = self.part(index.shard(key), change=True)
                if value is None:
                    shard.pop(key, None)
                else:
                    shard[key] = value
        self.part(indexes.DELTA, change=True).clear()

    # ------------------------------------------------------------ writing

    @property
    def changed(self) -> bool:
        return bool(self._dirty)

    def settle(self) -> None:
        """The stats of the parts a batch changed, each part's documents in id order again."""
        for table, number in self._touched:
            name = part_name(table, number)
            rows = self.rows(table, number, change=True)
            keys = list(rows)
            if any(int(a) > int(b) for a, b in pairwise(keys)):
                rows_sorted = dict(sorted(rows.items(), key=lambda item: int(item[0])))
                rows.clear()
                rows.update(rows_sorted)
            self.manifest.stats.pop(name, None)
            if rows:
                self.manifest.stats[name] = stats(table, rows)
        self._touched.clear()

    def commit(self, db: Path, meta: Doc) -> None:
        """Write what changed (parts.py: new files, then the root naming them)."""
        self.settle()
        self._fold()
        new = self.parts.write(self._dirty, self.manifest)
        try:
            write_root(db, meta, new)
        except BaseException:  # the root names the old files still: the new ones go
            self.parts.remove(f for name, f in new.files.items() if self.parts.manifest.files.get(name) != f)
            raise
        self.parts.written(new, at_once=self.took_out)
        self.took_out = False
        self.manifest = Manifest(new.to_doc())
        for name, data in self._dirty.items():
            self._cache[name] = data
        self._dirty = {}
        while len(self._cache) > CACHED_PARTS:
            self._cache.popitem(last=False)


def stats(table: str, rows: dict[str, Doc]) -> Stats:
    ids = [int(k) for k in rows]
    newest = max((doc.get("date") or "", int(k)) for k, doc in rows.items())
    period = None
    if table == Email.TABLE:
        times = [t.astimezone(UTC).isoformat() for t in map(Email.doc_time, rows.values()) if t is not None]
        period = (min(times), max(times)) if times else None
    return Stats(count=len(rows), max_id=max(ids), newest=newest, period=period)
