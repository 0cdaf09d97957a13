"""Setting up: the configuration file, the sales team and its team inboxes."""

from __future__ import annotations

import click

from .. import config
from ..model import normalize_login
from ..records import TeamInbox, User
from ..show import find, render, views
from ..store import Store, edits
from .base import Env, destructive, email_address, json_option, listing, pass_env, utc_now, yes_option


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
        edits.add_user(
            store,
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
        ["id", "email", "name", "inboxes", "aliases", "logins", "seat", "personal_inbox_access", "active"],
    )


@users.command("edit")
@click.argument("email")
@click.option("--name", help="A new name.")
@click.option("--seat", type=click.Choice(["full", "read-only"]))
@click.option("--inbox-permission/--no-inbox-permission", "permission", default=None, help="personal_inbox_access.")
@click.option("--add-inbox", multiple=True, help="Connect a personal inbox, now (repeatable).")
@click.option("--remove-inbox", multiple=True, help="Disconnect a personal inbox (repeatable).")
@click.option("--add-alias", multiple=True, help="An alias address (repeatable).")
@click.option("--remove-alias", multiple=True, help="Remove an alias (repeatable).")
@click.option("--add-login", multiple=True, help="A SASL login (repeatable).")
@click.option("--remove-login", multiple=True, help="Remove a login (repeatable).")
@pass_env
def users_edit(
    env: Env,
    email: str,
    name: str | None,
    seat: str | None,
    permission: bool | None,
    add_inbox: tuple[str, ...],
    remove_inbox: tuple[str, ...],
    add_alias: tuple[str, ...],
    remove_alias: tuple[str, ...],
    add_login: tuple[str, ...],
    remove_login: tuple[str, ...],
) -> None:
    """Change a user (LIFE-1): applies to messages decided from now on."""
    with env.writer(create=False) as store:
        user = edits.edit_user(
            store,
            find.user(store, email),
            name=name,
            seat=seat,
            permission=permission,
            add_inboxes=[email_address(a) for a in add_inbox],
            remove_inboxes=[email_address(a) for a in remove_inbox],
            add_aliases=[email_address(a) for a in add_alias],
            remove_aliases=[email_address(a) for a in remove_alias],
            add_logins=[normalize_login(x) for x in add_login if normalize_login(x)],
            remove_logins=[normalize_login(x) for x in remove_login if normalize_login(x)],
            now=utc_now(),
        )
        store.commit()
    render.text(f"changed user {user.id}: {user.email}")


@users.command("deactivate")
@click.argument("email")
@pass_env
def users_deactivate(env: Env, email: str) -> None:
    """A user who left (LIFE-2): their history stays; their new mail is rejected."""
    set_active(env, email, False, "deactivated user {}: {} (their new mail is rejected user-deactivated)")


@users.command("activate")
@click.argument("email")
@pass_env
def users_activate(env: Env, email: str) -> None:
    """Let a deactivated user log mail again."""
    set_active(env, email, True, "activated user {}: {}")


def set_active(env: Env, email: str, active: bool, said: str) -> None:
    with env.writer(create=False) as store:
        user = edits.set_active(store, find.user(store, email), active)
        store.commit()
    render.text(said.format(user.id, user.email))


@users.command("remove")
@click.argument("email")
@yes_option
@pass_env
def users_remove(env: Env, email: str, yes: bool) -> None:
    """Remove a user added by mistake: only while no e-mail is attributed to them (LIFE-2)."""

    def work(store: Store) -> User:
        user = find.user(store, email)
        edits.remove_user(store, user)
        return user

    user, took = destructive(env, yes, work, lambda user: f"remove the user {user.email}?")
    render.text(f"removed user {user.id}: {user.email} {took}")


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
        edits.add_team_inbox(
            store, address=email_address(address), connected_by=email_address(connected_by), now=utc_now()
        )
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
