"""Correcting the CRM (LIFE-1, LIFE-3..5, LIFE-8): the edit, merge, forget and delete commands
of the contacts, companies, deals and e-mails groups (records.py holds the groups and their
views, and adds these to them)."""

from __future__ import annotations

import re

import click

from ..errors import InUse, UsageError
from ..records import Contact, Email
from ..show import find, render
from ..store import Store, edits, erase
from ..store.erase import Removed
from .base import Env, destructive, email_address, pass_env, utc_now, yes_option

DOMAIN = re.compile(r"(?:[^\W_](?:[\w-]*[^\W_])?\.)+[^\W\d_]{2,}")  # labels of letters, digits, hyphens


@click.command("edit")
@click.argument("email")
@click.option("--name", help="A new name.")
@click.option("--company", help="The contact's company (a domain; created if missing).")
@click.option("--no-company", is_flag=True, help="The contact has no company.")
@pass_env
def contacts_edit(env: Env, email: str, name: str | None, company: str | None, no_company: bool) -> None:
    """Change a contact's name or company (LIFE-1). E-mails logged before keep theirs."""
    if company is not None and no_company:
        raise UsageError("--company and --no-company contradict each other: say one (nothing was changed)")
    with env.writer(create=False) as store:
        found = find.contact(store, email)
        domain: object = edits.KEEP
        if no_company:
            domain = None
        elif company is not None:
            domain = company.strip().lower()
            if not DOMAIN.fullmatch(domain):
                raise UsageError(f"--company: {company!r} is not a domain (nothing was changed)")
        contact = edits.edit_contact(store, found, name=name, company=domain, now=utc_now())
        store.commit()
    render.text(f"changed contact {contact.email}")


@click.command("merge")
@click.argument("from_email")
@click.argument("into_email")
@yes_option
@pass_env
def contacts_merge(env: Env, from_email: str, into_email: str, yes: bool) -> None:
    """Merge contact FROM_EMAIL into INTO_EMAIL (LIFE-4): its e-mails and deals move, and its
    address logs on INTO_EMAIL from now on."""

    def work(store: Store) -> tuple[Contact, Contact, Removed]:
        source, into = find.contact(store, from_email), find.contact(store, into_email)
        return source, into, erase.merge(store, source, into)

    (source, into, moved), took = destructive(
        env, yes, work, lambda done: f"merge {done[0].email} into {done[1].email} ({describe(done[2])})?"
    )
    render.text(f"merged {source.email} into {into.email}: {describe(moved)} {took}")


@click.command("forget")
@click.argument("email")
@yes_option
@pass_env
def contacts_forget(env: Env, email: str, yes: bool) -> None:
    """Erase a contact for good (LIFE-3, an erasure request): the contact, the e-mails logged on
    it alone with their bodies and attachments, its address in shared e-mails, and every
    rejection and notice that names it. Later mail to it alone is not logged."""
    wanted = email_address(email)

    def work(store: Store) -> tuple[str, Removed]:
        from ..rules.attribution import team_addresses  # the rules load for this command, not for the views

        team = team_addresses(store.users, store.team_inboxes)
        if wanted in team:
            raise InUse(f"{wanted} is an address of the sales team, not a contact's; nothing was forgotten")
        contact = find.contact(store, wanted)
        return ", ".join((contact.email, *contact.aliases)), erase.forget(store, contact, utc_now(), team=team)

    (names, removed), took = destructive(env, yes, work, lambda done: f"forget {done[0]} ({describe(done[1])})?")
    render.text(f"forgot {names}: {describe(removed)} {took}")


@click.command("edit")
@click.argument("domain")
@click.option("--name", help="A new name.")
@pass_env
def companies_edit(env: Env, domain: str, name: str | None) -> None:
    """Change a company's name (LIFE-1)."""
    with env.writer(create=False) as store:
        company = edits.edit_company(store, find.company(store, domain), name=name)
        store.commit()
    render.text(f"changed company {company.domain}")


@click.command("edit")
@click.argument("deal_id", type=int)
@click.option("--name", help="A new name.")
@click.option("--stage", type=click.Choice(["open", "won", "lost"]))
@click.option("--add-contact", multiple=True, help="A contact's e-mail (repeatable).")
@click.option("--remove-contact", multiple=True, help="A contact's e-mail (repeatable).")
@pass_env
def deals_edit(
    env: Env,
    deal_id: int,
    name: str | None,
    stage: str | None,
    add_contact: tuple[str, ...],
    remove_contact: tuple[str, ...],
) -> None:
    """Change a deal (LIFE-1): applies to messages decided from now on."""
    if name is not None and not name.strip():
        raise click.UsageError("--name: a deal needs a name")
    with env.writer(create=False) as store:
        deal = edits.edit_deal(
            store,
            find.deal(store, deal_id),
            name=name,
            stage=stage,
            add_contacts=[email_address(c) for c in add_contact],
            remove_contacts=[email_address(c) for c in remove_contact],
        )
        store.commit()
    render.text(f"changed deal {deal.id}: {deal.name} ({deal.stage})")


@click.command("reopen")
@click.argument("deal_id", type=int)
@pass_env
def deals_reopen(env: Env, deal_id: int) -> None:
    """Open a won or lost deal again."""
    with env.writer(create=False) as store:
        deal = edits.edit_deal(store, find.deal(store, deal_id), stage="open")
        store.commit()
    render.text(f"deal {deal.id} open")


@click.command("delete")
@click.argument("id_or_message_id")
@yes_option
@pass_env
def emails_delete(env: Env, id_or_message_id: str, yes: bool) -> None:
    """Delete a logged e-mail for good (LIFE-5): record, body and attachments. The message stays
    decided: no later run logs it again, --reprocess included."""

    def work(store: Store) -> tuple[Email, Removed]:
        email = find.email(store, id_or_message_id)
        return email, erase.delete_email(store, email, utc_now())

    (email, removed), took = destructive(
        env, yes, work, lambda done: f"delete e-mail {done[0].id} <{done[0].message_id}> {done[0].subject!r}?"
    )
    render.text(f"deleted e-mail {email.id} <{email.message_id}>: {describe(removed)} {took}")


def describe(removed: Removed) -> str:
    parts = [
        (removed.emails, "e-mail(s) removed"),
        (removed.emails_changed, "e-mail(s) changed"),
        (removed.deals, "deal(s) changed"),
        (removed.rejections, "rejection(s) removed"),
        (removed.notices, "notice(s) removed"),
        (removed.runs, "run listing(s) cleaned"),
        (removed.files, "file(s) removed"),
    ]
    return ", ".join(f"{n:,} {what}" for n, what in parts if n) or "nothing else to change"
