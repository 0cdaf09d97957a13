"""A run's undo journal (LIFE-6), kept in its `runs` document and written in the same atomic
write as each batch it accounts for: pure functions over stored documents, for any engine.

    {"added": {table: [id or [first, last], ...]}, records the run added
     "changed": [[table, id, document], ...],     records it replaced or removed, as before
     "sources": {source: delta},                  mailbox states it moved on
     "files": [name, ...]}                        body packs and attachment files it wrote

A source's delta is {"new": true} (no state before the run), {"doc": <state before>} for an
mbox (or a path that changed its kind), or for a Maildir folder the keys the run added and
dropped, so that a cron run into a large folder journals what it did, not the folder; and,
when the run recorded other mtimes of its directories, those before the run ("mtimes": null
when it had none), which undo puts back: else the next run would pass over a directory
unchanged since the undone run listed it, and never read its messages, undecided again, anew
(read/directory_times.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from ..records import Doc
from .engine import Changes, RunProgress


def empty() -> Doc:
    return {"added": {}, "changed": [], "sources": {}, "files": []}


def for_batch(
    run: Doc | None,
    changes: Changes,
    document: Callable[[str, int], Doc | None],
    source_state: Callable[[str], Doc | None],
) -> Doc:
    """The undo journal of the run a batch belongs to (from its stored document `run`, which
    is left as it is), with what the batch is about to replace, remove and move on noted as
    the engine (`document`, `source_state`) has it now; the files the batch wrote."""
    assert changes.run is not None
    undo: Doc = dict(run["undo"]) if run and run.get("undo") else empty()
    undo["changed"] = list(undo["changed"])
    undo["added"] = {t: [e[:] if isinstance(e, list) else e for e in v] for t, v in undo["added"].items()}
    undo["sources"] = dict(undo["sources"])
    note_before(
        undo,
        [
            *((table, doc_id, document(table, doc_id)) for table, doc_id in changes.removed),
            *((r.TABLE, r.id, document(r.TABLE, r.id)) for r in changes.replaced),
        ],
    )
    for doc in changes.sources:
        note_source(undo, source_state(doc["source"]), doc)
    undo["files"] = [*undo["files"], *changes.run.files]
    return undo


def run_document(run: Doc | None, progress: RunProgress, undo: Doc) -> Doc:
    """A run's stored document after a batch: its fields as the batch left them, its journal."""
    return {**(run or {}), **progress.fields, "undo": undo}


def note_before(journal: Doc, records: Iterable[tuple[str, int, Doc | None]]) -> None:
    """Records about to be replaced or removed: each one's document as before the run, once,
    and not for a record the run added itself (undo removes that one)."""
    noted = {(t, i) for t, i, _ in journal["changed"]}
    own: dict[str, set[int]] = {}
    for table, id, before in records:
        if before is None or (table, id) in noted:
            continue
        if table not in own:
            own[table] = set(added(journal, table))
        if id in own[table]:
            continue
        journal["changed"].append([table, id, before])
        noted.add((table, id))


def note_added(journal: Doc, table: str, ids: Iterable[int]) -> None:
    """Ids the run added, a run of consecutive ones kept as [first, last]: the journal of an
    import of 100,000 e-mails is a few pairs, not 100,000 ids (a cron run's part of runs holds
    it, and is written by every run that shares the part)."""
    noted = journal["added"].setdefault(table, [])
    for id in ids:
        last = noted[-1] if noted else None
        if isinstance(last, list) and last[1] + 1 == id:
            last[1] = id
        elif isinstance(last, int) and last + 1 == id:
            noted[-1] = [last, id]
        else:
            noted.append(id)


def added(journal: Doc, table: str) -> Iterator[int]:
    """The ids of `table` the run added (as note_added keeps them: ids and [first, last])."""
    for entry in journal["added"].get(table, ()):
        if isinstance(entry, list):
            yield from range(entry[0], entry[1] + 1)
        else:
            yield entry


def note_source(journal: Doc, before: Doc | None, after: Doc) -> None:
    """A mailbox state about to be written as `after`."""
    source = after["source"]
    delta = journal["sources"].get(source)
    if before is None:
        journal["sources"].setdefault(source, {"new": True})
        return
    if delta is not None and ("new" in delta or "doc" in delta):
        return
    if before["kind"] != "maildir" or after["kind"] != "maildir":
        if delta is None:
            journal["sources"][source] = {"doc": before}
        return
    delta = delta or {"added": [], "dropped": []}
    if "mtimes" not in delta and before.get("mtimes") != after.get("mtimes"):  # the first batch to move them
        delta = {**delta, "mtimes": dict(before["mtimes"]) if "mtimes" in before else None}
    old_keys, new_keys = before.get("keys", []), after.get("keys", [])
    if len(new_keys) >= len(old_keys) and new_keys[: len(old_keys)] == old_keys:
        # a batch of a run: keys added after those decided before (no set of the whole folder)
        journal["sources"][source] = {**delta, "added": [*delta["added"], *new_keys[len(old_keys) :]]}
        return
    old, new = set(old_keys), set(new_keys)
    added, dropped = set(delta["added"]), set(delta["dropped"])
    added |= new - old
    gone = old - new
    dropped |= gone - added
    added -= gone
    journal["sources"][source] = {**delta, "added": sorted(added), "dropped": sorted(dropped)}


def undone_source(delta: Doc, current: Doc | None) -> Doc | None:
    """A mailbox state as it was before the run; None: it had none."""
    if "new" in delta:
        return None
    if "doc" in delta:
        return dict(delta["doc"])
    if current is None:
        current = {"kind": "maildir", "keys": []}
    added = set(delta["added"])
    keys = [k for k in current.get("keys", ()) if k not in added] + list(delta["dropped"])
    state = {**current, "keys": keys}
    if "mtimes" in delta:  # (else the run recorded none)
        state.pop("mtimes", None)
        if delta["mtimes"] is not None:
            state["mtimes"] = dict(delta["mtimes"])
    return state
