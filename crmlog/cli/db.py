"""The store itself: copying the whole CRM into another store (`db migrate`)."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import UsageError
from ..show import render
from ..store import migrate as migrating
from ..store.open import is_url
from .base import Env, json_option, pass_env, utc_now

NOUNS = {  # table -> (one, several), for the summary line
    "users": ("user", "users"),
    "team_inboxes": ("team inbox", "team inboxes"),
    "contacts": ("contact", "contacts"),
    "companies": ("company", "companies"),
    "deals": ("deal", "deals"),
    "emails": ("e-mail", "e-mails"),
    "rejections": ("rejection", "rejections"),
    "notices": ("notice", "notices"),
    "runs": ("run", "runs"),
    "forgotten": ("forgotten address", "forgotten addresses"),
    "deleted": ("deleted e-mail", "deleted e-mails"),
    "sources": ("mailbox state", "mailbox states"),
    "bodies": ("body", "bodies"),
    "attachments": ("attachment", "attachments"),
    "listing_rows": ("run listing row", "run listing rows"),
}


@click.group()
def db() -> None:
    """The store that keeps the CRM."""


@db.command("migrate")
@click.option("--to", "to", metavar="URL_OR_PATH", help="Copy the current --db into this empty store.")
@click.option("--from", "from_", metavar="URL_OR_PATH", help="Copy this store into the current --db, which is empty.")
@json_option
@pass_env
def db_migrate(env: Env, to: str | None, from_: str | None, as_json: bool) -> None:
    """Copy the whole CRM into an empty store: JSON file to PostgreSQL, or back.

    Exactly one of --to and --from. A store is a path (the embedded JSON
    store) or a postgresql:// URL. Copied: every record under its own id
    (users, team inboxes, contacts, companies, deals, e-mails, rejections,
    notices, runs with their undo journals and listings, deleted e-mails and
    forgotten addresses), e-mail bodies, attachments, the mailboxes' states
    (so the next ingest logs nothing twice; on PostgreSQL, the states of this
    host), and the settings that keep forgotten addresses forgotten. A full
    export of both sides is identical afterwards, and `runs undo` works on
    the copy.

    The source is only read; stop ingest runs into it while it is copied. A
    target that holds any record or mailbox state is refused (exit 1) with
    nothing written. The copy goes in batches of 1,000 records, each written
    whole; a copy that stops midway says so and leaves the target partial:
    remove or empty it, then run again.
    """
    if (to is None) == (from_ is None):
        raise UsageError("give exactly one of --to URL_OR_PATH and --from URL_OR_PATH")
    other = _store(to if to is not None else from_ or "")
    source, target = (env.db_path, other) if to is not None else (other, env.db_path)
    copied = migrating.migrate(source, target, now=utc_now())
    counts = copied.counts()
    if as_json:
        render.emit_json({**counts, "seconds": copied.seconds})
        return
    parts = ", ".join(f"{n:,} {NOUNS[key][n != 1]}" for key, n in counts.items() if n and key in NOUNS)
    render.text(f"copied {parts or 'an empty CRM'} into {migrating.named(target)} in {copied.seconds:.2f} s")
    if copied.missing_attachments:
        render.warn(f"{copied.missing_attachments:,} attachment(s) marked stored were missing from the source")


def _store(value: str) -> Path | str:
    if not value.strip():
        raise UsageError("a store is a path or a postgresql:// URL")
    return value if is_url(value) else Path(value).expanduser()
