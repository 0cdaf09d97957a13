"""What happened and why: forward diagnostics, rejections, notices and attribution."""

from __future__ import annotations

from typing import BinaryIO

import click

from ..model import Code
from ..records import Email, Notice, Rejection, User
from ..show import find, render, views
from .base import Env, iso_time, json_option, listing, pass_env


@click.group("forwards")
def forwards_group() -> None:
    """See what the forward path reads in a forwarded message."""


@forwards_group.command("parse")
@click.argument("file", type=click.File("rb"), default="-", required=False)
@json_option
def forwards_parse(file: BinaryIO, as_json: bool) -> None:
    """Find the forwarded message in FILE (a raw message; - or nothing: stdin) as the forward
    path would, and say what it found or why it would not log it. Needs no database."""
    from ..parse import parse_for_inspection
    from ..rules import forwards

    row = views.forward_report(forwards.inspect(parse_for_inspection(file.read())))
    if as_json:
        render.emit_json(row)
        return
    title = "Forward recognised" if row["status"] == "ok" else "Forward not logged"
    render.record(title, row, skip=("body", "note"))
    if row["note"]:
        render.body("Note", row["note"])
    if row["body"]:
        render.body("Body", row["body"])


@click.command()
@click.option("--code", type=click.Choice([str(c) for c in Code]), help="Only this rejection code.")
@json_option
@pass_env
def rejections(env: Env, code: str | None, as_json: bool) -> None:
    """Messages addressed to a logging address and not logged, with the reason."""
    listing(
        views.rejections(env.reader().read(Rejection, where={"code": code} if code else None)),
        as_json,
        "Rejections",
        ["date", "code", "sender", "message_id", "reason"],
    )


@click.command()
@json_option
@pass_env
def notices(env: Env, as_json: bool) -> None:
    """Notices for users (delivery errors of attachments over the limit)."""
    listing(
        [views.notice(n) for n in env.reader().read(Notice)],
        as_json,
        "Notices",
        ["date", "kind", "user", "message_id", "detail"],
    )


@click.group(invoke_without_command=True)
@click.option("--since", help="Only e-mails dated at or after (ISO 8601).")
@click.option("--until", help="Only e-mails dated before (ISO 8601).")
@json_option
@click.pass_context
def attribution(ctx: click.Context, since: str | None, until: str | None, as_json: bool) -> None:
    """Logged e-mails per user and the rule that attributed them."""
    if ctx.invoked_subcommand is not None:
        return
    env = ctx.ensure_object(Env)
    period = iso_time(since, "--since"), iso_time(until, "--until")  # a usage error before the database
    store = env.reader()
    if period == (None, None):
        credits = store.tally(Email, ("user", "path", "rule"))
    else:
        credits = views.credits(store.read(Email, since=period[0], until=period[1]), *period)
    rows = views.attribution(store.read(User), credits)
    if as_json:
        render.emit_json(rows)
        return
    for r in rows:
        r["rules"] = ", ".join(f"{k}: {v}" for k, v in sorted(r["by_rule"].items()))
    render.table("Attribution", rows, ["user", "logged", "bcc", "forward", "rules"])


@attribution.command("explain")
@click.argument("message_id")
@json_option
@pass_env
def attribution_explain(env: Env, message_id: str, as_json: bool) -> None:
    """Why an e-mail was attributed to its user."""
    store = env.reader()
    email = find.email(store, message_id)
    row = views.explain(email, store.body(email))
    if as_json:
        render.emit_json(row)
    else:
        render.record(f"Attribution of {row['message_id']}", row)
