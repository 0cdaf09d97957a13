"""Records to the rows the commands show: plain dicts, the `--json` shapes of cli.md."""

from __future__ import annotations

import heapq
from collections import Counter
from datetime import UTC, datetime

from ..errors import NotFound
from ..model import Forwarded, Rejected, normalize_email, normalize_message_id
from ..store import Store


def _newest(e: dict) -> tuple[str, int]:
    return (e.get("date") or "", e["id"])


def _newest_first(emails, limit: int | None = None) -> list[dict]:
    if limit:
        return heapq.nlargest(limit, emails, key=_newest)
    return sorted(emails, key=_newest, reverse=True)


def _email_summary(e: dict) -> dict:
    get = e.get
    return {
        "id": get("id"),
        "message_id": get("message_id"),
        "subject": get("subject"),
        "date": get("date"),
        "path": get("path"),
        "user": get("user"),
    }


def users(store: Store) -> list[dict]:
    return [
        {
            "id": u["id"],
            "email": u["email"],
            "name": u.get("name", ""),
            "inboxes": [a for a, _ in u.get("inboxes", [])],
            "aliases": u.get("aliases", []),
            "logins": u.get("logins", []),
            "seat": u.get("seat", "full"),
            "personal_inbox_access": u.get("personal_inbox_access", True),
        }
        for u in store.all("users")
    ]


def team_inboxes(store: Store) -> list[dict]:
    return [
        {"address": t["address"], "connected_by": t["connected_by"], "connected_at": t.get("connected_at")}
        for t in store.all("team_inboxes")
    ]


def deals(store: Store) -> list[dict]:
    return [
        {"id": d["id"], "name": d["name"], "stage": d["stage"], "created": d["created"], "contacts": d["contacts"]}
        for d in store.all("deals")
    ]


def contacts(store: Store) -> list[dict]:
    counts = Counter(c for e in store.records("emails") for c in e.get("contacts", []))
    return [
        {
            "email": c["email"],
            "name": c.get("name", ""),
            "company": c.get("company"),
            "source": c.get("source", ""),
            "emails": counts[c["email"]],
        }
        for c in sorted(store.all("contacts"), key=lambda c: c["email"])
    ]


def contact(store: Store, email: str) -> dict:
    wanted, email = email, normalize_email(email)
    found = next((c for c in store.records("contacts") if c["email"] == email), None) if email else None
    if found is None:
        raise NotFound(f"no contact with e-mail {wanted}")
    return {
        "email": found["email"],
        "name": found.get("name", ""),
        "source": found.get("source", ""),
        "company": found.get("company"),
        "deals": [
            {"id": d["id"], "name": d["name"], "stage": d["stage"]}
            for d in store.records("deals")
            if email in d.get("contacts", [])
        ],
        "emails": [
            _email_summary(e)
            for e in _newest_first([e for e in store.records("emails") if email in e.get("contacts", [])])
        ],
    }


def companies(store: Store) -> list[dict]:
    people = Counter(c.get("company") for c in store.records("contacts"))
    mails = Counter(d for e in store.records("emails") for d in e.get("companies", []))
    return [
        {
            "domain": c["domain"],
            "name": c.get("name", c["domain"]),
            "contacts": people[c["domain"]],
            "emails": mails[c["domain"]],
        }
        for c in sorted(store.all("companies"), key=lambda c: c["domain"])
    ]


def company(store: Store, domain: str) -> dict:
    domain = domain.strip().lower()
    found = next((c for c in store.records("companies") if c["domain"] == domain), None)
    if found is None:
        raise NotFound(f"no company with domain {domain}")
    return {
        "domain": domain,
        "name": found.get("name", domain),
        "contacts": sorted(c["email"] for c in store.records("contacts") if c.get("company") == domain),
        "emails": [
            _email_summary(e)
            for e in _newest_first([e for e in store.records("emails") if domain in e.get("companies", [])])
        ],
    }


def email_row(e: dict) -> dict:
    get = e.get
    return {
        "id": get("id"),
        "message_id": get("message_id"),
        "subject": get("subject"),
        "date": get("date"),
        "path": get("path"),
        "user": get("user"),
        "from": get("from", ""),
        "contacts": get("contacts", []),
        "companies": get("companies", []),
        "deals": get("deals", []),
        "attachments": get("attachments", []),
    }


def emails(store: Store, limit: int | None = None) -> tuple[list[dict], int]:
    """The newest `limit` logged e-mails (all without one), newest first; and how many there are."""
    return [email_row(e) for e in _newest_first(store.records("emails"), limit)], store.count("emails")


def find_email(store: Store, id_or_message_id: str) -> dict:
    """An e-mail by its id, by its Message-ID with or without angle brackets, or (for a
    message without one) by its `sha256:` identity."""
    wanted = id_or_message_id.strip()
    if wanted.isdigit():
        e = store.get("emails", int(wanted))
        if e is not None:
            return e
    mid = normalize_message_id(wanted)
    if mid:
        for e in store.records("emails"):
            if mid in (e.get("message_id"), e.get("identity")):  # identity: sha256:... without one
                return e
    raise NotFound(f"no logged e-mail with id or Message-ID {wanted}")


def email_detail(store: Store, id_or_message_id: str) -> dict:
    e = store.full_email(find_email(store, id_or_message_id))
    return {
        **email_row(e),
        "from_name": e.get("from_name", ""),
        "to": e.get("to", []),
        "cc": e.get("cc", []),
        "attribution": e.get("attribution", {}),
        "rules": e.get("rules", []),
        "text": e["text"],
        "html": e["html"],
        "forward": e.get("forward"),  # {note, client, forwarded_by, forwarded_at, subject} or null
        "source": e.get("source", ""),
    }


def forward_report(found: Forwarded | Rejected) -> dict:
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


def rejections(store: Store, code: str | None = None) -> list[dict]:
    rows = [
        {k: r.get(k) for k in ("message_id", "code", "reason", "sender", "date", "source")}
        for r in store.records("rejections")
        if code is None or r["code"] == code
    ]
    return sorted(rows, key=lambda r: r["date"] or "")


def notices(store: Store) -> list[dict]:
    return [{k: n.get(k) for k in ("kind", "user", "message_id", "detail", "date")} for n in store.records("notices")]


def attribution(store: Store, since: datetime | None = None, until: datetime | None = None) -> list[dict]:
    rows = {
        u["email"]: {"user": u["email"], "logged": 0, "bcc": 0, "forward": 0, "by_rule": {}}
        for u in store.records("users")
    }
    for e in store.records("emails"):
        if since or until:
            when = _when(e)
            if when is None or (since and when < since) or (until and when >= until):
                continue
        row = rows.setdefault(e["user"], {"user": e["user"], "logged": 0, "bcc": 0, "forward": 0, "by_rule": {}})
        row["logged"] += 1
        row[e["path"]] += 1
        rule = e.get("rule") or e.get("attribution", {}).get("rule", "")
        row["by_rule"][rule] = row["by_rule"].get(rule, 0) + 1
    return list(rows.values())


def _when(e: dict) -> datetime | None:
    """An e-mail's date for --since/--until: its own date (a forwarded date without a zone
    read as UTC), else, for a forward whose date could not be read, when it was forwarded."""
    forward = e.get("forward") or {}
    for value in (e.get("date"), forward.get("forwarded_at")):
        try:
            when = datetime.fromisoformat(value) if value else None
        except ValueError:
            continue
        if when is not None:
            return when if when.tzinfo else when.replace(tzinfo=UTC)
    return None


def explain(store: Store, message_id: str) -> dict:
    e = store.full_email(find_email(store, message_id))
    a = e.get("attribution", {})
    return {
        "message_id": e.get("message_id"),
        "user": e["user"],
        "rule": a.get("rule"),
        "candidates": a.get("candidates", []),
        "session_user": a.get("session_user"),
        "ambiguous": a.get("ambiguous", False),
        "rules": e.get("rules", []),
        "path": e.get("path"),
    }
