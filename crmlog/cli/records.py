"""The CRM's records: deals, companies, contacts and logged e-mails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..records import Company, Contact, Deal, Email
from ..show import find, render, views
from ..store import Store, edits
from . import corrections
from .base import Env, email_address, iso_time, json_option, listing, pass_env, utc_now


@click.group()
def deals() -> None:
    """Deals."""


@deals.command("add")
@click.argument("name")
@click.option("--contact", "contacts", multiple=True, required=True, help="A contact's e-mail (repeatable).")
@click.option("--stage", type=click.Choice(["open", "won", "lost"]), default="open", show_default=True)
@click.option("--created", help="Creation time, ISO 8601 (default: now).")
@pass_env
def deals_add(env: Env, name: str, contacts: tuple[str, ...], stage: str, created: str | None) -> None:
    """Add a deal."""
    if not name.strip():
        raise click.UsageError("a deal needs a name")
    with env.writer(create=False) as store:
        edits.add_deal(
            store,
            name=name,
            contacts=list(dict.fromkeys(email_address(c) for c in contacts)),
            stage=stage,
            created=iso_time(created, "--created") or utc_now(),
        )
        (deal_id,) = store.commit()
    render.text(f"added deal {deal_id}: {name}")


@deals.command("list")
@json_option
@pass_env
def deals_list(env: Env, as_json: bool) -> None:
    """List deals."""
    listing(
        [views.deal(d) for d in env.reader().read(Deal)],
        as_json,
        "Deals",
        ["id", "name", "stage", "created", "contacts"],
    )


@deals.command("close")
@click.argument("deal_id", type=int)
@click.option("--won", is_flag=True, help="The deal was won.")
@click.option("--lost", is_flag=True, help="The deal was lost.")
@pass_env
def deals_close(env: Env, deal_id: int, won: bool, lost: bool) -> None:
    """Close a deal as won or lost."""
    if won == lost:
        raise click.UsageError("--won and --lost contradict each other: say one" if won else "say --won or --lost")
    stage = "won" if won else "lost"
    with env.writer(create=False) as store:
        edits.edit_deal(store, find.deal(store, deal_id), stage=stage)
        store.commit()
    render.text(f"deal {deal_id} {stage}")


@click.group()
def companies() -> None:
    """Companies."""


@companies.command("list")
@json_option
@pass_env
def companies_list(env: Env, as_json: bool) -> None:
    """List companies."""
    listing(company_rows(env.reader()), as_json, "Companies", ["domain", "name", "contacts", "emails"])


@companies.command("show")
@click.argument("domain")
@json_option
@pass_env
def companies_show(env: Env, domain: str, as_json: bool) -> None:
    """Show a company, its contacts and e-mails."""
    store = env.reader()
    found = find.company(store, domain)
    row = views.company(
        found,
        store.read(Contact, where={"company": found.domain}),
        store.read(Email, where={"companies": found.domain}, newest_first=True),
    )
    if as_json:
        render.emit_json(row)
    else:
        render.record(f"Company {row['domain']}", row, skip=("emails",))
        render.table("E-mails", row["emails"], ["id", "date", "subject", "path", "user"])


@click.group()
def contacts() -> None:
    """Contacts."""


CONTACT_COLUMNS = ["email", "name", "company", "source", "emails"]


@contacts.command("list")
@json_option
@pass_env
def contacts_list(env: Env, as_json: bool) -> None:
    """List contacts."""
    listing(contact_rows(env.reader()), as_json, "Contacts", CONTACT_COLUMNS)


@contacts.command("show")
@click.argument("email", required=False)
@json_option
@pass_env
def contacts_show(env: Env, email: str | None, as_json: bool) -> None:
    """Show a contact with its deals and logged e-mails (every contact without EMAIL)."""
    store = env.reader()
    if email is None:
        listing(contact_rows(store), as_json, "Contacts", CONTACT_COLUMNS)
        return
    found = find.contact(store, email)
    row = views.contact(
        found,
        store.read(Deal, where={"contacts": found.email}),
        store.read(Email, where={"contacts": found.email}, newest_first=True),
    )
    if as_json:
        render.emit_json(row)
    else:
        render.record(f"Contact {row['email']}", row, skip=("emails", "deals"))
        render.table("Deals", row["deals"], ["id", "name", "stage"])
        render.table("E-mails", row["emails"], ["id", "date", "subject", "path", "user"])


@click.group()
def emails() -> None:
    """Logged e-mails."""


@emails.command("list")
@json_option
@click.option(
    "--limit", type=click.IntRange(min=0), help="Show the newest N (0: all). Default: all with --json, else 200."
)
@pass_env
def emails_list(env: Env, as_json: bool, limit: int | None) -> None:
    """List logged e-mails, newest first."""
    if limit is None:
        limit = 0 if as_json else 200
    store = env.reader()
    rows = [views.email_row(e) for e in store.read(Email, newest_first=True, limit=limit or None)]
    total = store.count(Email)
    title = "E-mails" if len(rows) == total else f"E-mails, the newest of {total:,} (--limit 0 shows all)"
    listing(rows, as_json, title, ["id", "date", "subject", "from", "user", "path", "contacts"])


@emails.command("show")
@click.argument("id_or_message_id")
@json_option
@click.option(
    "--save-attachments", "save_dir", type=click.Path(file_okay=False), help="Write the stored attachments into DIR."
)
@pass_env
def emails_show(env: Env, id_or_message_id: str, as_json: bool, save_dir: str | None) -> None:
    """Show one logged e-mail (by id or Message-ID)."""
    store = env.reader()
    email = find.email(store, id_or_message_id)
    row = views.email_detail(email, store.body(email))
    saved = store.save_attachments(email.attachments, Path(save_dir)) if save_dir else []
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


def contact_rows(store: Store) -> list[dict[str, Any]]:
    return views.contacts(store.read(Contact), store.tally(Email, "contacts"))


def company_rows(store: Store) -> list[dict[str, Any]]:
    return views.companies(store.read(Company), store.tally(Contact, "company"), store.tally(Email, "companies"))


for group, commands in (
    (contacts, (corrections.contacts_edit, corrections.contacts_merge, corrections.contacts_forget)),
    (companies, (corrections.companies_edit,)),
    (deals, (corrections.deals_edit, corrections.deals_reopen)),
    (emails, (corrections.emails_delete,)),
):
    for command in commands:  # LIFE-1..5
        group.add_command(command)
