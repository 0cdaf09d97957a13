"""The command line: Click commands that parse options and call the core. The only package
that imports click; each module holds one group of commands, this one the root."""

from __future__ import annotations

import click

from . import ingest, records, reports, setup
from .base import CrmlogGroup, Env


@click.group(cls=CrmlogGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config", "config_path", envvar="CRMLOG_CONFIG", type=click.Path(dir_okay=False), help="TOML configuration file."
)
@click.option("--db", "db_path", envvar="CRMLOG_DB", type=click.Path(dir_okay=False), help="The TinyDB JSON database.")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.version_option(package_name="crmlog")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, db_path: str | None, debug: bool) -> None:
    """Log BCC'd and forwarded sales e-mail from your own mailboxes into a local CRM."""
    ctx.obj = Env(config_path, db_path)


for command in (
    setup.init,
    setup.users,
    setup.team_inboxes,
    records.deals,
    records.companies,
    records.contacts,
    records.emails,
    ingest.ingest,
    reports.forwards_group,
    reports.rejections,
    reports.notices,
    reports.attribution,
):
    main.add_command(command)
