"""The command line: Click commands that parse options and call the core. The only module
that imports click. Every fatal error passes through CrmlogGroup.invoke, once."""
from __future__ import annotations

import io
import sys
import traceback
from datetime import datetime, timezone
from pathlib import Path

import click

from . import config, render, views
from .errors import CrmlogError, MailboxError, UsageError
from .ingest import BATCH_SIZE, Batch, ingest as run_ingest
from .model import Code, normalize_email, normalize_login
from .store import Store

EX_SOFTWARE = 70


class CrmlogGroup(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except CrmlogError as exc:
            if ctx.find_root().params.get("debug"):
                render.stderr_text(traceback.format_exc())
            render.error(exc.message)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:  # Click's words quote what was typed: a file name from a mail, say
            words = io.StringIO()
            exc.show(file=words)
            render.stderr_text(words.getvalue())
            sys.exit(exc.exit_code)
        except (click.exceptions.Exit, click.Abort, SystemExit, BrokenPipeError):
            raise  # Click ends a run whose reader closed the pipe quietly, with status 1
        except Exception as exc:  # a bug: one line and EX_SOFTWARE, the traceback with --debug
            if ctx.find_root().params.get("debug"):
                render.stderr_text(traceback.format_exc())
            render.error(f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)")
            sys.exit(EX_SOFTWARE)


class Env:
    def __init__(self, config_path: str | None, db_path: str | None):
        self.config_path = Path(config_path).expanduser() if config_path else config.default_config_path()
        self.db_path = Path(db_path).expanduser() if db_path else config.default_db_path()

    def settings(self):
        return config.load(self.config_path)

    def reader(self) -> Store:
        """The database of a view; one that does not exist is NoDatabase (66)."""
        return Store.reader(self.db_path)

    def writer(self, *, create: bool = True) -> Store:
        """The database of an edit, under the lock; `create=False` where the records edited
        can only exist in an existing database."""
        return Store.writer(self.db_path, create=create)


pass_env = click.make_pass_decorator(Env)
json_option = click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _address(value: str, what: str = "address") -> str:
    email = normalize_email(value)
    if not email:
        raise UsageError(f"{value!r} is not an e-mail {what}")
    return email


def _when(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        raise UsageError(f"{option}: {value!r} is not an ISO 8601 date or date-time") from None
    return (dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt).astimezone(timezone.utc)


def _show(rows, as_json: bool, title: str, columns) -> None:
    if as_json:
        render.emit_json(rows)
    else:
        render.table(title, rows, columns)


@click.group(cls=CrmlogGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", envvar="CRMLOG_CONFIG", type=click.Path(dir_okay=False), help="TOML configuration file.")
@click.option("--db", "db_path", envvar="CRMLOG_DB", type=click.Path(dir_okay=False), help="The TinyDB JSON database.")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.version_option(package_name="crmlog")
@click.pass_context
def main(ctx: click.Context, config_path, db_path, debug):
    """Log BCC'd and forwarded sales e-mail from your own mailboxes into a local CRM."""
    ctx.obj = Env(config_path, db_path)


# ------------------------------------------------------------------ init


@main.command()
@click.option("--bcc", multiple=True, required=True, help="A BCC logging address (repeatable).")
@click.option("--forward", multiple=True, help="A forwarding address (repeatable).")
@click.option("--force", is_flag=True, help="Overwrite an existing configuration.")
@pass_env
def init(env: Env, bcc, forward, force):
    """Write a configuration file (readable by its owner only)."""
    config.write_initial(env.config_path, tuple(bcc), tuple(forward), force=force)
    render.text(f"wrote {env.config_path}")


# ------------------------------------------------------------------ users and team inboxes


@main.group()
def users():
    """The sales team."""


@users.command("add")
@click.argument("email")
@click.option("--name", default="")
@click.option("--inbox", multiple=True, help="A connected personal inbox (repeatable, in order).")
@click.option("--alias", multiple=True, help="An alias address (repeatable).")
@click.option("--login", multiple=True, help="A SASL login of this user (repeatable).")
@click.option("--seat", type=click.Choice(["full", "read-only"]), default="full", show_default=True)
@click.option("--no-inbox-permission", is_flag=True, help="Withhold personal_inbox_access.")
@pass_env
def users_add(env: Env, email, name, inbox, alias, login, seat, no_inbox_permission):
    """Add a user."""
    with env.writer() as store:
        uid = store.add_user(
            email=_address(email),
            name=name,
            inboxes=list(dict.fromkeys(_address(a) for a in inbox)),
            aliases=list(dict.fromkeys(_address(a) for a in alias)),
            logins=[normalize_login(x) for x in login if normalize_login(x)],
            seat=seat,
            permission=not no_inbox_permission,
            now=_now(),
        )
        store.commit()
    render.text(f"added user {uid}: {_address(email)}")


@users.command("list")
@json_option
@pass_env
def users_list(env: Env, as_json):
    """List users."""
    _show(views.users(env.reader()), as_json, "Users", ["id", "email", "name", "inboxes", "aliases", "logins", "seat", "personal_inbox_access"])


@main.group("team-inboxes")
def team_inboxes():
    """Shared inboxes connected by a user."""


@team_inboxes.command("add")
@click.argument("address")
@click.option("--connected-by", required=True, help="The e-mail of the user who connected it.")
@pass_env
def team_inboxes_add(env: Env, address, connected_by):
    """Connect a team inbox."""
    with env.writer(create=False) as store:
        store.add_team_inbox(address=_address(address), connected_by=_address(connected_by), now=_now())
        store.commit()
    render.text(f"added team inbox {_address(address)}")


@team_inboxes.command("list")
@json_option
@pass_env
def team_inboxes_list(env: Env, as_json):
    """List team inboxes."""
    _show(views.team_inboxes(env.reader()), as_json, "Team inboxes", ["address", "connected_by", "connected_at"])


# ------------------------------------------------------------------ deals and companies


@main.group()
def deals():
    """Deals."""


@deals.command("add")
@click.argument("name")
@click.option("--contact", "contacts", multiple=True, required=True, help="A contact's e-mail (repeatable).")
@click.option("--stage", type=click.Choice(["open", "won", "lost"]), default="open", show_default=True)
@click.option("--created", help="Creation time, ISO 8601 (default: now).")
@pass_env
def deals_add(env: Env, name, contacts, stage, created):
    """Add a deal."""
    with env.writer(create=False) as store:
        deal_id = store.add_deal(
            name=name,
            contacts=list(dict.fromkeys(_address(c) for c in contacts)),
            stage=stage,
            created=_when(created, "--created") or _now(),
        )
        store.commit()
    render.text(f"added deal {deal_id}: {name}")


@deals.command("list")
@json_option
@pass_env
def deals_list(env: Env, as_json):
    """List deals."""
    _show(views.deals(env.reader()), as_json, "Deals", ["id", "name", "stage", "created", "contacts"])


@deals.command("close")
@click.argument("deal_id", type=int)
@click.option("--won", is_flag=True, help="The deal was won.")
@click.option("--lost", is_flag=True, help="The deal was lost.")
@pass_env
def deals_close(env: Env, deal_id, won, lost):
    """Close a deal as won or lost."""
    if won == lost:
        raise click.UsageError("--won and --lost contradict each other: say one" if won else "say --won or --lost")
    stage = "won" if won else "lost"
    with env.writer(create=False) as store:
        store.close_deal(deal_id, stage)
        store.commit()
    render.text(f"deal {deal_id} {stage}")


@main.group()
def companies():
    """Companies."""


@companies.command("list")
@json_option
@pass_env
def companies_list(env: Env, as_json):
    """List companies."""
    _show(views.companies(env.reader()), as_json, "Companies", ["domain", "name", "contacts", "emails"])


@companies.command("show")
@click.argument("domain")
@json_option
@pass_env
def companies_show(env: Env, domain, as_json):
    """Show a company, its contacts and e-mails."""
    row = views.company(env.reader(), domain)
    if as_json:
        render.emit_json(row)
    else:
        render.record(f"Company {row['domain']}", row, skip=("emails",))
        render.table("E-mails", row["emails"], ["id", "date", "subject", "path", "user"])


# ------------------------------------------------------------------ ingest


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(readable=False))  # 66, not 2 (cli.md)
@click.option("--format", "fmt", type=click.Choice(["auto", "maildir", "mbox"]), default="auto", show_default=True)
@click.option("--user", "login", default="", help="The login of the mailbox's owner (SESSION).")
@click.option("--dry-run", is_flag=True, help="Decide everything, write nothing.")
@click.option("--reprocess", is_flag=True, help="Read again messages decided on before.")
@click.option("--lock-timeout", type=float, default=60.0, show_default=True, help="Seconds to wait for another run.")
@click.option(
    "--batch-size", type=click.IntRange(min=1), default=BATCH_SIZE, show_default=True,
    help="Parsed messages per atomic write (a crash redoes at most this many).",
)
@json_option
@click.option("--quiet", is_flag=True, help="Print nothing but errors (for cron).")
@pass_env
def ingest(env: Env, paths, fmt, login, dry_run, reprocess, lock_timeout, batch_size, as_json, quiet):
    """Log the messages of Maildirs or mbox files addressed to a logging address."""
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
        render.emit_json(summary.as_json())
    elif not quiet:
        data = summary.as_json()
        rejections = data.pop("rejections")
        del data["mailbox_errors"]  # on stderr, below
        title = "Ingest (dry run: nothing written)" if dry_run else "Ingest"
        render.record(title, {**data, **{f"rejected {k}": v for k, v in rejections.items()}})
    if summary.mailbox_errors:  # the others were ingested; the bad ones are named last (cli.md)
        for problem in summary.mailbox_errors:
            render.error(problem)
        sys.exit(MailboxError.exit_code)


# ------------------------------------------------------------------ contacts and e-mails


@main.group()
def contacts():
    """Contacts."""


CONTACT_COLUMNS = ["email", "name", "company", "source", "emails"]


@contacts.command("list")
@json_option
@pass_env
def contacts_list(env: Env, as_json):
    """List contacts."""
    _show(views.contacts(env.reader()), as_json, "Contacts", CONTACT_COLUMNS)


@contacts.command("show")
@click.argument("email", required=False)
@json_option
@pass_env
def contacts_show(env: Env, email, as_json):
    """Show a contact with its deals and logged e-mails (every contact without EMAIL)."""
    store = env.reader()
    if email is None:
        _show(views.contacts(store), as_json, "Contacts", CONTACT_COLUMNS)
        return
    row = views.contact(store, email)
    if as_json:
        render.emit_json(row)
    else:
        render.record(f"Contact {row['email']}", row, skip=("emails", "deals"))
        render.table("Deals", row["deals"], ["id", "name", "stage"])
        render.table("E-mails", row["emails"], ["id", "date", "subject", "path", "user"])


@main.group()
def emails():
    """Logged e-mails."""


@emails.command("list")
@json_option
@click.option("--limit", type=click.IntRange(min=0), help="Show the newest N (0: all). Default: all with --json, else 200.")
@pass_env
def emails_list(env: Env, as_json, limit):
    """List logged e-mails, newest first."""
    if limit is None:
        limit = 0 if as_json else 200
    rows, total = views.emails(env.reader(), limit or None)
    title = "E-mails" if len(rows) == total else f"E-mails, the newest of {total:,} (--limit 0 shows all)"
    _show(rows, as_json, title, ["id", "date", "subject", "from", "user", "path", "contacts"])


@emails.command("show")
@click.argument("id_or_message_id")
@json_option
@click.option("--save-attachments", "save_dir", type=click.Path(file_okay=False), help="Write the stored attachments into DIR.")
@pass_env
def emails_show(env: Env, id_or_message_id, as_json, save_dir):
    """Show one logged e-mail (by id or Message-ID)."""
    store = env.reader()
    row = views.email_detail(store, id_or_message_id)
    saved = store.save_attachments(row["attachments"], Path(save_dir)) if save_dir else []
    if as_json:
        render.emit_json({**row, "saved": [str(p) for p in saved]} if save_dir else row)
        return
    render.record(f"E-mail {row['id']}", row, skip=("text", "html", "attachments", "forward"))
    forward = row["forward"]
    if forward:
        render.record("Forwarded", forward, skip=("note",))
    render.table("Attachments", row["attachments"], ["filename", "content_type", "size", "sha256", "stored"])
    if save_dir:
        render.table("Saved", [{"path": str(p)} for p in saved], ["path"])
    if forward and forward.get("note"):  # running text last: whatever lines it holds, no section follows it
        render.body("Forward note", forward["note"])
    render.body("Body", row["text"] or row["html"])


# ------------------------------------------------------------------ forward diagnostics


@main.group("forwards")
def forwards_group():
    """See what the forward path reads in a forwarded message."""


@forwards_group.command("parse")
@click.argument("file", type=click.File("rb"), default="-", required=False)
@json_option
def forwards_parse(file, as_json):
    """Find the forwarded message in FILE (a raw message; - or nothing: stdin) as the forward
    path would, and say what it found or why it would not log it. Needs no database."""
    from . import forwards  # its pattern tables load only for this command and the forward path

    row = views.forward_report(forwards.inspect_raw(file.read()))
    if as_json:
        render.emit_json(row)
        return
    title = "Forward recognised" if row["status"] == "ok" else "Forward not logged"
    render.record(title, row, skip=("body", "note"))
    if row["note"]:
        render.body("Note", row["note"])
    if row["body"]:
        render.body("Body", row["body"])


# ------------------------------------------------------------------ what was not logged


@main.command()
@click.option("--code", type=click.Choice([str(c) for c in Code]), help="Only this rejection code.")
@json_option
@pass_env
def rejections(env: Env, code, as_json):
    """Messages addressed to a logging address and not logged, with the reason."""
    _show(views.rejections(env.reader(), code), as_json, "Rejections", ["date", "code", "sender", "message_id", "reason"])


@main.command()
@json_option
@pass_env
def notices(env: Env, as_json):
    """Notices for users (delivery errors of attachments over the limit)."""
    _show(views.notices(env.reader()), as_json, "Notices", ["date", "kind", "user", "message_id", "detail"])


# ------------------------------------------------------------------ attribution


@main.group(invoke_without_command=True)
@click.option("--since", help="Only e-mails dated at or after (ISO 8601).")
@click.option("--until", help="Only e-mails dated before (ISO 8601).")
@json_option
@click.pass_context
def attribution(ctx: click.Context, since, until, as_json):
    """Logged e-mails per user and the rule that attributed them."""
    if ctx.invoked_subcommand is not None:
        return
    env = ctx.ensure_object(Env)
    period = _when(since, "--since"), _when(until, "--until")  # a usage error before the database
    rows = views.attribution(env.reader(), *period)
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
def attribution_explain(env: Env, message_id, as_json):
    """Why an e-mail was attributed to its user."""
    row = views.explain(env.reader(), message_id)
    if as_json:
        render.emit_json(row)
    else:
        render.record(f"Attribution of {row['message_id']}", row)


if __name__ == "__main__":  # pragma: no cover
    main()
