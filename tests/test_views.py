"""show/views.py as pure functions: records built in code (no store, no files) to the rows of
the `--json` shapes, compared with literal values; and the records' documents both ways
(records/), the first schema's e-mail documents included."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmlog.model import Address, Code, Forwarded, Rejected
from crmlog.records import (
    KINDS,
    Company,
    Contact,
    Credit,
    Deal,
    Deleted,
    Email,
    EmailBody,
    Forgotten,
    ForwardInfo,
    Notice,
    Record,
    Rejection,
    Run,
    Seat,
    StoredAttachment,
    TeamInbox,
    User,
)
from crmlog.show import views

ANNA = "anna@ourco.example"
BEN = "ben@ourco.example"
LI = "li.wei@acme.example"
JO = "jo@globex.example"
SHA = "ab" * 32


def mail(
    n: int,
    *,
    date: str | None = "2026-06-01T09:00:00+00:00",
    user: str = ANNA,
    path: str = "bcc",
    rule: str = "ATTR-1",
    forward: ForwardInfo | None = None,
    contacts: tuple[str, ...] = (LI,),
) -> Email:
    return Email(
        id=n,
        identity=f"m{n}@ourco.example",
        message_id=f"m{n}@ourco.example",
        subject=f"e-mail {n}",
        date=date,
        path=path,
        user=user,
        rule=rule,
        sender=ANNA,
        contacts=contacts,
        forward=forward,
    )


def summary(n: int, date: str | None = "2026-06-01T09:00:00+00:00") -> dict[str, Any]:
    return {
        "id": n,
        "message_id": f"m{n}@ourco.example",
        "subject": f"e-mail {n}",
        "date": date,
        "path": "bcc",
        "user": ANNA,
    }


# ------------------------------------------------------------------ team


def test_user_row():
    u = User(
        id=3,
        email=ANNA,
        name="Anna",
        inboxes=(("anna@ourco.example", "2026-01-01T00:00:00+00:00"), ("sales.anna@ourco.example", "2026-02-01")),
        aliases=("a@ourco.example",),
        logins=("anna",),
        seat=Seat.READ_ONLY,
        personal_inbox_access=False,
        created="2026-01-01T00:00:00+00:00",
        active=False,
    )
    assert views.user(u) == {
        "id": 3,
        "email": ANNA,
        "name": "Anna",
        "inboxes": ["anna@ourco.example", "sales.anna@ourco.example"],  # addresses, in connect order
        "aliases": ["a@ourco.example"],
        "logins": ["anna"],
        "seat": "read-only",
        "personal_inbox_access": False,
        "active": False,
    }


def test_user_row_of_a_bare_user():
    assert views.user(User(id=1, email=BEN)) == {
        "id": 1,
        "email": BEN,
        "name": "",
        "inboxes": [],
        "aliases": [],
        "logins": [],
        "seat": "full",
        "personal_inbox_access": True,
        "active": True,
    }


def test_team_inbox_row():
    t = TeamInbox(id=2, address="sales@ourco.example", connected_by=ANNA, connected_at="2026-01-01T00:00:00+00:00")
    assert views.team_inbox(t) == {
        "address": "sales@ourco.example",
        "connected_by": ANNA,
        "connected_at": "2026-01-01T00:00:00+00:00",
    }
    assert views.team_inbox(replace(t, connected_at=None))["connected_at"] is None


# ------------------------------------------------------------------ CRM


def test_deal_row():
    d = Deal(id=4, name="Acme renewal", stage="open", created="2026-01-05T00:00:00+00:00", contacts=(LI, JO))
    assert views.deal(d) == {
        "id": 4,
        "name": "Acme renewal",
        "stage": "open",
        "created": "2026-01-05T00:00:00+00:00",
        "contacts": [LI, JO],
    }


def test_bcc_1_contacts_sorted_by_address_with_their_counts():
    records = [
        Contact(id=1, email=LI, name="Li Wei", company="acme.example", source="bcc-recipient"),
        Contact(id=2, email="anne@freemail.example", source="forward-sender"),
        Contact(id=3, email=JO, name="Jo", company="globex.example", source="bcc-recipient"),
    ]
    counts = Counter({LI: 3, JO: 1, "gone@else.example": 9})
    assert views.contacts(records, counts) == [
        {"email": "anne@freemail.example", "name": "", "company": None, "source": "forward-sender", "emails": 0},
        {"email": JO, "name": "Jo", "company": "globex.example", "source": "bcc-recipient", "emails": 1},
        {"email": LI, "name": "Li Wei", "company": "acme.example", "source": "bcc-recipient", "emails": 3},
    ]


def test_contacts_of_none_is_empty():
    assert views.contacts([], Counter({LI: 1})) == []


def test_bcc_3_contact_with_its_deals_and_emails_as_given():
    c = Contact(
        id=1, email=LI, name="Li Wei", company="acme.example", source="bcc-recipient", aliases=("li@acme.example",)
    )
    deals = [
        Deal(id=2, name="Pilot", stage="won", created="2026-01-01", contacts=(LI,)),
        Deal(id=1, name="Renewal", stage="open", created="2026-01-02", contacts=(LI, JO)),
    ]
    emails = [mail(5, date="2026-06-02T00:00:00+00:00"), mail(4, date=None)]  # newest first, as read
    assert views.contact(c, deals, emails) == {
        "email": LI,
        "name": "Li Wei",
        "source": "bcc-recipient",
        "company": "acme.example",
        "aliases": ["li@acme.example"],  # LIFE-4
        "deals": [{"id": 2, "name": "Pilot", "stage": "won"}, {"id": 1, "name": "Renewal", "stage": "open"}],
        "emails": [summary(5, "2026-06-02T00:00:00+00:00"), summary(4, None)],
    }


def test_comp_1_companies_sorted_by_domain_with_their_counts():
    records = [
        Company(id=1, domain="globex.example", name="Globex"),
        Company(id=2, domain="acme.example", name="Acme"),
        Company(id=3, domain="initech.example", name="initech.example"),
    ]
    contacts_per_company = Counter({"acme.example": 2, "globex.example": 1, None: 4})
    emails_per_company = Counter({"acme.example": 5})
    assert views.companies(records, contacts_per_company, emails_per_company) == [
        {"domain": "acme.example", "name": "Acme", "contacts": 2, "emails": 5},
        {"domain": "globex.example", "name": "Globex", "contacts": 1, "emails": 0},
        {"domain": "initech.example", "name": "initech.example", "contacts": 0, "emails": 0},
    ]


def test_comp_1_company_with_its_contacts_sorted_and_emails_as_given():
    c = Company(id=1, domain="acme.example", name="Acme")
    contacts = [Contact(email="zoe@acme.example"), Contact(email=LI), Contact(email="al@acme.example")]
    assert views.company(c, contacts, [mail(2), mail(1)]) == {
        "domain": "acme.example",
        "name": "Acme",
        "contacts": ["al@acme.example", LI, "zoe@acme.example"],
        "emails": [summary(2), summary(1)],
    }


# ------------------------------------------------------------------ e-mails

ATTACHMENTS = (
    StoredAttachment(filename="quote.pdf", content_type="application/pdf", size=600, sha256=SHA, stored=True),
    StoredAttachment(
        filename="big.iso", content_type="application/octet-stream", size=60_000_000, sha256="cd" * 32, stored=False
    ),
)
CREDIT = Credit(rule="ATTR-4", candidates=(ANNA, BEN), session_user=BEN, ambiguous=True)
FORWARD = ForwardInfo(
    note="FYI, see below",
    client="gmail",
    forwarded_by=BEN,
    forwarded_at="2026-06-02T08:00:00+00:00",
    subject="Fwd: Re: offer",
)

# A first-schema e-mail document: body and detail inline, "identity" always there, "forward"
# always there (None on the BCC path), no "rule" (the attribution has it), no "body".
FIRST_SCHEMA: dict[str, Any] = {
    "identity": "m1@ourco.example",
    "message_id": "m1@ourco.example",
    "subject": "Re: offer",
    "date": "2026-06-01T07:00:00+00:00",
    "path": "bcc",
    "user": BEN,
    "from": BEN,
    "from_name": "Ben",
    "to": [LI],
    "cc": [JO, "Undisclosed"],
    "contacts": [LI, JO],
    "companies": ["acme.example", "globex.example"],
    "deals": [3],
    "attachments": [a.to_doc() for a in ATTACHMENTS],
    "attribution": CREDIT.to_doc(),
    "rules": ["ADDR-2", "ATTR-4", "BCC-1"],
    "text": "Hello Li,\n",
    "html": "<p>Hello Li,</p>",
    "forward": None,
    "source": "Maildir/sent",
    "key": "1.host:2,S",
    "logged_at": "2026-06-01T07:00:05+00:00",
}
FIRST_SCHEMA_FORWARD: dict[str, Any] = {
    **FIRST_SCHEMA,
    "identity": "sha256:" + "ef" * 32,
    "message_id": "",
    "path": "forward",
    "from": LI,
    "date": "9. März 2021 um 10:15",
    "forward": FORWARD.to_doc(),
    "attribution": Credit(rule="ATTR-1", candidates=(BEN,), session_user=None).to_doc(),
}
INLINE = EmailBody(
    text="Hello Li,\n",
    html="<p>Hello Li,</p>",
    from_name="Ben",
    to=(LI,),
    cc=(JO, "Undisclosed"),
    credit=CREDIT,
    rules=("ADDR-2", "ATTR-4", "BCC-1"),
    source="Maildir/sent",
    key="1.host:2,S",
    logged_at="2026-06-01T07:00:05+00:00",
)
PACKED = Email(
    id=7,
    identity="m1@ourco.example",
    message_id="m1@ourco.example",
    subject="Re: offer",
    date="2026-06-01T07:00:00+00:00",
    path="bcc",
    user=BEN,
    rule="ATTR-4",
    sender=BEN,
    contacts=(LI, JO),
    companies=("acme.example", "globex.example"),
    deals=(3,),
    attachments=ATTACHMENTS,
    body=(2, 1024, 300),
)
ROW = {
    "id": 7,
    "message_id": "m1@ourco.example",
    "subject": "Re: offer",
    "date": "2026-06-01T07:00:00+00:00",
    "path": "bcc",
    "user": BEN,
    "from": BEN,
    "contacts": (LI, JO),  # the record's own tuples: --json writes them as arrays
    "companies": ("acme.example", "globex.example"),
    "deals": (3,),
    "attachments": [
        {"filename": "quote.pdf", "content_type": "application/pdf", "size": 600, "sha256": SHA, "stored": True},
        {
            "filename": "big.iso",
            "content_type": "application/octet-stream",
            "size": 60_000_000,
            "sha256": "cd" * 32,
            "stored": False,
        },
    ],
}


def test_email_row():
    assert views.email_row(PACKED) == ROW


def test_email_detail_of_a_packed_body():
    assert views.email_detail(PACKED, INLINE) == {
        **ROW,
        "from_name": "Ben",
        "to": [LI],
        "cc": [JO, "Undisclosed"],
        "attribution": {"rule": "ATTR-4", "candidates": [ANNA, BEN], "session_user": BEN, "ambiguous": True},
        "rules": ["ADDR-2", "ATTR-4", "BCC-1"],
        "text": "Hello Li,\n",
        "html": "<p>Hello Li,</p>",
        "forward": None,
        "source": "Maildir/sent",
    }


def test_email_detail_of_a_first_schema_inline_body_is_the_same_row():
    inline = Email.from_doc(FIRST_SCHEMA, 7)
    assert inline.inline is not None
    assert views.email_detail(inline, inline.inline) == views.email_detail(PACKED, INLINE)


def test_fwd_4_email_detail_keeps_the_forward_note_apart():
    e = replace(PACKED, path="forward", forward=FORWARD)
    row = views.email_detail(e, replace(INLINE, credit=None))
    assert row["forward"] == {
        "note": "FYI, see below",
        "client": "gmail",
        "forwarded_by": BEN,
        "forwarded_at": "2026-06-02T08:00:00+00:00",
        "subject": "Fwd: Re: offer",
    }
    assert row["text"] == "Hello Li,\n"
    assert row["attribution"] == {}


def test_attr_6_explain_the_credit():
    assert views.explain(PACKED, INLINE) == {
        "message_id": "m1@ourco.example",
        "user": BEN,
        "rule": "ATTR-4",
        "candidates": [ANNA, BEN],
        "session_user": BEN,
        "ambiguous": True,
        "rules": ["ADDR-2", "ATTR-4", "BCC-1"],
        "path": "bcc",
    }


def test_attr_6_explain_without_a_stored_credit():
    assert views.explain(PACKED, EmailBody()) == {
        "message_id": "m1@ourco.example",
        "user": BEN,
        "rule": None,
        "candidates": [],
        "session_user": None,
        "ambiguous": False,
        "rules": [],
        "path": "bcc",
    }


# ------------------------------------------------------------------ rejections and notices


def rejection(n: int, date: str | None, code: str = "sender-not-a-user") -> Rejection:
    return Rejection(
        id=n,
        identity=f"r{n}@else.example",
        message_id=f"r{n}@else.example",
        code=code,
        reason=f"reason {n}",
        sender="stranger@else.example",
        subject="Hi",
        date=date,
        source="Maildir/inbox",
        key=f"{n}.host",
        rules=("ADDR-2",),
        recorded="2026-06-03T00:00:00+00:00",
    )


def rejection_row(n: int, date: str | None, code: str = "sender-not-a-user") -> dict[str, Any]:
    return {
        "message_id": f"r{n}@else.example",
        "code": code,
        "reason": f"reason {n}",
        "sender": "stranger@else.example",
        "date": date,
        "source": "Maildir/inbox",
    }


def test_rej_1_rejections_sorted_by_date_undated_first():
    records = [
        rejection(1, "2026-06-02T00:00:00+00:00"),
        rejection(2, None, "unparseable"),
        rejection(3, "2026-06-01T00:00:00+00:00"),
        rejection(4, None),
    ]
    assert views.rejections(records) == [
        rejection_row(2, None, "unparseable"),  # undated first, in the order given
        rejection_row(4, None),
        rejection_row(3, "2026-06-01T00:00:00+00:00"),
        rejection_row(1, "2026-06-02T00:00:00+00:00"),
    ]


def test_rej_1_no_rejections():
    assert views.rejections([]) == []


def test_lim_2_notice_row_leaves_out_when_it_was_mailed():
    n = Notice(
        id=1,
        kind="delivery-error",
        user=ANNA,
        message_id="m1@ourco.example",
        detail="attachment 'big.iso' (60,000,000 bytes) is over the limit",
        date="2026-06-01T09:00:00+00:00",
        mailed="2026-06-01T10:00:00+00:00",
    )
    assert views.notice(n) == {
        "kind": "delivery-error",
        "user": ANNA,
        "message_id": "m1@ourco.example",
        "detail": "attachment 'big.iso' (60,000,000 bytes) is over the limit",
        "date": "2026-06-01T09:00:00+00:00",
    }


# ------------------------------------------------------------------ attribution


def row(user: str, bcc: int = 0, forward: int = 0, **by_rule: int) -> dict[str, Any]:
    return {
        "user": user,
        "logged": bcc + forward,
        "bcc": bcc,
        "forward": forward,
        "by_rule": {k.replace("_", "-"): v for k, v in by_rule.items()},
    }


TEAM = [User(id=1, email=ANNA), User(id=2, email=BEN)]


def test_attr_6_attribution_counts_by_path_and_rule_every_user_a_row():
    emails = [
        mail(1, rule="ATTR-1"),
        mail(2, rule="ATTR-T"),
        mail(3, path="forward", rule="ATTR-1"),
        mail(4, date=None, rule="ATTR-1"),  # no bounds: counted without a date
    ]
    assert views.attribution(TEAM, views.credits(emails)) == [
        row(ANNA, bcc=3, forward=1, ATTR_1=3, ATTR_T=1),
        row(BEN),  # no e-mail: still a row
    ]


def test_attr_6_attribution_of_no_users_and_no_emails():
    assert views.attribution([], views.credits([])) == []


def test_attr_6_attribution_an_email_of_a_user_not_in_the_team_gets_a_row():
    emails = [mail(1, user="carl@ourco.example", rule="ATTR-2"), mail(2, user=BEN, rule="ATTR-3")]
    assert views.attribution(TEAM, views.credits(emails)) == [
        row(ANNA),
        row(BEN, bcc=1, ATTR_3=1),
        row("carl@ourco.example", bcc=1, ATTR_2=1),
    ]


SINCE = datetime(2026, 6, 1, tzinfo=UTC)
UNTIL = datetime(2026, 7, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "date, counted",
    [
        ("2026-06-01T00:00:00+00:00", True),  # since: inclusive
        ("2026-05-31T23:59:59+00:00", False),
        ("2026-06-30T23:59:59+00:00", True),
        ("2026-07-01T00:00:00+00:00", False),  # until: exclusive
        ("2026-06-01T01:30:00+02:00", False),  # 2026-05-31T23:30Z: the zone is read
        ("2026-06-30T23:30:00-01:00", False),  # 2026-07-01T00:30Z
        ("2026-06-01T00:00:00", True),  # no zone: read as UTC
        ("2026-05-31T23:59:00", False),
        ("2026-07-01T00:00:00", False),
        ("2026-06-15", True),
        (None, False),  # no date, no forward: outside any period
        ("9. März 2021 um 10:15", False),  # unreadable, no forward
    ],
)
def test_attribution_since_inclusive_until_exclusive(date, counted):
    rows = views.attribution(TEAM, views.credits([mail(1, date=date)], SINCE, UNTIL))
    assert rows[0] == (row(ANNA, bcc=1, ATTR_1=1) if counted else row(ANNA))


def test_attribution_since_alone_and_until_alone():
    emails = [mail(1, date="2026-05-01T00:00:00+00:00"), mail(2, date="2026-06-01T00:00:00+00:00")]
    assert views.attribution(TEAM, views.credits(emails, since=SINCE))[0]["logged"] == 1
    assert views.attribution(TEAM, views.credits(emails, until=SINCE))[0]["logged"] == 1
    assert views.attribution(TEAM, views.credits(emails, until=SINCE + timedelta(seconds=1)))[0]["logged"] == 2


def test_fwd_4_attribution_an_unreadable_forwarded_date_counts_by_when_it_was_forwarded():
    inside = replace(FORWARD, forwarded_at="2026-06-10T12:00:00+00:00")
    outside = replace(FORWARD, forwarded_at="2026-07-10T12:00:00+00:00")
    emails = [
        mail(1, path="forward", date="9. März 2021 um 10:15", forward=inside),
        mail(2, path="forward", date="9. März 2021 um 10:15", forward=outside),
        mail(3, path="forward", date="gestern", forward=replace(FORWARD, forwarded_at=None)),
        mail(4, path="forward", date="2026-05-01T00:00:00+00:00", forward=inside),  # its own date wins
    ]
    assert views.attribution(TEAM, views.credits(emails, SINCE, UNTIL)) == [row(ANNA, forward=1, ATTR_1=1), row(BEN)]


@pytest.mark.parametrize(
    "date, forwarded_at, expected",
    [
        ("2026-06-01T09:00:00+00:00", None, datetime(2026, 6, 1, 9, tzinfo=UTC)),
        ("2026-06-01T09:00:00+02:00", None, datetime(2026, 6, 1, 9, tzinfo=timezone(timedelta(hours=2)))),
        ("2026-06-01T09:00:00", None, datetime(2026, 6, 1, 9, tzinfo=UTC)),  # no zone: UTC
        ("9. März 2021 um 10:15", "2026-06-02T08:00:00+00:00", datetime(2026, 6, 2, 8, tzinfo=UTC)),
        ("9. März 2021 um 10:15", "2026-06-02T08:00:00", datetime(2026, 6, 2, 8, tzinfo=UTC)),
        (None, "2026-06-02T08:00:00+00:00", datetime(2026, 6, 2, 8, tzinfo=UTC)),
        ("2026-03-09T10:15:00", "2026-06-02T08:00:00+00:00", datetime(2026, 3, 9, 10, 15, tzinfo=UTC)),
        ("9. März 2021 um 10:15", None, None),
        ("9. März 2021 um 10:15", "not a date", None),
        (None, None, None),
    ],
)
def test_email_time(date, forwarded_at, expected):
    forward = replace(FORWARD, forwarded_at=forwarded_at)
    e = mail(1, path="forward", date=date, forward=forward)
    when = e.time()
    assert when == expected
    assert when is None or when.utcoffset() == expected.utcoffset()


def test_email_time_without_a_forward():
    assert mail(1, date="2026-06-01T09:00:00").time() == datetime(2026, 6, 1, 9, tzinfo=UTC)
    assert mail(1, date="gestern").time() is None
    assert mail(1, date=None).time() is None


# ------------------------------------------------------------------ forwards parse


def test_fwd_1_forward_report_of_a_forward_found():
    found = Forwarded(
        sender=Address(email=LI, name="Li Wei"),
        to=(Address(email=ANNA, name="Anna"), Address(email="", name="Undisclosed recipients")),
        cc=(Address(email=JO),),
        subject="Re: offer",
        date="2026-03-09T10:15:00+00:00",
        body="Yes, let's go.\n",
        note="FYI",
        client="gmail",
    )
    assert views.forward_report(found) == {
        "status": "ok",
        "code": None,
        "reason": None,
        "from_address": LI,
        "from_name": "Li Wei",
        "to": [ANNA, "Undisclosed recipients"],
        "cc": [JO],
        "subject": "Re: offer",
        "date": "2026-03-09T10:15:00+00:00",
        "body": "Yes, let's go.\n",
        "note": "FYI",
        "client": "gmail",
    }


def test_fwd_1_forward_report_of_a_name_without_address_and_no_date():
    found = Forwarded(
        sender=Address(email="", name=""),
        to=(),
        cc=(),
        subject="",
        date="",
        body="",
        note="",
        client="outlook",
    )
    report = views.forward_report(found)
    assert report["from_address"] is None and report["from_name"] is None and report["date"] is None
    assert report["to"] == [] and report["cc"] == [] and report["status"] == "ok"


def test_fwd_2_forward_report_of_a_rejection():
    found = Rejected(code=Code.FORWARD_NOT_RECOGNIZED, reason="no forward header", rules=("ADDR-3", "FWD-2"))
    assert views.forward_report(found) == {
        "status": "rejected",
        "code": "forward-not-recognized",
        "reason": "no forward header",
        "from_address": None,
        "from_name": None,
        "subject": None,
        "date": None,
        "body": None,
        "note": None,
        "client": None,
        "to": [],
        "cc": [],
    }


# ------------------------------------------------------------------ records: documents both ways

text = st.text(max_size=12)
opt_text = st.none() | text
word = st.text(min_size=1, max_size=12)  # values that are never empty where they are stored
ids = st.integers(min_value=0, max_value=10**9)
texts = st.lists(text, max_size=3).map(tuple)

credits = st.builds(Credit, rule=text, candidates=texts, session_user=opt_text, ambiguous=st.booleans())
bodies = st.builds(
    EmailBody,
    text=text,
    html=text,
    from_name=text,
    to=texts,
    cc=texts,
    credit=st.none() | credits,
    rules=texts,
    source=text,
    key=text,
    logged_at=opt_text,
)
attachments = st.builds(StoredAttachment, filename=text, content_type=text, size=ids, sha256=text, stored=st.booleans())
forwards = st.builds(ForwardInfo, note=text, client=text, forwarded_by=text, forwarded_at=opt_text, subject=text)
body_refs = st.tuples(ids, ids, ids)


def emails(*, inline: bool) -> st.SearchStrategy[Email]:
    return st.builds(
        Email,
        id=ids,
        identity=word,  # ONCE-1: a Message-ID or sha256:..., never empty
        message_id=text,
        subject=text,
        date=opt_text,
        path=st.sampled_from(["bcc", "forward"]),
        user=text,
        rule=word if inline else text,
        sender=text,
        contacts=texts,
        companies=texts,
        deals=st.lists(ids, max_size=3).map(tuple),
        attachments=st.lists(attachments, max_size=2).map(tuple),
        forward=st.none() | forwards,
        body=st.none() if inline else st.none() | body_refs,
        inline=bodies if inline else st.none(),
    )


RECORDS: dict[type[Record], st.SearchStrategy[Any]] = {
    User: st.builds(
        User,
        id=ids,
        email=text,
        name=text,
        inboxes=st.lists(st.tuples(text, text), max_size=3).map(tuple),
        aliases=texts,
        logins=texts,
        seat=st.sampled_from(Seat),
        personal_inbox_access=st.booleans(),
        created=opt_text,
        active=st.booleans(),
    ),
    TeamInbox: st.builds(TeamInbox, id=ids, address=text, connected_by=text, connected_at=opt_text),
    Contact: st.builds(
        Contact, id=ids, email=text, name=text, company=opt_text, source=text, created=opt_text, aliases=texts
    ),
    Company: st.builds(Company, id=ids, domain=text, name=text, created=opt_text),
    Deal: st.builds(
        Deal, id=ids, name=text, stage=st.sampled_from(["open", "won", "lost"]), created=text, contacts=texts
    ),
    Email: emails(inline=False),
    Rejection: st.builds(
        Rejection,
        id=ids,
        identity=text,
        message_id=text,
        code=text,
        reason=text,
        sender=text,
        subject=text,
        date=opt_text,
        source=text,
        key=text,
        rules=texts,
        recorded=opt_text,
    ),
    Notice: st.builds(
        Notice,
        id=ids,
        kind=text,
        user=text,
        message_id=text,
        detail=text,
        date=opt_text,
        mailed=st.none() | word,  # when it was mailed, if it was
    ),
    Run: st.builds(
        Run,
        id=ids,
        started=text,
        finished=opt_text,
        paths=texts,
        user=opt_text,
        undone=opt_text,
        counts=st.dictionaries(word, ids, max_size=3),
        listing=ids,
        undo=st.just({"added": {}, "changed": [], "sources": {}, "files": []}),
    ),
    Forgotten: st.builds(Forgotten, id=ids, hash=text, at=opt_text),
    Deleted: st.builds(Deleted, id=ids, identity=text, at=opt_text),
}


def test_record_strategies_cover_every_kind():
    assert set(RECORDS) == set(KINDS)


@pytest.mark.parametrize("kind", KINDS, ids=[k.__name__ for k in KINDS])
@given(data=st.data())
def test_a_record_of_every_kind_round_trips_through_its_document(kind, data):
    record = data.draw(RECORDS[kind])
    assert kind.from_doc(record.to_doc(), record.id) == record


@given(emails(inline=True))
def test_a_first_schema_email_round_trips_through_its_document(e):
    doc = e.to_doc()
    assert "body" not in doc
    assert Email.from_doc(doc, e.id) == e


@given(bodies)
def test_a_body_round_trips_through_its_pack_object(body):
    assert EmailBody.from_doc(body.to_doc()) == body


def test_a_document_does_not_hold_the_records_id():
    assert "id" not in Contact(id=5, email=LI).to_doc()
    assert Contact.from_doc(Contact(id=5, email=LI).to_doc(), 9).id == 9


# the same e-mail as PACKED, its body inline and its rule (ATTR-4) read from the attribution
FIRST_SCHEMA_EMAIL = replace(PACKED, body=None, inline=INLINE)


def test_attr_6_a_first_schema_email_document_reads_with_its_body_inline():
    assert Email.from_doc(FIRST_SCHEMA, 7) == FIRST_SCHEMA_EMAIL


def test_fwd_4_a_first_schema_forwarded_email_without_message_id_reads_with_its_body_inline():
    assert Email.from_doc(FIRST_SCHEMA_FORWARD, 8) == replace(
        FIRST_SCHEMA_EMAIL,
        id=8,
        identity="sha256:" + "ef" * 32,
        message_id="",
        path="forward",
        sender=LI,
        date="9. März 2021 um 10:15",
        rule="ATTR-1",
        forward=FORWARD,
        inline=replace(INLINE, credit=Credit(rule="ATTR-1", candidates=(BEN,), session_user=None)),
    )


@pytest.mark.parametrize("doc", [FIRST_SCHEMA, FIRST_SCHEMA_FORWARD], ids=["bcc", "forward"])
def test_a_first_schema_email_reads_the_same_from_the_document_it_writes(doc):
    e = Email.from_doc(doc, 1)
    assert Email.from_doc(e.to_doc(), 1) == e


@pytest.mark.parametrize("doc", [FIRST_SCHEMA, FIRST_SCHEMA_FORWARD], ids=["bcc", "forward"])
def test_a_first_schema_email_writes_back_the_document_it_was_read_from(doc):
    assert Email.from_doc(doc, 1).to_doc() == doc
