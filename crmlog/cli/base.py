"""What every command shares: the root group's error handling (every fatal error passes
through CrmlogGroup.invoke, once), the environment (configuration and database paths), and
the option and value helpers."""

from __future__ import annotations

import gc
import importlib
import io
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from .. import config
from ..errors import CrmlogError, UsageError
from ..model import Settings, normalize_email
from ..show import render
from ..store import Store
from ..store.open import is_url

EX_SOFTWARE = 70


class CrmlogGroup(click.Group):
    """The root group: every fatal error passes through its invoke, once; its commands are
    imported when first asked for (`lazy`: name -> (module of crmlog.cli, attribute))."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str]] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module, name = self.lazy[cmd_name]
            command = getattr(importlib.import_module(f"{__package__}.{module}"), name)
            assert isinstance(command, click.Command)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
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
        # a database URL (postgresql://...) is kept as it is, a path made one
        self.db_path: Path | str = (
            db_path if is_url(db_path) else Path(db_path).expanduser() if db_path else config.default_db_path()
        )

    def settings(self) -> Settings:
        return config.load(self.config_path)

    def reader(self) -> Store:
        """The database of a view; one that does not exist is NoDatabase (66). A view makes a
        record and a row of each stored document it shows, up to every e-mail, none of them in
        a reference cycle: the cyclic garbage collector, which would walk them all again and
        again while they are made (half of `emails list --json` on 100,000 e-mails), is paused
        until the command ends. The store is closed then too (a PostgreSQL connection)."""
        store = Store.reader(self.db_path)
        click.get_current_context().call_on_close(store.close)
        if gc.isenabled():
            gc.disable()
            click.get_current_context().call_on_close(gc.enable)
        return store

    def writer(self, *, create: bool = True) -> Store:
        """The database of an edit, under the lock; `create=False` where the records edited
        can only exist in an existing database."""
        return Store.writer(self.db_path, create=create)


pass_env = click.make_pass_decorator(Env)
json_option = click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")


def utc_now() -> datetime:
    return datetime.now(UTC)


def email_address(value: str, what: str = "address") -> str:
    email = normalize_email(value)
    if not email:
        raise UsageError(f"{value!r} is not an e-mail {what}")
    return email


def iso_time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        raise UsageError(f"{option}: {value!r} is not an ISO 8601 date or date-time") from None
    return (dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt).astimezone(UTC)


yes_option = click.option("--yes", is_flag=True, help="Do it without asking (needed when not on a terminal).")


def confirm(question: str) -> None:
    """LIFE-8: a destructive command asks on a terminal, and needs --yes elsewhere (cron, a
    script): nothing is changed otherwise."""
    if not sys.stdin.isatty():
        raise UsageError(
            f"{question.rstrip('?')}: this removes data for good; add --yes to do it (nothing was changed)"
        )
    if not click.confirm(render.shown(question), default=False, err=True):
        render.error("nothing was changed")
        sys.exit(1)


T = TypeVar("T")


def destructive(env: Env, yes: bool, work: Callable[[Store], T], question: Callable[[T], str]) -> tuple[T, str]:
    """LIFE-8: what `work` removes is first worked out on a reader and asked about (on a
    terminal; elsewhere `--yes` is needed), so that no lock is held while the user reads; then
    it is done under the lock (worked out again: a run may have come in between) and written.
    Returns what `work` returned and how long the writing pass took."""
    if not yes:
        confirm(question(work(env.reader())))
    started = time.perf_counter()
    with env.writer(create=False) as store:
        done = work(store)
        store.commit()
    return done, took(started)


def took(started: float) -> str:
    """How long a command's work took, for its last line."""
    return f"in {time.perf_counter() - started:.2f} s"


def listing(rows: Sequence[dict[str, Any]], as_json: bool, title: str, columns: Sequence[str]) -> None:
    if as_json:
        render.emit_json(rows)
    else:
        render.table(title, rows, columns)
