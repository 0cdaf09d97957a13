"""Maildir and mbox reading on real files in tmp_path, and the real corpus's odd Maildirs."""

from __future__ import annotations

import os

import pytest
from conftest import CORPUS, corpus_or_skip, eml, make_maildir

from crmlog.errors import MailboxError
from crmlog.read.sources import maildir_key, open_folders


def everything(head: bytes) -> bool:
    return True


def read_all(path, fmt="auto"):
    return [(f.source, m.key, m.data) for f in open_folders(path, fmt) for m in f.messages(everything)]


@pytest.mark.parametrize(
    "name, key",
    [
        ("1700000000.M1P2.host", "1700000000.M1P2.host"),
        ("1700000000.M1P2.host:2,S", "1700000000.M1P2.host"),
        ("1700000000.M1P2.host:2,RS", "1700000000.M1P2.host"),
        ("1035478339.27041_118.foo.org,S=1000,W=1030;2,RDF", "1035478339.27041_118.foo.org,S=1000,W=1030"),
        ("123.host!2,", "123.host"),
    ],
)
def test_once_2_maildir_key_survives_new_to_cur_move_and_flag_changes(name, key):
    assert maildir_key(name) == key


def test_maildir_reads_new_cur_and_subfolders_never_tmp_or_dotfiles(tmp_path):
    box = make_maildir(
        tmp_path / "Maildir",
        {"": [("a", eml()), ("b:2,S", eml())], ".Sent": [("c:2,S", eml())], ".Archive.2025": [("d", eml())]},
    )
    (box / "tmp" / "half-written").write_bytes(b"From: x\n")
    (box / "cur" / ".gitkeep").write_bytes(b"")
    found = read_all(box)
    assert sorted((os.path.basename(s), k) for s, k, _ in found) == [
        (".Archive.2025", "d"),
        (".Sent", "c"),
        ("Maildir", "a"),
        ("Maildir", "b"),
    ]


def test_maildir_wanted_filter_reads_only_wanted_keys(tmp_path):
    box = make_maildir(tmp_path / "M", {"": [("a", eml()), ("b:2,S", eml())]})
    (folder,) = open_folders(box)
    assert [m.key for m in folder.messages(everything, seen=lambda k: k != "b")] == ["b"]


def test_sec_2_symlink_leading_outside_the_maildir_is_not_read(tmp_path):
    secret = tmp_path / "secret.eml"
    secret.write_bytes(eml(subject="secret"))
    box = make_maildir(tmp_path / "M", {"": [("inside", eml(subject="inside"))]})
    os.symlink(secret, box / "new" / "evil")
    os.symlink(box / "new" / "inside", box / "cur" / "alias:2,S")  # a link inside stays readable
    outside = make_maildir(tmp_path / "Other", {"": [("x", eml())]})
    os.symlink(outside, box / ".Linked")
    keys = sorted(k for _, k, _ in read_all(box))
    assert keys == ["alias", "inside"]


@pytest.mark.parametrize("kind", ["missing", "file-as-maildir", "dir-without-maildir", "not-mbox"])
def test_missing_or_wrong_mailbox_is_exit_66_and_nothing_created(tmp_path, kind):
    target = tmp_path / "box"
    fmt = "auto"
    if kind == "file-as-maildir":
        target.write_bytes(b"From x\n")
        fmt = "maildir"
    elif kind == "dir-without-maildir":
        target.mkdir()
    elif kind == "not-mbox":
        target.write_bytes(b"Subject: not an mbox\n\n")
    with pytest.raises(MailboxError) as err:
        open_folders(target, fmt)
    assert err.value.exit_code == 66
    assert not (tmp_path / "box" / "cur").exists()


def test_mbox_streams_messages_and_keys_survive_appends(tmp_path):
    box = tmp_path / "mail.mbox"
    one, two = eml(subject="one", message_id="<1@x>"), eml(subject="two", message_id="<2@x>")
    box.write_bytes(b"From a@b Mon Jun  1 09:00:00 2026\n" + one + b"\n")
    first = read_all(box)
    with open(box, "ab") as fh:
        fh.write(b"From a@b Mon Jun  1 10:00:00 2026\n" + two + b"\n")
    second = read_all(box)
    assert [k for _, k, _ in second][:1] == [k for _, k, _ in first]
    assert len(second) == 2
    assert b"Subject: two" in second[1][2] and not second[1][2].startswith(b"From ")


def test_empty_mbox_is_an_empty_mailbox(tmp_path):
    (tmp_path / "empty.mbox").write_bytes(b"")
    assert read_all(tmp_path / "empty.mbox") == []


def test_real_corpus_maildirs_and_mboxes_read_without_error():
    corpus_or_skip()
    mu = read_all(CORPUS / "mu" / "testdir")
    assert len(mu) >= 19
    dovecot = read_all(CORPUS / "stalwart-dovecot" / "maildir")
    assert {os.path.basename(s) for s, _, _ in dovecot} >= {"maildir", ".My Folder", ".My Folder.Nested Folder"}
    assert all("tmp" not in s for s, _, _ in read_all(CORPUS / "mu" / "testdir"))
    mbox = read_all(CORPUS / "mimekit" / "mbox" / "simple.mbox.txt")
    assert len(mbox) == 3
