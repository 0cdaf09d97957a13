"""Records to the rows the commands show: plain dicts, the `--json` shapes of cli.md. Pure:
each view takes the records it shows (and the counts it reports), never the store."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from ..model import Forwarded, Rejected
from ..records import Company, Contact, Deal, Email, EmailBody, Notice, Rejection, TeamInbox, User

Row = dict[str, Any]


def email_summary(e: Email) -> Row:
    return {
        "id": e.id,
        "message_id": e.message_id,
        "subject": e.subject,
        "date": e.date,
        "path": e.path,
        "user": e.user,
    }


def user(u: User) -> Row:
    return {
        "id": u.id,
        "email": u.email,
        "name": u.name,
        "inboxes": [a for a, _ in u.inboxes],
        "aliases": list(u.aliases),
        "logins": list(u.logins),
        "seat": str(u.seat),
        "personal_inbox_access": u.personal_inbox_access,
        "active": u.active,
    }


def team_inbox(t: TeamInbox) -> Row:
    return {"address": t.address, "connected_by": t.connected_by, "connected_at": t.connected_at}


def deal(d: Deal) -> Row:
    return {"id": d.id, "name": d.name, "stage": d.stage, "created": d.created, "contacts": list(d.contacts)}


def contacts(records: Iterable[Contact], emails_per_contact: Counter[str]) -> list[Row]:
    return [
        {
            "email": c.email,
            "name": c.name,
            "company": c.company,
            "source": c.source,
            "emails": emails_per_contact[c.email],
        }
        for c in sorted(records, key=lambda c: c.email)
    ]


def contact(c: Contact, deals: Iterable[Deal], emails: Iterable[Email]) -> Row:
    """A contact, its deals, and its e-mails (newest first, as given)."""
    return {
        "email": c.email,
        "name": c.name,
        "source": c.source,
        "company": c.company,
        "aliases": list(c.aliases),
        "deals": [{"id": d.id, "name": d.name, "stage": d.stage} for d in deals],
        "emails": [email_summary(e) for e in emails],
    }


def companies(
    records: Iterable[Company], contacts_per_company: Counter[Any], emails_per_company: Counter[str]
) -> list[Row]:
    return [
        {
            "domain": c.domain,
            "name": c.name,
            "contacts": contacts_per_company[c.domain],
            "emails": emails_per_company[c.domain],
        }
        for c in sorted(records, key=lambda c: c.domain)
    ]


def company(c: Company, contacts: Iterable[Contact], emails: Iterable[Email]) -> Row:
    return {
        "domain": c.domain,
        "name": c.name,
        "contacts": sorted(x.email for x in contacts),
        "emails": [email_summary(e) for e in emails],
    }


def email_row(e: Email) -> Row:
    return {
        "id": e.id,
        "message_id": e.message_id,
        "subject": e.subject,
        "date": e.date,
        "path": e.path,
        "user": e.user,
        "from": e.sender,
        "contacts": e.contacts,  # tuples are JSON arrays too; a listing of 100,000 copies none
        "companies": e.companies,
        "deals": e.deals,
        "attachments": [a.to_doc() for a in e.attachments],
    }


def email_detail(e: Email, body: EmailBody) -> Row:
    return {
        **email_row(e),
        "from_name": body.from_name,
        "to": list(body.to),
        "cc": list(body.cc),
        "attribution": body.credit.to_doc() if body.credit else {},
        "rules": list(body.rules),
        "text": body.text,
        "html": body.html,
        "forward": e.forward.to_doc() if e.forward else None,  # {note, client, forwarded_by, forwarded_at, subject}
        "source": body.source,
    }


def explain(e: Email, body: EmailBody) -> Row:
    credit = body.credit
    return {
        "message_id": e.message_id,
        "user": e.user,
        "rule": credit.rule if credit else None,
        "candidates": list(credit.candidates) if credit else [],
        "session_user": credit.session_user if credit else None,
        "ambiguous": credit.ambiguous if credit else False,
        "rules": list(body.rules),
        "path": e.path,
    }


def forward_report(found: Forwarded | Rejected) -> Row:
    """`forwards parse --json`: what the forward path found in one message."""
    if isinstance(found, Rejected):
        return {
            "status": "rejected",
            "code": str(found.code),
            "reason": found.reason,
            **dict.fromkeys(("from_address", "from_name", "subject", "date", "body", "note", "client")),
            "to": [],
            "cc": [],
        }
    return {
        "status": "ok",
        "code": None,
        "reason": None,
        "from_address": found.sender.email or None,
        "from_name": found.sender.name or None,
        "to": [a.email or a.name for a in found.to],
        "cc": [a.email or a.name for a in found.cc],
        "subject": found.subject,
        "date": found.date or None,
        "body": found.body,
        "note": found.note,
        "client": found.client,
    }


def rejections(records: Iterable[Rejection]) -> list[Row]:
    rows = [
        {
            "message_id": r.message_id,
            "code": r.code,
            "reason": r.reason,
            "sender": r.sender,
            "date": r.date,
            "source": r.source,
        }
        for r in records
    ]
    return sorted(rows, key=lambda r: r["date"] or "")


def notice(n: Notice) -> Row:
    return {"kind": n.kind, "user": n.user, "message_id": n.message_id, "detail": n.detail, "date": n.date}


Credits = Mapping[tuple[str, str, str], int]  # (user, path, rule) -> logged e-mails


def attribution(users: Iterable[User], credits: Credits) -> list[Row]:
    """Logged e-mails per user (every user, and any other user an e-mail names), by path and
    by the rule that attributed them."""

    def row(email: str) -> Row:
        return {"user": email, "logged": 0, "bcc": 0, "forward": 0, "by_rule": {}}

    rows = {u.email: row(u.email) for u in users}
    for (user, path, rule), n in credits.items():
        r = rows.setdefault(user, row(user))
        r["logged"] += n
        r[path] += n
        r["by_rule"][rule] = r["by_rule"].get(rule, 0) + n
    return list(rows.values())


def credits(
    emails: Iterable[Email], since: datetime | None = None, until: datetime | None = None
) -> Counter[tuple[str, str, str]]:
    """The credits of the e-mails dated in [since, until) (all without a bound)."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for e in emails:
        if since or until:
            when = e.time()
            if when is None or (since and when < since) or (until and when >= until):
                continue
        counts[(e.user, e.path, e.rule)] += 1
    return counts
