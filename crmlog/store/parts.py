"""The files of the embedded store: a small root file and the parts it names.

The database path (`crm.json`) is the root: a TinyDB file holding the database's settings
(`meta`) and the manifest of its parts. Every table is cut into parts by id (`emails.12`
holds e-mails 12,000 to 12,999), each part a TinyDB file of its own in the folder beside the
root (`crm.tables/`); the lookups over the history (an e-mail by its identity, the e-mails
of a contact) are hashed indexes cut into shards the same way (`idx.emails.identity.3f`). A
run reads the parts it needs and writes the parts it changed, so what it costs follows what
is new, not the history.

A write is all or nothing (ONCE-3), copy on write:
1. each changed part is written to a new file, named with the write's generation, and synced;
2. the root, naming the new files, replaces the old root atomically (temp file, fsync,
   rename, fsync of the folder): a crash before it leaves the old root, which names only old
   files; after it, the new;
3. the files the previous write replaced are removed: a reader that opened the root before
   that write still finds what it names for one more write (but for a write that took records
   out or changed them: its replaced files go at once). Files named by neither the root nor
   its list of replaced files are what a crash left, removed by the next writer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import jsonio
from ..errors import DataError, StorageIOError
from .files import fsync_dir, write_file_atomically

Doc = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Stats:
    """What the manifest keeps of a table's part, so that counts, new ids, the newest e-mails
    and a period are answered without reading the part."""

    count: int
    max_id: int
    newest: tuple[str, int]  # the largest (date or "", id) of its records
    period: tuple[str, str] | None  # the earliest and latest `Email.time()` (ISO, UTC)

    def to_doc(self) -> Doc:
        return {
            "count": self.count,
            "max_id": self.max_id,
            "newest": list(self.newest),
            "period": list(self.period) if self.period else None,
        }

    @classmethod
    def from_doc(cls, doc: Doc) -> Stats:
        period = doc.get("period")
        return cls(
            count=int(doc["count"]),
            max_id=int(doc["max_id"]),
            newest=(str(doc["newest"][0]), int(doc["newest"][1])),
            period=(str(period[0]), str(period[1])) if period else None,
        )


class Manifest:
    """The root's list of parts: for each, its current file and, for a table's part, its
    stats; the generation of the last write; the files that write replaced; which state
    record is which mailbox's."""

    def __init__(self, doc: Doc | None = None):
        doc = doc or {}
        self.generation: int = int(doc.get("generation", 0))
        self.files: dict[str, str] = dict(doc.get("files", {}))
        self.stats: dict[str, Stats] = {name: Stats.from_doc(s) for name, s in doc.get("stats", {}).items()}
        self.replaced: list[str] = list(doc.get("replaced", []))
        self.sources: dict[str, int] = dict(doc.get("sources", {}))  # a mailbox -> its state's id

    def to_doc(self) -> Doc:
        return {
            "generation": self.generation,
            "files": self.files,
            "stats": {name: s.to_doc() for name, s in self.stats.items()},
            "replaced": self.replaced,
            "sources": self.sources,
        }

    def parts_of(self, table: str) -> list[tuple[int, Stats]]:
        """A table's parts, by number."""
        prefix = table + "."
        return sorted((int(name[len(prefix) :]), s) for name, s in self.stats.items() if name.startswith(prefix))


def folder_of(db: Path) -> Path:
    return db.with_name(db.stem + ".tables")


class Parts:
    """The parts of the database `db`, read when asked for and written by `commit`."""

    def __init__(self, db: Path, manifest: Manifest):
        self.db = db
        self.folder = folder_of(db)
        self.manifest = manifest

    def load(self, name: str) -> Doc:
        """A part's contents ({} for a part not written yet)."""
        file = self.manifest.files.get(name)
        if file is None:
            return {}
        path = self.folder / file
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise StorageIOError(f"the database {self.db} changed while this command read it; run it again") from None
        except OSError as exc:
            raise StorageIOError(f"cannot read {path}: {exc.strerror}") from None
        try:
            data = jsonio.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise DataError(
                f"the database {self.db} has a corrupt part {path} ({exc}); it was left untouched"
            ) from None
        if not isinstance(data, dict):
            raise DataError(f"the database {self.db} has a part that is not one ({path}); it was left untouched")
        return data

    def write(self, parts: Mapping[str, Doc], working: Manifest) -> Manifest:
        """Step 1: the changed parts in new files, synced; the manifest that names them, with
        the stats and mailboxes of `working` (not yet in the root: the caller writes it there,
        in step 2)."""
        old = self.manifest
        new = Manifest(working.to_doc())
        new.generation, new.files, new.replaced = old.generation + 1, dict(old.files), []
        made: list[str] = []
        try:
            if parts:
                self.folder.mkdir(mode=0o700, exist_ok=True)
            for name, data in parts.items():
                file = f"{name}.{new.generation}.json"
                if name in old.files:
                    new.replaced.append(old.files[name])
                if data:
                    write_file_atomically(self.folder / file, jsonio.dumps(data), sync_dir=False)
                    made.append(file)
                    new.files[name] = file
                else:  # an empty part needs no file
                    new.files.pop(name, None)
            if parts:
                fsync_dir(self.folder)
        except BaseException:  # no root names them: they go (else the next writer's sweep)
            self.remove(made)
            raise
        return new

    def written(self, new: Manifest, *, at_once: bool = False) -> None:
        """Step 3, after the root names `new`: the files the write before replaced go, and
        `at_once`, those this one replaced too (a write that took something out: LIFE-3
        leaves no copy of an erased record behind)."""
        self.remove(self.manifest.replaced)
        if at_once:
            self.remove(new.replaced)
            new.replaced = []
        self.manifest = new

    def remove(self, files: Iterable[str]) -> None:
        for file in files:
            try:
                (self.folder / file).unlink(missing_ok=True)
            except OSError:
                pass  # left for the next writer's sweep

    def sweep(self) -> None:
        """Remove what a crash left: files named neither by the root nor as just replaced."""
        try:
            present = [p.name for p in self.folder.iterdir()]
        except OSError:
            return
        known = {*self.manifest.files.values(), *self.manifest.replaced}
        self.remove(name for name in present if name not in known and not name.startswith("."))


def part_name(table: str, number: int) -> str:
    return f"{table}.{number}"


def write_root(db: Path, meta: Doc, manifest: Manifest) -> None:
    """Step 2: the root file, atomically: a TinyDB file of the `meta` table and the manifest."""
    write_file_atomically(db, jsonio.dumps({"meta": {"1": meta}, "parts": {"1": manifest.to_doc()}}))
