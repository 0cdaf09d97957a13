"""Setting up: the configuration file, the sales team and its team inboxes."""

from __future__ import annotations

import click

from .. import config
from ..model import normalize_login
from ..records import TeamInbox, User
from ..show import render, views
from .base import Env, email_address, json_option, listing, pass_env, utc_now


@click.command()
@click.option("--bcc", multiple=True, required=True, help="A BCC logging address (repeatable).")
@click.option("--forward", multiple=True, help="A forwarding address (repeatable).")
@click.option("--force", is_flag=True, help="Overwrite an existing configuration.")
@pass_env
def init(env: Env, bcc: tuple[str, ...], forward: tuple[str, ...], force: bool) -> None:
    """Write a configuration file (readable by its owner only)."""
    config.write_initial(env.config_path, tuple(bcc), tuple(forward), force=force)
    render.text(f"wrote {env.config_path}")


@click.group()
def users() -> None:
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
def users_add(
    env: Env,
    email: str,
    name: str,
    inbox: tuple[str, ...],
    alias: tuple[str, ...],
    login: tuple[str, ...],
    seat: str,
    no_inbox_permission: bool,
) -> None:
    """Add a user."""
    with env.writer() as store:
        store.add_user(
            email=email_address(email),
            name=name,
            inboxes=list(dict.fromkeys(email_address(a) for a in inbox)),
            aliases=list(dict.fromkeys(email_address(a) for a in alias)),
            logins=[normalize_login(x) for x in login if normalize_login(x)],
            seat=seat,
            permission=not no_inbox_permission,
            now=utc_now(),
        )
        (uid,) = store.commit()
    render.text(f"added user {uid}: {email_address(email)}")


@users.command("list")
@json_option
@pass_env
def users_list(env: Env, as_json: bool) -> None:
    """List users."""
    listing(
        [views.user(u) for u in env.reader().read(User)],
        as_json,
        "Users",
        ["id", "email", "name", "inboxes", "aliases", "logins", "seat", "personal_inbox_access"],
    )


@click.group("team-inboxes")
def team_inboxes() -> None:
    """Shared inboxes connected by a user."""


@team_inboxes.command("add")
@click.argument("address")
@click.option("--connected-by", required=True, help="The e-mail of the user who connected it.")
@pass_env
def team_inboxes_add(env: Env, address: str, connected_by: str) -> None:
    """Connect a team inbox."""
    with env.writer(create=False) as store:
        store.add_team_inbox(address=email_address(address), connected_by=email_address(connected_by), now=utc_now())
        store.commit()
    render.text(f"added team inbox {email_address(address)}")


@team_inboxes.command("list")
@json_option
@pass_env
def team_inboxes_list(env: Env, as_json: bool) -> None:
    """List team inboxes."""
    listing(
        [views.team_inbox(t) for t in env.reader().read(TeamInbox)],
        as_json,
        "Team inboxes",
        ["address", "connected_by", "connected_at"],
    )
