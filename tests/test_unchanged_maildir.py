"""Maildir directories passed over while unchanged (ONCE-2, crmlog/read/directory_times.py),
through the real CLI on real Maildirs: a folder whose new/ and cur/ have the mtimes recorded
after the last run is not listed (no os.scandir of either), and nothing that arrives, moves or
changes is missed or logged twice for it: deliveries, also at a chosen moment of the listing,
moves from new/ to cur/, mtimes too recent to be trusted, mtimes set back, folders made again,
--reprocess, and undo (LIFE-6).

Directories' mtimes are set with os.utime to values fixed in the past (or the future), never
waited for; the listings are seen by wrapping os.scandir, which lists each one for real."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import LOG, Cli, eml, make_maildir

from crmlog.read.directory_times import TRUST_AGE_NS, Observed

SECOND = 1_000_000_000
OLD_NEW = 1_700_000_000 * SECOND  # mtimes set on new/ and cur/: long past, so trusted
OLD_CUR = 1_700_000_500 * SECOND
FUTURE = 4_000_000_000 * SECOND  # a directory stamped by a clock ahead of ours: never old enough


def message(n: int) -> bytes:
    """A message from a user to the logging address: logged."""
    return eml(bcc=LOG, to="Li Wei <li@acme.example>", message_id=f"<m{n}@ourco.example>", subject=f"message {n}")


def set_mtime(directory: Path, ns: int) -> None:
    os.utime(directory, ns=(ns, ns))


def age(box: Path) -> None:
    """The folder's new/ and cur/ as if last written long ago."""
    set_mtime(box / "new", OLD_NEW)
    set_mtime(box / "cur", OLD_CUR)


def deliver(box: Path, name: str, data: bytes) -> None:
    """As a delivery agent does: written into tmp/, renamed into new/."""
    (box / "tmp" / name).write_bytes(data)
    os.rename(box / "tmp" / name, box / "new" / name)


def state(cli: Cli, box: Path) -> dict:
    """The folder's state as stored."""
    (doc,) = [s for s in cli.sources() if s["source"] == str(box.resolve())]
    return doc


def logged(cli: Cli) -> list[str]:
    return sorted(e["message_id"] for e in cli.json("emails", "list"))


Deliver = Callable[[], None]


@pytest.fixture
def listings(monkeypatch) -> list[str]:
    """Every Maildir directory of messages listed, as "<folder name>/<new or cur>"; a test can
    set `listings.during[directory]` to (moment, deliver) to deliver a message at that moment of
    that directory's listing: "before" (after the run stat'ed it, before the listing starts),
    "mid" (after the first name listed) or "end" (after the last one)."""
    real = os.scandir
    listed = ListingLog()

    def scandir(path=".", *a, **k):
        name = "" if isinstance(path, int) else os.path.basename(os.fspath(path))  # (a file descriptor)
        if name not in ("new", "cur"):
            return real(path, *a, **k)
        where = f"{os.path.basename(os.path.dirname(os.fspath(path)))}/{name}"
        listed.append(where)
        moment, act = listed.during.pop(where, ("", lambda: None))
        if moment == "before":
            act()
        return Listing(real(path, *a, **k), mid=act if moment == "mid" else None, end=act if moment == "end" else None)

    monkeypatch.setattr(os, "scandir", scandir)
    return listed


class ListingLog(list[str]):
    during: dict[str, tuple[str, Deliver]]

    def __init__(self) -> None:
        super().__init__()
        self.during = {}


class Listing:
    """A directory's real listing, with a delivery made mid-way or at its end."""

    def __init__(self, real, *, mid: Deliver | None, end: Deliver | None):
        self.real, self.mid, self.end = real, mid, end

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.real.close()

    def __iter__(self):
        for n, entry in enumerate(self.real):
            yield entry
            if n == 0 and self.mid:
                self.mid()
        if self.end:
            self.end()


@pytest.fixture
def inbox(team, tmp_path) -> Path:
    """A Maildir with two messages in new/ and one in cur/, its directories long unchanged."""
    box = make_maildir(
        tmp_path / "Maildir", {"": [("1.host", message(1)), ("2.host", message(2)), ("3.host:2,S", message(3))]}
    )
    age(box)
    return box


# ------------------------------------------------------------------ unchanged: not listed


def test_once_2_an_unchanged_maildir_is_not_listed_again(team, inbox, listings):
    make_maildir(inbox, {".Sent": [("4.host:2,S", message(4))]})
    age(inbox / ".Sent")
    first = team.json("ingest", inbox)
    assert (first["logged"], first["folders_unchanged"]) == (4, 0)
    assert sorted(listings) == [".Sent/cur", ".Sent/new", "Maildir/cur", "Maildir/new"]
    assert state(team, inbox)["mtimes"] == {"new": OLD_NEW, "cur": OLD_CUR}  # as observed before listing

    listings.clear()
    database = team.snapshot()
    again = team.json("ingest", inbox)
    assert (again["scanned"], again["folders_unchanged"], again["run"]) == (0, 2, None)
    assert listings == []  # neither directory of either folder listed
    assert team.snapshot() == database  # nothing written


def test_once_2_a_delivery_into_new_is_listed_and_logged_while_cur_stays_unlisted(team, inbox, listings):
    team.json("ingest", inbox)
    listings.clear()
    deliver(inbox, "5.host", message(5))
    run = team.json("ingest", inbox)
    assert (run["scanned"], run["logged"], run["folders_unchanged"]) == (1, 1, 0)
    assert listings == ["Maildir/new"]
    assert logged(team) == [f"m{n}@ourco.example" for n in (1, 2, 3, 5)]


def test_once_2_a_message_moved_from_new_to_cur_is_listed_but_not_decided_twice(team, inbox, listings):
    team.json("ingest", inbox)
    listings.clear()
    os.rename(inbox / "new" / "1.host", inbox / "cur" / "1.host:2,S")  # a mail reader saw it
    run = team.json("ingest", inbox)
    assert sorted(listings) == ["Maildir/cur", "Maildir/new"]  # both directories changed
    assert (run["scanned"], run["logged"], run["duplicates"]) == (0, 0, 0)
    assert logged(team) == [f"m{n}@ourco.example" for n in (1, 2, 3)]
    assert sorted(state(team, inbox)["keys"]) == ["1.host", "2.host", "3.host"]


def test_once_2_keys_are_forgotten_only_after_a_run_that_listed_both_directories(team, inbox, listings):
    team.json("ingest", inbox)
    deliver(inbox, "5.host", message(5))
    run = team.json("ingest", inbox)  # new/ listed, cur/ passed over: its keys were not heard
    assert run["logged"] == 1
    assert sorted(state(team, inbox)["keys"]) == ["1.host", "2.host", "3.host", "5.host"]
    for p in (inbox / "cur").iterdir():  # a mail reader changes the flags of what is in cur/
        p.rename(p.with_name(p.name + "R"))
    assert team.json("ingest", inbox)["scanned"] == 0  # cur/ listed: nothing in it is new
    (inbox / "new" / "2.host").unlink()  # deleted: both directories listed, its key forgotten
    team.json("ingest", inbox)
    assert sorted(state(team, inbox)["keys"]) == ["1.host", "3.host", "5.host"]


def test_once_2_reprocess_lists_every_directory(team, inbox, listings):
    team.json("ingest", inbox)
    listings.clear()
    run = team.json("ingest", inbox, "--reprocess")
    assert sorted(listings) == ["Maildir/cur", "Maildir/new"]
    assert (run["scanned"], run["folders_unchanged"]) == (3, 0)


# ------------------------------------------------------------------ the races


@pytest.mark.parametrize("moment", ["before", "mid", "end"])
def test_once_2_a_message_delivered_while_new_is_listed_is_logged_this_run_or_the_next(team, inbox, listings, moment):
    """Delivered after the run stat'ed new/: right before the listing (so it is listed), after
    its first name (it may be or not), after its last name (it is not): never missed."""
    listings.during["Maildir/new"] = (moment, lambda: deliver(inbox, "9.host", message(9)))
    first = team.json("ingest", inbox)
    assert state(team, inbox)["mtimes"]["new"] == OLD_NEW  # the mtime before the listing, not after
    if moment == "before":
        assert first["logged"] == 4
    if moment == "end":
        assert first["logged"] == 3  # not in this listing: the delivery changed new/'s mtime
    second = team.json("ingest", inbox)
    assert first["logged"] + second["logged"] == 4
    assert logged(team) == [f"m{n}@ourco.example" for n in (1, 2, 3, 9)]  # each once
    assert team.json("ingest", inbox)["scanned"] == 0


def test_once_2_an_mtime_too_recent_is_not_trusted(team, inbox, listings):
    """A directory stamped less than TRUST_AGE_NS before the run looked at it (here: stamped in
    the future) records no mtime, so a delivery in the same clock tick, which leaves the mtime
    as it was, is still found by the next run."""
    set_mtime(inbox / "new", FUTURE)
    team.json("ingest", inbox)
    assert state(team, inbox)["mtimes"] == {"cur": OLD_CUR}  # new/'s not recorded
    listings.clear()
    deliver(inbox, "5.host", message(5))
    set_mtime(inbox / "new", FUTURE)  # the same tick: the mtime did not change
    run = team.json("ingest", inbox)
    assert listings == ["Maildir/new"] and run["logged"] == 1


def test_once_2_trust_needs_the_mtime_two_seconds_older_than_the_clock_before_the_stat():
    mtime = OLD_NEW
    assert not Observed(mtime=mtime, clock=mtime).trusted
    assert not Observed(mtime=mtime, clock=mtime + TRUST_AGE_NS - 1).trusted
    assert Observed(mtime=mtime, clock=mtime + TRUST_AGE_NS).trusted
    assert not Observed(mtime=FUTURE, clock=mtime).trusted  # a clock ahead of ours
    assert TRUST_AGE_NS == 2 * SECOND


@pytest.mark.parametrize("change", ["mtime-set-back", "folder-made-again"])
def test_once_2_an_mtime_that_differs_in_either_direction_is_listed(team, inbox, listings, change, tmp_path):
    team.json("ingest", inbox)
    if change == "mtime-set-back":  # a clock set back, a backup restored
        deliver(inbox, "5.host", message(5))
        set_mtime(inbox / "new", OLD_NEW - SECOND)
        set_mtime(inbox / "cur", OLD_CUR + 1)
    else:  # removed and made again with other messages, its mtimes one ns off
        shutil.rmtree(inbox)
        make_maildir(inbox, {"": [("5.host", message(5)), ("6.host:2,S", message(6))]})
        set_mtime(inbox / "new", OLD_NEW + 1)
        set_mtime(inbox / "cur", OLD_CUR - 1)
    listings.clear()
    run = team.json("ingest", inbox)
    assert sorted(listings) == ["Maildir/cur", "Maildir/new"]
    assert run["logged"] == (1 if change == "mtime-set-back" else 2)


def test_once_2_a_directory_with_a_message_that_could_not_be_read_is_listed_again(team, inbox, listings):
    os.symlink("loop.host", inbox / "new" / "loop.host")  # a link to itself: ELOOP, for root too
    age(inbox)
    first = team.json("ingest", inbox)
    assert (first["logged"], first["unreadable"]) == (3, 1)
    assert state(team, inbox)["mtimes"] == {"cur": OLD_CUR}  # new/ is to be listed again
    listings.clear()
    again = team.json("ingest", inbox)
    assert listings == ["Maildir/new"] and again["unreadable"] == 1  # tried again


# ------------------------------------------------------------------ LIFE-6: undo


def test_life_6_undo_puts_the_mtimes_back_so_the_unchanged_folder_is_listed_and_logged_again(team, inbox, listings):
    assert team.json("ingest", inbox)["run"] == 1
    after_first = state(team, inbox)
    deliver(inbox, "5.host", message(5))
    set_mtime(inbox / "new", OLD_NEW + SECOND)  # long ago too: trusted
    assert team.json("ingest", inbox)["run"] == 2
    assert state(team, inbox)["mtimes"] == {"new": OLD_NEW + SECOND, "cur": OLD_CUR}
    team("runs", "undo", "2", "--yes")
    assert state(team, inbox) == after_first  # keys and mtimes as before run 2

    listings.clear()
    run = team.json("ingest", inbox)  # new/ unchanged since run 2 listed it: listed again all the same
    assert (run["run"], run["logged"]) == (3, 1) and listings == ["Maildir/new"]
    team("runs", "undo", "3", "--yes")
    team("runs", "undo", "1", "--yes")  # the folder's state as before any run: none
    assert [s["source"] for s in team.sources()] == []
    listings.clear()
    run = team.json("ingest", inbox)
    assert (run["logged"], run["folders_unchanged"]) == (4, 0)
    assert sorted(listings) == ["Maildir/cur", "Maildir/new"]


def test_once_2_a_run_that_finds_nothing_new_writes_no_mtimes_and_no_run(team, inbox, listings):
    """Recorded mtimes ride along with a run's write, never make one: a run that finds nothing
    writes nothing (so the folder is listed again until a run writes)."""
    set_mtime(inbox / "new", FUTURE)
    team.json("ingest", inbox)
    set_mtime(inbox / "new", OLD_NEW)  # trusted now, and nothing new in it
    database = team.snapshot()
    run = team.json("ingest", inbox)
    assert (run["scanned"], run["run"]) == (0, None) and team.snapshot() == database
    listings.clear()
    team.json("ingest", inbox)
    assert listings == ["Maildir/new"]
