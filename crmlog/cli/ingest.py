"""`crmlog ingest`: the cron job, with its progress display and summary."""

from __future__ import annotations

import sys

import click

from ..errors import MailboxError
from ..ingest import BATCH_SIZE, Batch
from ..ingest import ingest as run_ingest
from ..show import render
from ..store import LOCK_TIMEOUT
from .base import Env, json_option, pass_env


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(readable=False))  # 66, not 2 (cli.md)
@click.option("--format", "fmt", type=click.Choice(["auto", "maildir", "mbox"]), default="auto", show_default=True)
@click.option("--user", "login", default="", help="The login of the mailbox's owner (SESSION).")
@click.option("--dry-run", is_flag=True, help="Decide everything, write nothing.")
@click.option(
    "--reprocess",
    is_flag=True,
    help="Decide again messages decided on before (LIFE-1); list every Maildir directory, changed or not.",
)
@click.option("--list", "list_messages", is_flag=True, help="Show what the run does (or would do) message by message.")
@click.option(
    "--lock-timeout", type=float, default=LOCK_TIMEOUT, show_default=True, help="Seconds to wait for another run."
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=BATCH_SIZE,
    show_default=True,
    help="Parsed messages per atomic write (a crash redoes at most this many).",
)
@json_option
@click.option("--quiet", is_flag=True, help="Print nothing but errors (for cron).")
@pass_env
def ingest(
    env: Env,
    paths: tuple[str, ...],
    fmt: str,
    login: str,
    dry_run: bool,
    reprocess: bool,
    list_messages: bool,
    lock_timeout: float,
    batch_size: int,
    as_json: bool,
    quiet: bool,
) -> None:
    """Log the messages of Maildirs or mbox files addressed to a logging address.

    A Maildir folder's new/ or cur/ whose modification time is still the one recorded when a
    run last listed it whole is not listed again; `--json` counts the folders passed over whole
    (both unchanged) as `folders_unchanged`."""
    settings = env.settings()
    with render.progress(not (quiet or as_json), "reading") as shown:
        summary = run_ingest(
            paths,
            settings=settings,
            db_path=env.db_path,
            fmt=fmt,
            session_login=login,
            dry_run=dry_run,
            reprocess=reprocess,
            lock_timeout=lock_timeout,
            batch=Batch(parsed=batch_size),
            progress=shown.message,
            on_folder=shown.folder,
        )
    for problem in summary.problems:
        render.warn(problem)
    if as_json:
        render.emit_json(summary.as_json(listed=list_messages))
    elif not quiet:
        if list_messages:
            columns = ["outcome", "code", "from", "subject", "user", "contacts", "email_id"]
            if reprocess:
                columns += ["change", "before"]
            rows = [{**m, "before": _before(m["before"])} for m in summary.messages]
            render.table("Messages", rows, [*columns, "reason"])
        data = summary.as_json()
        rejections = data.pop("rejections")
        del data["mailbox_errors"]  # on stderr, below
        title = "Ingest (dry run: nothing written)" if dry_run else "Ingest"
        render.record(title, {**data, **{f"rejected {k}": v for k, v in rejections.items()}})
    if summary.mailbox_errors:  # the others were ingested; the bad ones are named last (cli.md)
        for problem in summary.mailbox_errors:
            render.error(problem)
        sys.exit(MailboxError.exit_code)


def _before(before: dict[str, str | None] | None) -> str:
    if not before:
        return ""
    return " ".join(str(v) for v in (before["outcome"], before["code"], before["user"]) if v)
