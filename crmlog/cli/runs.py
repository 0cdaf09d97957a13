"""Ingest runs (LIFE-6): list them, show one message by message, undo the newest."""

from __future__ import annotations

from typing import Any

import click

from ..records import Run
from ..show import find, render
from ..store import Store
from ..store import undo as undoing
from .base import Env, destructive, json_option, listing, pass_env, utc_now, yes_option


@click.group()
def runs() -> None:
    """Ingest runs, and undoing the newest (LIFE-6)."""


def run_row(run: Run) -> dict[str, Any]:
    counts = run.counts
    return {
        "id": run.id,
        "started": run.started,
        "finished": run.finished,
        "paths": list(run.paths),
        "user": run.user,
        "dry_run": False,  # dry runs are not recorded
        "undone": run.undone is not None,
        "undone_at": run.undone,
        **{k: int(counts.get(k, 0)) for k in ("scanned", "logged", "rejected", "skipped", "duplicates")},
        "contacts_created": int(counts.get("contacts_created", 0)),
    }


@runs.command("list")
@json_option
@pass_env
def runs_list(env: Env, as_json: bool) -> None:
    """Recorded ingest runs, newest first (a run that found nothing new is not recorded)."""
    rows = [run_row(r) for r in sorted(env.reader().read(Run), key=lambda r: r.id, reverse=True)]
    listing(rows, as_json, "Runs", ["id", "started", "finished", "user", "undone", "scanned", "logged", "rejected"])


@runs.command("show")
@click.argument("run_id", type=int)
@json_option
@pass_env
def runs_show(env: Env, run_id: int, as_json: bool) -> None:
    """One run, with what it did message by message (as `ingest --list`)."""
    store = env.reader()
    run = find.run(store, run_id)
    messages = [{**m.to_doc(), "change": None, "before": None} for m in undoing.messages(store, run)]
    row = {**run_row(run), "messages": messages}
    if as_json:
        render.emit_json(row)
        return
    render.record(f"Run {run.id}", row, skip=("messages",))
    render.table("Messages", messages, MESSAGE_COLUMNS)


MESSAGE_COLUMNS = ["outcome", "code", "from", "subject", "user", "contacts", "email_id", "reason"]


@runs.command("undo")
@click.argument("run_id", type=int)
@yes_option
@pass_env
def runs_undo(env: Env, run_id: int, yes: bool) -> None:
    """Undo the newest run not undone yet: the CRM as if it never happened, and its messages read
    again by the next run. Older runs are undone after every newer one."""

    def work(store: Store) -> tuple[Run, undoing.Undone]:
        run = find.run(store, run_id)
        return run, undoing.undo(store, run, utc_now())

    (run, undone), took = destructive(
        env, yes, work, lambda done: f"undo run {done[0].id} of {done[0].started} ({describe(done[1])})?"
    )
    render.text(f"undid run {run.id}: {describe(undone)} {took}")


def describe(undone: undoing.Undone) -> str:
    return (
        f"{undone.removed:,} record(s) removed, {undone.restored:,} put back as they were, "
        f"{undone.sources:,} mailbox folder(s) to be read again, {undone.files:,} file(s) removed"
    )
