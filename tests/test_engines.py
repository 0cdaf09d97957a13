"""The contract of store/engine.py, held for every engine: each test opens its engines through
the `engine_factory` fixture and uses only the `Engine` and `Blobs` protocol methods (never
TinyDB, never a file's bytes), on real storage, without mocks.

Adding an engine is one entry in ENGINES: how to open it (for writing or reading, as a dry
run, with a lock timeout), how to make its next durable write fail for real, and how another
writer holds its lock.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import psycopg
import pytest
from pg import ADMIN, ROLE

from crmlog.errors import DataError, LockBusy, StorageIOError
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
from crmlog.store.engine import Changes, Engine, RunProgress
from crmlog.store.jsonfile import JsonEngine
from crmlog.store.pgengine import PgEngine
from crmlog.store.pgschema import WRITE_LOCK

# ------------------------------------------------------------------ the engines


class OpenEngine(Protocol):
    """An engine on the database of `folder` (kept under it, or named after it): the same
    database each time it is called with that folder."""

    def __call__(self, folder: Path, *, write: bool, dry_run: bool = False, lock_timeout: float = 5.0) -> Engine: ...


@dataclass(frozen=True)
class EngineKind:
    open: OpenEngine
    fail_writes: Callable[[pytest.MonkeyPatch, Path], None]  # the next durable write fails (a full disk)
    # another writer holds the write lock (ONCE-4) while in the context; on the database of the folder
    another_writer: Callable[[OpenEngine, Path], AbstractContextManager[object]]
    prepare: Callable[[pytest.FixtureRequest, Path], None] = lambda request, folder: None  # its database made


def _open_json(folder: Path, *, write: bool, dry_run: bool = False, lock_timeout: float = 5.0) -> Engine:
    return JsonEngine(folder / "crm.json", write=write, dry_run=dry_run, lock_timeout=lock_timeout)


def _disk_full(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_space)  # the atomic rename of every file written


@contextmanager
def _json_writer(open_engine: OpenEngine, folder: Path) -> Iterator[object]:
    engine = open_engine(folder, write=True)  # its lock file is taken while it is open
    try:
        yield engine
    finally:
        engine.close()


# PostgreSQL: a private server (tests/pg.py), a database per test, named in a file of its folder


def _prepare_pg(request: pytest.FixtureRequest, folder: Path) -> None:
    server = request.getfixturevalue("pg_server")
    name = server.database()
    (folder / "pg").write_text(f"{server.url(name)}\n{server.url(name, ADMIN)}\n")


def _pg_urls(folder: Path) -> tuple[str, str]:
    """The CRM role's URL of the folder's database, and the superuser's."""
    url, admin = (folder / "pg").read_text().splitlines()
    return url, admin


def _open_pg(folder: Path, *, write: bool, dry_run: bool = False, lock_timeout: float = 5.0) -> Engine:
    return PgEngine(_pg_urls(folder)[0], write=write, dry_run=dry_run, lock_timeout=lock_timeout)


def _pg_read_only(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """The CRM's role loses the right to write the tables every batch here ends with, from a
    superuser's connection: the write fails in its transaction, after its first statements."""
    with psycopg.connect(_pg_urls(folder)[1], autocommit=True) as conn:
        conn.execute(f"REVOKE INSERT, UPDATE, DELETE ON meta, sources FROM {ROLE}")


@contextmanager
def _pg_writer(open_engine: OpenEngine, folder: Path) -> Iterator[object]:
    """Another host in the middle of a write: its transaction holds the write lock."""
    with psycopg.connect(_pg_urls(folder)[0]) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
        yield conn
        conn.rollback()


ENGINES: dict[str, EngineKind] = {
    "json": EngineKind(open=_open_json, fail_writes=_disk_full, another_writer=_json_writer),
    "postgresql": EngineKind(open=_open_pg, fail_writes=_pg_read_only, another_writer=_pg_writer, prepare=_prepare_pg),
}


class Opener:
    """What a test gets: opens engines of one kind on one database, closes them all at the end."""

    def __init__(self, name: str, kind: EngineKind, folder: Path):
        self.name = name
        self.kind = kind
        self.folder = folder
        self.opened: list[Engine] = []

    def __call__(self, *, write: bool = True, dry_run: bool = False, lock_timeout: float = 5.0) -> Engine:
        engine = self.kind.open(self.folder, write=write, dry_run=dry_run, lock_timeout=lock_timeout)
        self.opened.append(engine)
        return engine

    def reopen(self, engine: Engine, *, write: bool = False) -> Engine:
        engine.close()
        return self(write=write)

    def fail_writes(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.kind.fail_writes(monkeypatch, self.folder)

    def another_writer(self) -> AbstractContextManager[object]:
        return self.kind.another_writer(self.kind.open, self.folder)


@pytest.fixture(params=sorted(ENGINES))
def engine_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    ENGINES[request.param].prepare(request, tmp_path)
    opener = Opener(request.param, ENGINES[request.param], tmp_path)
    yield opener
    for engine in opener.opened:  # closing twice is allowed
        engine.close()


# ------------------------------------------------------------------ records of every kind

T0 = "2026-06-01T09:00:00+00:00"
PDF = b"%PDF-1.4 quote\n" * 40
PDF_SHA = hashlib.sha256(PDF).hexdigest()
RAW_SHA = "sha256:" + hashlib.sha256(b"a message without a Message-ID").hexdigest()

SAMPLES: dict[type[Record], tuple[Record, Record]] = {
    User: (
        User(
            email="anna@ourco.example",
            name="Anna Zoë",
            inboxes=(("anna@ourco.example", T0), ("anna.s@ourco.example", "2026-06-02T09:00:00+00:00")),
            aliases=("a@ourco.example",),
            logins=("anna",),
            seat=Seat.FULL,
            personal_inbox_access=True,
            created=T0,
        ),
        User(email="ben@ourco.example", seat=Seat.READ_ONLY, personal_inbox_access=False, active=False),
    ),
    TeamInbox: (
        TeamInbox(address="sales@ourco.example", connected_by="anna@ourco.example", connected_at=T0),
        TeamInbox(address="support@ourco.example", connected_by="ben@ourco.example"),
    ),
    Contact: (
        Contact(email="li.wei@acme.example", name="李伟", company="acme.example", source="bcc-recipient", created=T0),
        Contact(email="jo@freemail.example", source="forward-sender", aliases=("jo.old@freemail.example",)),
    ),
    Company: (
        Company(domain="acme.example", name="Acme", created=T0),
        Company(domain="globex.example", name="globex.example"),
    ),
    Deal: (
        Deal(name="Acme renewal", stage="open", created=T0, contacts=("li.wei@acme.example",)),
        Deal(name="Globex pilot", stage="won", created=T0, contacts=("jo@freemail.example", "li.wei@acme.example")),
    ),
    Email: (
        Email(
            identity="m1@ourco.example",
            message_id="m1@ourco.example",
            subject="Offer \x1b[31m<b>red</b> – ünïcode",  # kept exactly (SEC-5 is the views' job)
            date=T0,
            path="bcc",
            user="anna@ourco.example",
            rule="ATTR-1",
            sender="anna@ourco.example",
            contacts=("li.wei@acme.example",),
            companies=("acme.example",),
            deals=(1,),
            attachments=(
                StoredAttachment(
                    filename="quote.pdf", content_type="application/pdf", size=600, sha256=PDF_SHA, stored=True
                ),
                StoredAttachment(
                    filename="big.iso",
                    content_type="application/octet-stream",
                    size=60_000_000,
                    sha256="ab" * 32,
                    stored=False,
                ),
            ),
            body=(0, 0, 120),
        ),
        Email(
            identity=RAW_SHA,
            message_id="",
            subject="Re: pilot",
            date="9. März 2021 um 10:15",  # a forwarded date that could not be read, as written
            path="forward",
            user="ben@ourco.example",
            rule="ATTR-4",
            sender="jo@freemail.example",
            contacts=("jo@freemail.example",),
            forward=ForwardInfo(
                note="FYI",
                client="apple-mail",
                forwarded_by="ben@ourco.example",
                forwarded_at=T0,
                subject="Fwd: Re: pilot",
            ),
        ),
    ),
    Rejection: (
        Rejection(
            identity="r1@else.example",
            message_id="r1@else.example",
            code="sender-not-a-user",
            reason="nobody in the team sent it",
            sender="stranger@else.example",
            subject="Hi",
            date=T0,
            source="Maildir",
            key="1.host",
            rules=("ADDR-2", "ATTR-5"),
            recorded=T0,
        ),
        Rejection(
            identity=RAW_SHA,
            message_id="",
            code="unparseable",
            reason="",
            sender="",
            subject="",
            date=None,
            source="mail.mbox",
            key="0-120",
        ),
    ),
    Notice: (
        Notice(
            kind="delivery-error",
            user="anna@ourco.example",
            message_id="m1@ourco.example",
            detail="big.iso",
            date=T0,
            mailed=T0,
        ),
        Notice(kind="delivery-error", user="ben@ourco.example", message_id="", detail="x.bin", date=None),
    ),
    Run: (
        Run(
            started=T0,
            finished=T0,
            paths=("/home/anna/Maildir",),
            user="anna",
            counts={"scanned": 3, "logged": 1, "rejected": 1, "skipped": 1},
            listing=812,
            undo={"added": {"emails": [1]}, "changed": [], "sources": {"Maildir": {"new": True}}, "files": []},
        ),
        Run(started=T0, undone=T0),
    ),
    Forgotten: (Forgotten(hash="ab" * 32, at=T0), Forgotten(hash="cd" * 32)),
    Deleted: (Deleted(identity="m9@ourco.example", at=T0), Deleted(identity=RAW_SHA)),
}


def test_samples_cover_every_kind():
    assert set(SAMPLES) == set(KINDS)


def email(n: int, *, date: str | None, path: str = "bcc", contacts: tuple[str, ...] = ()) -> Email:
    return Email(
        identity=f"m{n}@ourco.example",
        message_id=f"m{n}@ourco.example",
        subject=f"e-mail {n}",
        date=date,
        path=path,
        user="anna@ourco.example",
        rule="ATTR-1",
        sender="anna@ourco.example",
        contacts=contacts,
    )


def everything(engine: Engine) -> dict[str, Any]:
    """All an engine holds, as the protocol reads it."""
    return {
        **{kind.TABLE: list(engine.read(kind)) for kind in KINDS},
        "meta": dict(engine.meta()),
        "sources": sorted(engine.source_states(), key=lambda s: s["source"]),
    }


# ------------------------------------------------------------------ records written and read back

KIND_IDS = [k.__name__ for k in KINDS]


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_a_record_of_every_kind_reads_back_equal_with_its_new_id(engine_factory, kind):
    engine = engine_factory()
    first, second = SAMPLES[kind]
    ids = engine.write(Changes(added=(first, second)))
    assert len(ids) == 2 and ids[0] != ids[1]
    expected = [replace(first, id=ids[0]), replace(second, id=ids[1])]
    assert list(engine.read(kind)) == expected
    assert [engine.get(kind, i) for i in ids] == expected
    assert engine.count(kind) == 2


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_once_3_a_written_record_of_every_kind_is_there_after_reopening(engine_factory, kind):
    engine = engine_factory()
    ids = engine.write(Changes(added=SAMPLES[kind]))
    engine = engine_factory.reopen(engine)
    assert list(engine.read(kind)) == [replace(r, id=i) for r, i in zip(SAMPLES[kind], ids, strict=True)]
    assert engine.count(kind) == 2


REFUSED_TEXT = "a\x00NUL, a lone \udc80 surrogate, and a private \ue000\ue001 mark"  # what a server's text refuses


def test_text_with_a_nul_or_a_lone_surrogate_reads_back_exactly_and_is_found_by_it(engine_factory):
    """A hostile message's header may carry a NUL, an undecodable one a lone surrogate: the
    e-mail, its contact and its listing row keep them, byte for byte, and the lookups find them."""
    engine = engine_factory()
    odd = f"li{REFUSED_TEXT}@acme.example"
    email = replace(SAMPLES[Email][0], identity=f"m{REFUSED_TEXT}", subject=REFUSED_TEXT, contacts=(odd,))
    [contact_id, email_id] = engine.write(Changes(added=(Contact(email=odd, name=REFUSED_TEXT), email)))
    for reopened in (False, True):
        engine = engine_factory.reopen(engine) if reopened else engine
        assert engine.get(Email, email_id) == replace(email, id=email_id)
        assert engine.is_logged(f"m{REFUSED_TEXT}") and engine.email_id(f"m{REFUSED_TEXT}") == email_id
        assert engine.contact(odd) == Contact(email=odd, name=REFUSED_TEXT, id=contact_id)
        assert [e.id for e in engine.read(Email, where={"contacts": odd})] == [email_id]
        assert engine.tally(Email, "subject") == {REFUSED_TEXT: 1}


def test_ids_come_back_in_the_order_added_across_kinds(engine_factory):
    engine = engine_factory()
    added = (SAMPLES[Contact][0], SAMPLES[Company][0], SAMPLES[Contact][1], SAMPLES[Deal][0], SAMPLES[Company][1])
    ids = engine.write(Changes(added=added))
    assert len(ids) == len(added)
    assert [engine.get(type(r), i) for r, i in zip(added, ids, strict=True)] == [
        replace(r, id=i) for r, i in zip(added, ids, strict=True)
    ]
    assert ids[0] != ids[2] and ids[1] != ids[4]  # distinct within a kind
    later = engine.write(Changes(added=(replace(SAMPLES[Contact][0], email="later@acme.example"),)))
    assert later[0] not in (ids[0], ids[2])


def test_get_of_an_unknown_id_is_none(engine_factory):
    engine = engine_factory()
    [i] = engine.write(Changes(added=(SAMPLES[Contact][0],)))
    assert engine.get(Contact, i + 1000) is None
    assert engine.get(Company, i) is None  # ids are per kind


def test_an_empty_database_reads_empty(engine_factory):
    engine = engine_factory(write=False)
    assert all(engine.count(kind) == 0 and list(engine.read(kind)) == [] for kind in KINDS)
    assert engine.source_states() == []


def test_replaced_updates_a_record_whole_by_id(engine_factory):
    engine = engine_factory()
    ids = engine.write(Changes(added=SAMPLES[Contact]))
    new = replace(SAMPLES[Contact][0], id=ids[0], name="Li", company=None, source="forward-sender")
    assert engine.write(Changes(replaced=(new,))) == []
    assert engine.get(Contact, ids[0]) == new
    assert engine.get(Contact, ids[1]) == replace(SAMPLES[Contact][1], id=ids[1])  # the other untouched
    assert engine_factory.reopen(engine).get(Contact, ids[0]) == new


def test_replaced_drops_a_value_the_new_record_leaves_out(engine_factory):
    engine = engine_factory()
    mailed = SAMPLES[Notice][0]
    [i] = engine.write(Changes(added=(mailed,)))
    unmailed = replace(mailed, id=i, mailed=None)
    engine.write(Changes(replaced=(unmailed,)))
    assert engine.get(Notice, i) == unmailed


def test_removed_removes_by_table_and_id(engine_factory):
    engine = engine_factory()
    ids = engine.write(Changes(added=SAMPLES[Deal]))
    engine.write(Changes(removed=((Deal.TABLE, ids[0]),)))
    assert engine.get(Deal, ids[0]) is None
    assert list(engine.read(Deal)) == [replace(SAMPLES[Deal][1], id=ids[1])]
    assert engine.count(Deal) == 1
    assert engine_factory.reopen(engine).count(Deal) == 1


@pytest.mark.parametrize("index_built", [False, True], ids=["cold", "looked-up-before"])
def test_rej_1_removal_comes_before_addition_in_one_batch(engine_factory, index_built):
    """A message rejected again: its old rejection removed and the new one added in one batch."""
    engine = engine_factory()
    old = SAMPLES[Rejection][0]
    [old_id] = engine.write(Changes(added=(old,)))
    if index_built:
        assert engine.rejection_id(old.identity) == old_id
    new = replace(old, code="read-only-seat", reason="read-only seat", key="2.host")
    [new_id] = engine.write(Changes(removed=((Rejection.TABLE, old_id),), added=(new,)))
    assert engine.rejection_id(old.identity) == new_id
    assert list(engine.read(Rejection)) == [replace(new, id=new_id)]
    engine = engine_factory.reopen(engine)
    assert engine.rejection_id(old.identity) == new_id
    assert list(engine.read(Rejection)) == [replace(new, id=new_id)]


# ------------------------------------------------------------------ reads: where, newest first, limit, tally


def test_read_where_a_field_equals(engine_factory):
    engine = engine_factory()
    ids = engine.write(Changes(added=(email(1, date=T0), email(2, date=T0, path="forward"), email(3, date=T0))))
    assert [e.id for e in engine.read(Email, where={"path": "bcc"})] == [ids[0], ids[2]]
    assert [e.id for e in engine.read(Email, where={"path": "forward"})] == [ids[1]]
    assert list(engine.read(Email, where={"path": "nowhere"})) == []


def test_read_where_a_list_field_contains(engine_factory):
    engine = engine_factory()
    added = (
        email(1, date=T0, contacts=("li@acme.example",)),
        email(2, date=T0, contacts=("jo@globex.example", "li@acme.example")),
        email(3, date=T0, contacts=("jo@globex.example",)),
    )
    ids = engine.write(Changes(added=added))
    assert [e.id for e in engine.read(Email, where={"contacts": "li@acme.example"})] == ids[:2]
    assert [e.id for e in engine.read(Email, where={"contacts": "jo@globex.example"})] == ids[1:]
    assert [e.id for e in engine.read(Email, where={"contacts": "li@acme.example", "subject": "e-mail 2"})] == [ids[1]]
    assert list(engine.read(Email, where={"contacts": "acme.example"})) == []  # an element, not a substring
    deals = engine.write(Changes(added=SAMPLES[Deal]))
    assert [d.id for d in engine.read(Deal, where={"contacts": "jo@freemail.example"})] == [deals[1]]


def test_read_by_id_and_limit(engine_factory):
    engine = engine_factory()
    ids = engine.write(Changes(added=(email(1, date=T0), email(2, date=None), email(3, date="2020-01-01"))))
    assert [e.id for e in engine.read(Email)] == sorted(ids)
    assert [e.id for e in engine.read(Email, limit=2)] == sorted(ids)[:2]


def test_newest_first_by_date_then_id_none_last(engine_factory):
    engine = engine_factory()
    added = (
        email(1, date="2026-01-02T09:00:00+00:00"),
        email(2, date=None),
        email(3, date="2026-01-03T09:00:00+00:00"),
        email(4, date="2026-01-02T09:00:00+00:00"),
        email(5, date="2025-12-31T23:00:00+00:00"),
    )
    i1, i2, i3, i4, i5 = engine.write(Changes(added=added))
    assert [e.id for e in engine.read(Email, newest_first=True)] == [i3, i4, i1, i5, i2]
    assert [e.id for e in engine.read(Email, newest_first=True, limit=2)] == [i3, i4]
    assert [e.id for e in engine.read(Email, newest_first=True, limit=5)] == [i3, i4, i1, i5, i2]
    assert [e.id for e in engine_factory.reopen(engine).read(Email, newest_first=True, limit=3)] == [i3, i4, i1]


def test_newest_first_with_where(engine_factory):
    engine = engine_factory()
    added = (
        email(1, date="2026-01-01T09:00:00+00:00", contacts=("li@acme.example",)),
        email(2, date="2026-01-03T09:00:00+00:00"),
        email(3, date=None, contacts=("li@acme.example",)),
        email(4, date="2026-01-02T09:00:00+00:00", contacts=("li@acme.example",)),
    )
    i1, _, i3, i4 = engine.write(Changes(added=added))
    found = engine.read(Email, where={"contacts": "li@acme.example"}, newest_first=True)
    assert [e.id for e in found] == [i4, i1, i3]
    found = engine.read(Email, where={"contacts": "li@acme.example"}, newest_first=True, limit=1)
    assert [e.id for e in found] == [i4]


def test_newest_first_orders_other_dated_kinds_too(engine_factory):
    engine = engine_factory()
    dated, undated = SAMPLES[Rejection]
    later = replace(dated, identity="r9@else.example", date="2026-07-01T00:00:00+00:00")
    ids = engine.write(Changes(added=(undated, dated, later)))
    assert [r.id for r in engine.read(Rejection, newest_first=True)] == [ids[2], ids[1], ids[0]]


def test_tally_a_plain_field(engine_factory):
    engine = engine_factory()
    contacts = (
        Contact(email="a@acme.example", company="acme.example"),
        Contact(email="b@acme.example", company="acme.example"),
        Contact(email="c@globex.example", company="globex.example"),
        Contact(email="d@freemail.example", company=None),
    )
    engine.write(Changes(added=contacts))
    counts = engine.tally(Contact, "company")
    assert counts["acme.example"] == 2 and counts["globex.example"] == 1
    assert counts["initech.example"] == 0
    assert sum(counts.values()) == engine.count(Contact)  # one value per record


def test_tally_a_list_field_counts_each_element(engine_factory):
    engine = engine_factory()
    added = (
        email(1, date=T0, contacts=("li@acme.example",)),
        email(2, date=T0, contacts=("jo@globex.example", "li@acme.example")),
        email(3, date=T0),
    )
    engine.write(Changes(added=added))
    assert engine.tally(Email, "contacts") == Counter({"li@acme.example": 2, "jo@globex.example": 1})
    assert engine.tally(Email, "path") == Counter({"bcc": 3})


def test_attr_6_tally_of_several_fields_counts_each_combination_as_the_records_hold_it(engine_factory):
    engine = engine_factory()
    added = (
        email(1, date=T0),
        email(2, date=T0, path="forward"),
        replace(email(3, date=T0), rule="ATTR-4", sender="ben@ourco.example"),
        email(4, date=None),
    )
    engine.write(Changes(added=added))
    by_records = Counter((e.user, e.path, e.rule) for e in engine.read(Email))
    assert engine.tally(Email, ("user", "path", "rule")) == by_records
    assert by_records == Counter(
        {
            ("anna@ourco.example", "bcc", "ATTR-1"): 2,
            ("anna@ourco.example", "forward", "ATTR-1"): 1,
            ("anna@ourco.example", "bcc", "ATTR-4"): 1,
        }
    )
    assert engine.tally(Email, "sender") == Counter({"anna@ourco.example": 3, "ben@ourco.example": 1})
    assert [e.id for e in engine.read(Email, where={"sender": "ben@ourco.example"})] == [3]


def test_tally_of_an_empty_kind_is_empty(engine_factory):
    assert engine_factory(write=False).tally(Email, "contacts") == Counter()


# ------------------------------------------------------------------ the rules' lookups


def test_bcc_1_contact_by_address_in_the_same_engine_and_after_reopening(engine_factory):
    engine = engine_factory()
    li, jo = SAMPLES[Contact]
    ids = engine.write(Changes(added=(li, jo)))
    assert engine.contact(li.email) == replace(li, id=ids[0])
    assert engine.contact("nobody@acme.example") is None
    assert engine_factory.reopen(engine).contact(jo.email) == replace(jo, id=ids[1])


def test_bcc_1_contact_looked_up_before_a_write_is_found_after_it_with_its_id(engine_factory):
    engine = engine_factory()
    li = SAMPLES[Contact][0]
    assert engine.contact(li.email) is None
    [i] = engine.write(Changes(added=(li,)))
    assert engine.contact(li.email) == replace(li, id=i)


def test_bcc_1_contact_looked_up_before_a_write_is_found_after_it(engine_factory):
    engine = engine_factory()
    li = SAMPLES[Contact][0]
    assert engine.contact(li.email) is None
    engine.write(Changes(added=(li,)))
    found = engine.contact(li.email)
    assert found is not None and replace(found, id=0) == li


def test_bcc_1_contact_lookup_sees_a_replacement(engine_factory):
    engine = engine_factory()
    li = SAMPLES[Contact][0]
    [i] = engine.write(Changes(added=(li,)))
    assert engine.contact(li.email) == replace(li, id=i)
    renamed = replace(li, id=i, name="Li Wei")
    engine.write(Changes(replaced=(renamed,)))
    assert engine.contact(li.email) == renamed


def test_comp_1_has_company_in_the_same_engine_and_after_reopening(engine_factory):
    engine = engine_factory()
    assert not engine.has_company("acme.example")
    engine.write(Changes(added=(SAMPLES[Company][0],)))
    assert engine.has_company("acme.example")
    assert not engine.has_company("globex.example")
    assert not engine.has_company("example")
    engine = engine_factory.reopen(engine)
    assert engine.has_company("acme.example") and not engine.has_company("globex.example")


def test_bcc_3_deals_of_a_contact_in_the_same_engine_and_after_reopening(engine_factory):
    engine = engine_factory()
    assert engine.deals_of("li.wei@acme.example") == ()
    renewal, pilot = SAMPLES[Deal]
    ids = engine.write(Changes(added=(renewal, pilot)))
    both = (replace(renewal, id=ids[0]), replace(pilot, id=ids[1]))
    assert sorted(engine.deals_of("li.wei@acme.example"), key=lambda d: d.id) == sorted(both, key=lambda d: d.id)
    assert engine.deals_of("jo@freemail.example") == (both[1],)
    assert engine.deals_of("nobody@acme.example") == ()
    engine = engine_factory.reopen(engine)
    assert engine.deals_of("jo@freemail.example") == (both[1],)


def test_bcc_3_deals_of_sees_a_deal_closed(engine_factory):
    engine = engine_factory()
    renewal = SAMPLES[Deal][0]
    [i] = engine.write(Changes(added=(renewal,)))
    assert engine.deals_of("li.wei@acme.example")[0].is_open
    engine.write(Changes(replaced=(replace(renewal, id=i, stage="lost"),)))
    assert engine.deals_of("li.wei@acme.example") == (replace(renewal, id=i, stage="lost"),)
    assert engine_factory.reopen(engine).deals_of("li.wei@acme.example")[0].stage == "lost"


@pytest.mark.parametrize("kind", [Contact, Company, Deal, Email], ids=lambda k: k.__name__)
def test_a_removed_record_is_gone_from_the_lookups(engine_factory, kind):
    engine = engine_factory()
    record = SAMPLES[kind][0]
    lookups: dict[type[Record], Callable[[], object]] = {
        Contact: lambda: engine.contact("li.wei@acme.example"),
        Company: lambda: engine.has_company("acme.example"),
        Deal: lambda: engine.deals_of("li.wei@acme.example"),
        Email: lambda: engine.is_logged("m1@ourco.example"),
    }
    [i] = engine.write(Changes(added=(record,)))
    assert lookups[kind]()  # found, and its index built
    engine.write(Changes(removed=((kind.TABLE, i),)))
    assert not lookups[kind]()


def test_once_1_is_logged_by_message_id_or_sha256_identity(engine_factory):
    engine = engine_factory()
    with_id, without_id = SAMPLES[Email]
    assert not engine.is_logged(with_id.identity) and not engine.is_logged(RAW_SHA)
    engine.write(Changes(added=(with_id, without_id)))
    assert engine.is_logged("m1@ourco.example")
    assert engine.is_logged(RAW_SHA)  # a message without a Message-ID: its sha256 identity
    assert not engine.is_logged("")  # an empty Message-ID is no identity
    assert not engine.is_logged("m2@ourco.example")
    engine = engine_factory.reopen(engine)
    assert engine.is_logged("m1@ourco.example") and engine.is_logged(RAW_SHA)
    assert not engine.is_logged("")


def test_once_1_a_rejection_is_not_logged(engine_factory):
    engine = engine_factory()
    engine.write(Changes(added=(SAMPLES[Rejection][0],)))
    assert not engine.is_logged("r1@else.example")


def test_rej_1_rejection_id_in_the_same_engine_and_after_reopening(engine_factory):
    engine = engine_factory()
    first, second = SAMPLES[Rejection]
    assert engine.rejection_id(first.identity) is None
    ids = engine.write(Changes(added=(first, second)))
    assert engine.rejection_id(first.identity) == ids[0]
    assert engine.rejection_id(RAW_SHA) == ids[1]
    assert engine.rejection_id("m1@ourco.example") is None
    engine = engine_factory.reopen(engine)
    assert engine.rejection_id(first.identity) == ids[0] and engine.rejection_id(RAW_SHA) == ids[1]


def test_rej_1_a_removed_rejection_has_no_id(engine_factory):
    engine = engine_factory()
    rejection = SAMPLES[Rejection][0]
    [i] = engine.write(Changes(added=(rejection,)))
    assert engine.rejection_id(rejection.identity) == i
    engine.write(Changes(removed=((Rejection.TABLE, i),)))
    assert engine.rejection_id(rejection.identity) is None
    assert engine_factory.reopen(engine).rejection_id(rejection.identity) is None


# ------------------------------------------------------------------ meta and the mailboxes' states


def test_meta_round_trip_and_later_batches_keep_earlier_keys(engine_factory):
    engine = engine_factory()
    engine.write(Changes(meta={"summary_sent": T0, "packs": 3}))
    assert engine.meta()["summary_sent"] == T0 and engine.meta()["packs"] == 3
    engine.write(Changes(meta={"packs": 4}))
    engine = engine_factory.reopen(engine)
    assert engine.meta()["summary_sent"] == T0
    assert engine.meta()["packs"] == 4


def maildir_state(source: str, *keys: str) -> dict[str, Any]:
    return {"source": source, "kind": "maildir", "keys": list(keys)}


def test_once_2_source_states_round_trip(engine_factory):
    engine = engine_factory()
    inbox = maildir_state("Maildir/inbox", "1.host", "2.host")
    mbox = {"source": "Maildir/archive.mbox", "kind": "mbox", "offset": 4096, "tail": "ab" * 32}
    engine.write(Changes(sources=(inbox, mbox)))
    assert sorted(engine.source_states(), key=lambda s: s["source"]) == [mbox, inbox]
    engine = engine_factory.reopen(engine)
    assert sorted(engine.source_states(), key=lambda s: s["source"]) == [mbox, inbox]


def test_once_2_a_source_written_twice_keeps_the_later_state(engine_factory):
    engine = engine_factory()
    engine.write(Changes(sources=(maildir_state("Maildir/inbox", "1.host"), maildir_state("Maildir/sent"))))
    engine.write(Changes(sources=(maildir_state("Maildir/inbox", "1.host", "2.host"),)))
    expected = [maildir_state("Maildir/inbox", "1.host", "2.host"), maildir_state("Maildir/sent")]
    assert sorted(engine.source_states(), key=lambda s: s["source"]) == expected
    engine = engine_factory.reopen(engine, write=True)
    engine.write(Changes(sources=(maildir_state("Maildir/inbox", "3.host"),)))
    expected[0] = maildir_state("Maildir/inbox", "3.host")
    assert sorted(engine_factory.reopen(engine).source_states(), key=lambda s: s["source"]) == expected


# ------------------------------------------------------------------ a dry run


def test_a_dry_run_applies_a_batch_in_memory_only(engine_factory):
    engine = engine_factory()
    kept = SAMPLES[Contact][0]
    [kept_id] = engine.write(Changes(added=(kept,), meta={"packs": 1}))
    before = everything(engine)
    engine.close()

    dry = engine_factory(dry_run=True)
    ids = dry.write(
        Changes(
            added=(SAMPLES[Contact][1], SAMPLES[Email][0], SAMPLES[Rejection][0]),
            replaced=(replace(kept, id=kept_id, name="renamed"),),
            sources=(maildir_state("Maildir/inbox", "1.host"),),
            meta={"packs": 2},
        )
    )
    assert dry.count(Contact) == 2 and dry.get(Contact, kept_id).name == "renamed"
    assert dry.contact(SAMPLES[Contact][1].email) is not None
    assert dry.is_logged("m1@ourco.example") and dry.rejection_id("r1@else.example") == ids[2]
    assert dry.meta()["packs"] == 2 and len(dry.source_states()) == 1

    assert everything(engine_factory.reopen(dry)) == before


# ------------------------------------------------------------------ blobs


BODY = EmailBody(
    text="Hello Li,\nthe offer is attached.\n",
    html="<p>Hello Li,</p>",
    from_name="Anna",
    to=("li.wei@acme.example",),
    cc=("jo@freemail.example",),
    credit=Credit(rule="ATTR-1", candidates=("anna@ourco.example",), session_user=None),
    rules=("ADDR-2", "ATTR-1", "BCC-1"),
    source="Maildir/sent",
    key="1.host",
    logged_at=T0,
)


def log_with_body(engine: Engine, body: EmailBody, n: int = 1) -> Email:
    """What the unit of work does: bodies made durable first, then the record pointing to them."""
    ref = engine.blobs.add_body(body)
    meta = engine.blobs.flush()
    record = replace(email(n, date=T0), body=ref)
    [i] = engine.write(Changes(added=(record,), meta=meta))
    return replace(record, id=i)


def test_a_body_reads_back_equal_after_reopening(engine_factory):
    engine = engine_factory()
    first = log_with_body(engine, BODY, 1)
    second = log_with_body(engine, replace(BODY, text="second batch", credit=None), 2)
    assert engine.blobs.body(first.body) == BODY
    engine = engine_factory.reopen(engine)
    assert engine.get(Email, first.id) == first
    assert engine.blobs.body(first.body) == BODY
    assert engine.blobs.body(second.body) == replace(BODY, text="second batch", credit=None)


def test_bodies_of_one_batch_each_read_back(engine_factory):
    engine = engine_factory()
    bodies = [replace(BODY, text=f"body {n} " * n) for n in range(1, 4)]
    refs = [engine.blobs.add_body(b) for b in bodies]
    assert len(set(refs)) == 3
    engine.write(Changes(meta=engine.blobs.flush()))
    engine = engine_factory.reopen(engine)
    assert [engine.blobs.body(r) for r in refs] == bodies


def test_pending_bytes_until_flush_or_discard(engine_factory):
    engine = engine_factory()
    assert engine.blobs.pending_bytes == 0
    engine.blobs.add_body(BODY)
    assert engine.blobs.pending_bytes > 0
    engine.blobs.flush()
    assert engine.blobs.pending_bytes == 0
    engine.blobs.add_body(BODY)
    engine.blobs.discard()
    assert engine.blobs.pending_bytes == 0


def test_sec_1_attachment_by_its_sha256(engine_factory):
    engine = engine_factory()
    engine.blobs.add_attachment(PDF_SHA, PDF)
    assert engine.blobs.attachment(PDF_SHA) == PDF
    engine.blobs.add_attachment(PDF_SHA, PDF)  # the same contents again: one copy, unchanged
    engine.write(Changes(added=(SAMPLES[Email][0],), meta=engine.blobs.flush()))
    engine = engine_factory.reopen(engine)
    assert engine.blobs.attachment(PDF_SHA) == PDF


def test_sec_1_attachment_of_an_unknown_sha256_is_none(engine_factory):
    engine = engine_factory()
    assert engine.blobs.attachment(hashlib.sha256(b"never stored").hexdigest()) is None
    engine.blobs.add_attachment(PDF_SHA, PDF)
    assert engine.blobs.attachment(hashlib.sha256(b"never stored").hexdigest()) is None


def test_once_3_a_batch_never_written_leaves_nothing_behind(engine_factory):
    """A crash before flush and write: nothing of the batch is there after reopening."""
    engine = engine_factory()
    kept = log_with_body(engine, BODY, 1)
    before = everything(engine)
    ref = engine.blobs.add_body(replace(BODY, text="lost"))
    engine.blobs.add_attachment(PDF_SHA, PDF)
    assert ref != kept.body
    engine = engine_factory.reopen(engine)  # neither flush nor write happened
    assert everything(engine) == before
    assert engine.blobs.body(kept.body) == BODY
    with pytest.raises(DataError):
        engine.blobs.body(ref)


def test_once_3_bodies_flushed_but_never_written_are_overwritten_by_the_next_batch(engine_factory):
    """A crash between the blobs' flush and the records' write: the next batch's bodies read
    back as themselves, whatever the dead batch left."""
    engine = engine_factory()
    engine.blobs.add_body(replace(BODY, text="flushed, never pointed to " * 50))
    engine.blobs.flush()
    engine = engine_factory.reopen(engine, write=True)
    logged = log_with_body(engine, BODY, 1)
    assert engine_factory.reopen(engine).blobs.body(logged.body) == BODY


# ------------------------------------------------------------------ all or nothing, one writer


def test_once_3_a_failed_write_raises_and_leaves_the_previous_state_whole(engine_factory, monkeypatch):
    engine = engine_factory()
    ids = engine.write(
        Changes(
            added=(SAMPLES[Contact][0], SAMPLES[Deal][0], SAMPLES[Rejection][0]),
            sources=(maildir_state("Maildir/inbox", "1.host"),),
            meta={"summary_sent": T0},
        )
    )
    before = everything(engine)
    engine_factory.fail_writes(monkeypatch)
    with pytest.raises(StorageIOError) as failed:
        engine.write(
            Changes(
                added=(SAMPLES[Contact][1], SAMPLES[Email][0]),
                replaced=(replace(SAMPLES[Deal][0], id=ids[1], stage="won"),),
                removed=((Rejection.TABLE, ids[2]),),
                sources=(maildir_state("Maildir/inbox", "1.host", "2.host"), maildir_state("Maildir/sent", "9.host")),
                meta={"summary_sent": "2026-06-02T00:00:00+00:00", "packs": 7},
            )
        )
    assert failed.value.exit_code == 74
    monkeypatch.undo()
    engine = engine_factory.reopen(engine)
    assert everything(engine) == before
    assert engine.rejection_id("r1@else.example") == ids[2]
    assert not engine.is_logged("m1@ourco.example")


def test_once_4_a_second_writer_waits_then_gives_up(engine_factory):
    """While another writer holds the lock (the embedded engine's from its opening on; a
    server's for the time of a write), a writer waits for it up to its timeout, then gives up
    without writing anything."""
    with engine_factory.another_writer():
        started = time.monotonic()
        with pytest.raises(LockBusy) as busy:
            engine_factory(lock_timeout=0.3).write(Changes(added=(SAMPLES[Contact][0],)))
        assert time.monotonic() - started >= 0.25  # it waited
    assert busy.value.exit_code == 75
    assert engine_factory(write=False).count(Contact) == 0


def test_once_4_the_lock_is_free_once_the_writer_closes(engine_factory):
    first = engine_factory()
    first.write(Changes(added=(SAMPLES[Contact][0],)))
    first.close()
    second = engine_factory(lock_timeout=0.3)
    assert second.count(Contact) == 1


def test_once_4_a_reader_never_waits_for_the_writer(engine_factory):
    writer = engine_factory()
    [i] = writer.write(Changes(added=(SAMPLES[Contact][0],)))
    started = time.monotonic()
    reader = engine_factory(write=False, lock_timeout=5.0)
    assert time.monotonic() - started < 2.0
    assert reader.get(Contact, i) == replace(SAMPLES[Contact][0], id=i)


# ------------------------------------------------------------------ correcting the CRM (LIFE-1..6)


def test_life_4_a_contact_is_found_by_an_address_merged_into_it(engine_factory):
    engine = engine_factory()
    jo = SAMPLES[Contact][1]  # aliases=("jo.old@freemail.example",)
    [i] = engine.write(Changes(added=(jo,)))
    assert engine.contact("jo.old@freemail.example") == replace(jo, id=i)
    assert engine_factory.reopen(engine).contact("jo.old@freemail.example") == replace(jo, id=i)


def test_life_5_a_deleted_message_stays_logged_but_has_no_email(engine_factory):
    engine = engine_factory()
    email = SAMPLES[Email][0]
    [i] = engine.write(Changes(added=(email,)))
    assert engine.email_id(email.identity) == i
    engine.write(Changes(removed=((Email.TABLE, i),), added=(Deleted(identity=email.identity),)))
    assert engine.email_id(email.identity) is None
    assert engine.is_logged(email.identity)  # decided for good
    assert engine_factory.reopen(engine).is_logged(email.identity)


def test_life_3_a_forgotten_hash_is_known(engine_factory):
    engine = engine_factory()
    assert not engine.is_forgotten("ab" * 32)
    engine.write(Changes(added=(SAMPLES[Forgotten][0],)))
    assert engine.is_forgotten("ab" * 32) and not engine.is_forgotten("cd" * 32)
    assert engine_factory.reopen(engine).is_forgotten("ab" * 32)


def test_life_6_next_id_and_stored_documents(engine_factory):
    engine = engine_factory()
    assert engine.next_id(Run) == 1 and engine.document(Run.TABLE, 1) is None
    [i] = engine.write(Changes(added=(SAMPLES[Run][1],)))
    assert engine.next_id(Run) == i + 1
    assert engine.document(Run.TABLE, i) == SAMPLES[Run][1].to_doc()


def test_life_6_a_restored_record_is_back_in_its_place_under_its_id(engine_factory):
    engine = engine_factory()
    a, b = SAMPLES[Contact]
    ids = engine.write(Changes(added=(a, b)))
    engine.write(Changes(removed=((Contact.TABLE, ids[0]),)))
    engine.write(Changes(restored=((Contact.TABLE, ids[0], a.to_doc()),)))
    expected = [replace(a, id=ids[0]), replace(b, id=ids[1])]
    assert list(engine.read(Contact)) == expected  # in id order
    assert engine.contact(a.email) == expected[0]
    assert list(engine_factory.reopen(engine).read(Contact)) == expected


def test_life_6_a_dropped_source_state_is_gone(engine_factory):
    engine = engine_factory()
    state = {"source": "/m/Maildir", "kind": "maildir", "keys": ["1.host"]}
    engine.write(Changes(sources=(state,)))
    engine.write(Changes(dropped_sources=("/m/Maildir",)))
    assert engine.source_states() == []
    assert engine_factory.reopen(engine).source_states() == []


def test_life_6_a_run_journals_what_its_batches_add_change_and_move_on(engine_factory):
    """The undo journal is written with the batch it accounts for (journal.py's form)."""
    engine = engine_factory()
    rejection = SAMPLES[Rejection][0]
    [r] = engine.write(Changes(added=(rejection,), sources=({"source": "M", "kind": "maildir", "keys": ["1"]},)))
    run = engine.next_id(Run)
    progress = RunProgress(id=run, fields={"started": T0, "counts": {"logged": 1}, "listing": 0}, files=("x",))
    contact = SAMPLES[Contact][0]
    [c] = engine.write(
        Changes(
            added=(contact,),
            removed=((Rejection.TABLE, r),),
            sources=({"source": "M", "kind": "maildir", "keys": ["1", "2"]}, {"source": "N", "kind": "mbox"}),
            run=progress,
        )
    )
    stored = engine_factory.reopen(engine).get(Run, run)
    assert stored is not None and stored.counts == {"logged": 1}
    assert stored.undo == {
        "added": {Contact.TABLE: [c]},
        "changed": [[Rejection.TABLE, r, rejection.to_doc()]],
        "sources": {"M": {"added": ["2"], "dropped": []}, "N": {"new": True}},
        "files": ["x"],
    }
