"""What only a CRM on a PostgreSQL server has to hold (the contract of both engines is
tests/test_engines.py): several hosts writing at once (ONCE-1, ONCE-3, ONCE-4), mailbox states
per host, the schema's version, and the URL through the real CLI. On a private server
(tests/pg.py), never a mock."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace

import psycopg
import pytest
from click.testing import CliRunner
from pg import ADMIN
from psycopg.conninfo import conninfo_to_dict

from crmlog.cli import main
from crmlog.errors import DataError, NoDatabase
from crmlog.records import Company, Contact, Email, EmailBody, Notice, Run
from crmlog.store.engine import Changes, RunProgress
from crmlog.store.pgengine import PgEngine
from crmlog.store.pgschema import SCHEMA_VERSION

T0 = "2026-06-01T09:00:00+00:00"


def logged(n: int, body=None) -> tuple[Company, Contact, Email, Notice]:
    """What a host queues for one message it logs: a new company and contact, the e-mail, a notice."""
    email = Email(
        identity=f"m{n}@ourco.example",
        message_id=f"m{n}@ourco.example",
        subject=f"offer {n}",
        date=T0,
        path="bcc",
        user="anna@ourco.example",
        rule="ATTR-1",
        sender="anna@ourco.example",
        contacts=("li@acme.example",),
        companies=("acme.example",),
        body=body,
    )
    notice = Notice(kind="delivery-error", user="anna@ourco.example", message_id=email.message_id, detail="x", date=T0)
    return (
        Company(domain="acme.example", name="Acme"),
        Contact(email="li@acme.example", company="acme.example"),
        email,
        notice,
    )


def test_once_1_a_message_two_hosts_decided_on_before_either_wrote_is_logged_once(pg_url):
    first = PgEngine(pg_url, write=True, host="mx1")
    second = PgEngine(pg_url, write=True, host="mx2")
    try:
        assert not first.is_logged("m1@ourco.example") and not second.is_logged("m1@ourco.example")  # both decide
        ids = first.write(
            Changes(added=logged(1, first.blobs.add_body(EmailBody(text="one"))), meta=first.blobs.flush())
        )
        ref = second.blobs.add_body(EmailBody(text="the same, from the other host"))
        second.blobs.flush()
        run = second.next_id(Run)
        again = second.write(
            Changes(added=logged(1, ref), run=RunProgress(id=run, fields={"started": T0}), meta={"packs": 0})
        )
        assert again[:3] == ids[:3]  # the stored company, contact and e-mail
        assert [first.count(kind) for kind in (Company, Contact, Email, Notice)] == [1, 1, 1, 1]
        assert second.get(Email, again[2]).subject == "offer 1"
        with pytest.raises(DataError):
            second.blobs.body(ref)  # the second body was not kept
        undo = second.get(Run, run).undo
        assert undo["added"] == {}  # undoing the second run leaves the first host's records
    finally:
        first.close()
        second.close()


def test_once_1_two_hosts_writing_the_same_messages_at_once_log_each_once(pg_url):
    messages = 30
    barrier = threading.Barrier(2)
    got: dict[str, dict[str, int]] = {}
    errors: list[BaseException] = []

    def host(name: str) -> None:
        try:
            engine = PgEngine(pg_url, write=True, host=name, lock_timeout=60)
            try:
                barrier.wait()
                order = range(messages) if name == "mx1" else reversed(range(messages))
                got[name] = {}
                for n in order:
                    [_, _, email_id, _] = engine.write(Changes(added=logged(n)))
                    got[name][f"m{n}@ourco.example"] = email_id
            finally:
                engine.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=host, args=(name,)) for name in ("mx1", "mx2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    reader = PgEngine(pg_url, write=False)
    try:
        assert reader.count(Email) == messages
        assert reader.count(Contact) == 1 and reader.count(Company) == 1 and reader.count(Notice) == messages
        assert got["mx1"] == got["mx2"] == {e.identity: e.id for e in reader.read(Email)}
    finally:
        reader.close()


WRITER = """
import sys
from crmlog.records import Contact, Email
from crmlog.store.engine import Changes
from crmlog.store.pgengine import PgEngine

engine = PgEngine(sys.argv[1], write=True, lock_timeout=600)
email = Email(identity="k@ourco.example", message_id="k@ourco.example", subject="s", date=None, path="bcc",
              user="anna@ourco.example", rule="ATTR-1", sender="anna@ourco.example")
engine.write(Changes(added=(Contact(email="li@acme.example"), email), meta={"written": True}))
print("written")
"""


def test_once_3_a_writer_killed_in_the_middle_of_its_write_leaves_nothing_of_it(pg_server, pg_url, tmp_path):
    name = conninfo_to_dict(pg_url)["dbname"]
    admin = psycopg.connect(pg_server.url(name, ADMIN))  # a transaction: holds meta while the writer reaches it
    admin.execute("LOCK TABLE meta IN ACCESS EXCLUSIVE MODE")
    writer = subprocess.Popen([sys.executable, "-c", WRITER, pg_url], stdout=subprocess.PIPE, text=True)
    try:
        with psycopg.connect(pg_server.url(name, ADMIN), autocommit=True) as watch:
            deadline = time.monotonic() + 120
            while not watch.execute(  # its e-mail and contact inserted, waiting for meta
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'", (name,)
            ).fetchone()[0]:
                assert writer.poll() is None and time.monotonic() < deadline, "the writer never reached meta"
                time.sleep(0.01)
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
    finally:
        admin.rollback()
        admin.close()
    engine = PgEngine(pg_url, write=True, lock_timeout=60)  # waits for the dead writer's lock to go
    try:
        assert engine.count(Email) == 0 and engine.count(Contact) == 0 and "written" not in engine.meta()
        engine.write(Changes(added=(Contact(email="li@acme.example"),)))  # the next run does the work, once
        assert engine.count(Contact) == 1
    finally:
        engine.close()


def test_a_schema_newer_than_this_crmlog_is_refused_and_left_untouched(pg_server, pg_url):
    name = conninfo_to_dict(pg_url)["dbname"]
    with psycopg.connect(pg_server.url(name, ADMIN), autocommit=True) as admin:
        admin.execute("UPDATE schema_version SET version = %s", (SCHEMA_VERSION + 1,))
        for write in (True, False):
            with pytest.raises(DataError) as refused:
                PgEngine(pg_url, write=write)
            assert refused.value.exit_code == 65
        assert admin.execute("SELECT version FROM schema_version").fetchone()[0] == SCHEMA_VERSION + 1


def test_a_database_without_the_schema_is_no_crm_for_a_view_and_made_one_by_a_writer(pg_server):
    url = pg_server.url(pg_server.database(schema=False))
    with pytest.raises(NoDatabase) as missing:
        PgEngine(url, write=False)
    assert missing.value.exit_code == 66
    with pytest.raises(NoDatabase):
        PgEngine(url, write=True, create=False)
    PgEngine(url, write=True).close()
    engine = PgEngine(url, write=False)
    assert engine.count(Email) == 0 and engine.source_states() == []
    engine.close()


def test_once_2_mailbox_states_are_each_hosts_own(pg_url):
    first = PgEngine(pg_url, write=True, host="mx1")
    second = PgEngine(pg_url, write=True, host="mx2")
    try:
        state = {"source": "/var/mail/Maildir", "kind": "maildir", "keys": ["1.mx1"]}
        first.write(Changes(sources=(state,)))
        assert second.source_state("/var/mail/Maildir") is None and second.source_states() == []
        other = {**state, "keys": ["1.mx2", "2.mx2"]}
        second.write(Changes(sources=(other,)))
        assert first.source_states() == [state] and second.source_states() == [other]
        second.write(Changes(dropped_sources=("/var/mail/Maildir",)))
        assert first.source_state("/var/mail/Maildir") == state and second.source_states() == []
    finally:
        first.close()
        second.close()


def test_a_dry_run_writes_nothing_to_the_server(pg_url):
    dry = PgEngine(pg_url, write=True, dry_run=True)
    [i] = dry.write(Changes(added=(Contact(email="li@acme.example"),)))
    assert dry.get(Contact, i) is not None
    dry.close()
    assert PgEngine(pg_url, write=False).count(Contact) == 0


# ------------------------------------------------------------------ through the real CLI


def crmlog(*args: str):
    return CliRunner().invoke(main, list(args))


def test_the_url_works_through_the_cli(pg_url, tmp_path):
    config = str(tmp_path / "crmlog.toml")
    added = crmlog("--config", config, "--db", pg_url, "users", "add", "anna@ourco.example", "--name", "Anna")
    assert added.exit_code == 0, added.output
    listed = crmlog("--config", config, "--db", pg_url, "users", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert [(u["email"], u["name"]) for u in json.loads(listed.stdout)] == [("anna@ourco.example", "Anna")]


def test_a_view_of_a_database_without_a_crm_exits_66(pg_server):
    url = pg_server.url(pg_server.database(schema=False))
    result = crmlog("--db", url, "users", "list")
    assert result.exit_code == 66
    assert "no crmlog database" in result.stderr


def test_a_server_that_cannot_be_reached_is_one_line_without_the_password(tmp_path):
    url = f"postgresql://crm:s3cret-pw@/crm?host={tmp_path}"  # no server listens there
    result = crmlog("--db", url, "users", "list")
    assert result.exit_code == 74
    assert "s3cret-pw" not in result.output and "Traceback" not in result.output
    assert result.stderr.count("\n") == 1 and "cannot connect to the database postgresql://crm@/crm" in result.stderr


def test_an_email_of_another_host_keeps_its_id_for_the_batch_that_found_it(pg_url):
    """Store.commit maps a listing's rows to the ids the batch's e-mails got: a duplicate
    another host logged gets that host's e-mail's id, so `runs show` points at it."""
    first = PgEngine(pg_url, write=True, host="mx1")
    [_, _, stored, _] = first.write(Changes(added=logged(7)))
    second = PgEngine(pg_url, write=True, host="mx2")
    [_, _, found] = second.write(Changes(added=(*logged(7)[:2], replace(logged(7)[2], subject="other"))))
    assert found == stored and second.get(Email, found).subject == "offer 7"
    first.close()
    second.close()
