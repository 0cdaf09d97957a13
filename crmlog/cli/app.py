"""The command line: Click commands that parse options and call the core. The only package
that imports click; each module holds one group of commands, this one the root. A command's
module is imported when the command is run (or listed by --help), so that a view does not
load the ingest pipeline, nor `ingest` the views."""

from __future__ import annotations

import click

from .base import CrmlogGroup, Env

COMMANDS = {  # name -> module of this package, and the command's name in it
    "init": ("setup", "init"),
    "users": ("setup", "users"),
    "team-inboxes": ("setup", "team_inboxes"),
    "deals": ("records", "deals"),
    "companies": ("records", "companies"),
    "contacts": ("records", "contacts"),
    "emails": ("records", "emails"),
    "ingest": ("ingest", "ingest"),
    "forwards": ("reports", "forwards_group"),
    "rejections": ("reports", "rejections"),
    "notices": ("reports", "notices"),
    "attribution": ("reports", "attribution"),
    "runs": ("runs", "runs"),
    "export": ("export", "export"),
    "db": ("db", "db"),
}


@click.group(cls=CrmlogGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config", "config_path", envvar="CRMLOG_CONFIG", type=click.Path(dir_okay=False), help="TOML configuration file."
)
@click.option(
    "--db",
    "db_path",
    envvar="CRMLOG_DB",
    type=click.Path(dir_okay=False),
    help="The CRM: the root file of the embedded store, or a postgresql:// URL.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.version_option(package_name="crmlog")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, db_path: str | None, debug: bool) -> None:
    """Log BCC'd and forwarded sales e-mail from your own mailboxes into a local CRM."""
    ctx.obj = Env(config_path, db_path)
