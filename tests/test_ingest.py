"""The ingest shell over real Maildirs: every addressed message ends logged or rejected (never
both, never neither), a second run changes nothing, unreadable files are retried."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import LOG, eml, make_maildir
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from stored import tables as stored_tables

from crmlog.ingest import Batch, ingest
from crmlog.model import Settings
from crmlog.records import Email
from crmlog.store import Store, edits

SETTINGS = Settings(bcc=(LOG,), forward=("fwd@crm.example.com",), max_attachment_bytes=50)
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def team_db(path: Path) -> Path:
    with Store.writer(path) as store:
        for email, seat in (("anna@ourco.example", "full"), ("ben@ourco.example", "read-only")):
            edits.add_user(
                store, email=email, name="", inboxes=[email], aliases=[], logins=[], seat=seat, permission=True, now=NOW
            )
        store.commit()
    return path


senders = st.sampled_from(["anna@ourco.example", "ben@ourco.example", "stranger@x.example"])
recipients = st.sampled_from(["li@acme.example", "maria@gmail.com", "anna@ourco.example", "", "noreply@acme.example"])
one_message = st.fixed_dictionaries(
    {
        "frm": senders,
        "to": recipients,
        "bcc": st.sampled_from([None, LOG, "LOG+x@crm.example.com", "other@crm.example.com"]),
        "delivered": st.booleans(),
        "mid": st.integers(min_value=0, max_value=6),
        "attach": st.sampled_from([0, 10, 100]),
        "folder": st.sampled_from(["", ".Sent"]),
    }
)


def build(spec: dict) -> tuple[str, bytes]:
    headers = {"Delivered-To": LOG} if spec["delivered"] else None
    attachments = [("a.bin", "application/octet-stream", b"x" * spec["attach"])] if spec["attach"] else []
    data = eml(
        frm=spec["frm"],
        to=spec["to"] or None,
        bcc=spec["bcc"],
        headers=headers,
        message_id=f"<m{spec['mid']}@x>",
        attachments=attachments,
    )
    return spec["folder"], data


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(one_message, min_size=1, max_size=12))
def test_every_addressed_message_ends_logged_or_rejected_and_rerun_changes_nothing(specs):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        layout: dict[str, list] = {"": [], ".Sent": []}
        for i, spec in enumerate(specs):
            folder, data = build(spec)
            layout[folder].append((f"{i}.msg", data))
        box = make_maildir(tmp / "M", layout)
        db = team_db(tmp / "crm.json")
        s = ingest([box], settings=SETTINGS, db_path=db)
        assert s.scanned == len(specs) == s.addressed + s.skipped
        assert s.addressed == s.logged + s.rejected + s.duplicates
        data = stored_tables(db)
        emails = list(data.get("emails", {}).values())
        rejections = list(data.get("rejections", {}).values())
        assert len(emails) == s.logged
        logged_ids = {Email.from_doc(e, 0).identity for e in emails}
        assert len(logged_ids) == len(emails)  # ONCE-1
        assert not logged_ids & {r["identity"] for r in rejections}  # never both
        before = db.read_bytes()
        again = ingest([box], settings=SETTINGS, db_path=db)
        assert (again.scanned, again.logged) == (0, 0)  # ONCE-2
        assert db.read_bytes() == before


def test_once_3_batches_commit_whole_prefixes(tmp_path):
    msgs = [(f"{i}", eml(bcc=LOG, message_id=f"<b{i}@x>", to=f"c{i}@acme.example")) for i in range(7)]
    box = make_maildir(tmp_path / "M", {"": msgs})
    db = team_db(tmp_path / "crm.json")
    seen_sizes = []

    def progress():
        if db.exists():
            data = stored_tables(db)
            keys = [k for s in data.get("sources", {}).values() for k in s["keys"]]
            seen_sizes.append((len(data.get("emails", {})), len(keys)))

    ingest([box], settings=SETTINGS, db_path=db, batch=Batch(parsed=3), progress=progress)
    # on disk, e-mails and their source state always move together, three at a time
    assert sorted(set(seen_sizes)) == [(0, 0), (3, 3), (6, 6)]
    assert len(stored_tables(db)["emails"]) == 7


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files of mode 000, so none is unreadable here")
def test_unreadable_message_is_reported_and_tried_again_next_run(tmp_path):
    box = make_maildir(tmp_path / "M", {"": [("a", eml(bcc=LOG))]})
    (box / "new" / "a").chmod(0)
    db = team_db(tmp_path / "crm.json")
    s = ingest([box], settings=SETTINGS, db_path=db)
    assert (s.unreadable, s.logged) == (1, 0) and "cannot read" in s.problems[0]
    (box / "new" / "a").chmod(0o600)
    assert ingest([box], settings=SETTINGS, db_path=db).logged == 1


def test_vanished_message_is_not_marked_seen(tmp_path):
    box = make_maildir(tmp_path / "M", {"": [("a", eml(bcc=LOG))]})
    os.symlink(box / "new" / "gone-target", box / "new" / "b")  # listed, but nothing to read
    db = team_db(tmp_path / "crm.json")
    s = ingest([box], settings=SETTINGS, db_path=db)
    assert (s.scanned, s.logged) == (1, 1)
    assert [s["keys"] for s in stored_tables(db)["sources"].values()] == [["a"]]


def test_file_names_that_are_not_utf8_and_8bit_headers_are_logged_once(tmp_path):
    box = make_maildir(tmp_path / "M", {"": []})
    data = (
        b"From: \xff\xfeAnna <anna@ourco.example>\nTo: Li \xe9\xff <li@acme.example>\nBcc: log@crm.example.com\n"
        b"Subject: caf\xe9\nMessage-ID: <eight@x>\nContent-Type: text/plain\n\nhi \xff\xfe\n"
    )
    with open(os.path.join(os.fsencode(box / "new"), b"\xff\xfe.msg"), "wb") as fh:
        fh.write(data)
    db = team_db(tmp_path / "crm.json")
    s = ingest([box], settings=SETTINGS, db_path=db)
    assert (s.scanned, s.logged) == (1, 1)
    stored = stored_tables(db)
    assert [s["keys"] for s in stored["sources"].values()] == [["\\xff\\xfe.msg"]]
    assert ingest([box], settings=SETTINGS, db_path=db).scanned == 0  # ONCE-2 across runs
