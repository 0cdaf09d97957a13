"""Passing over Maildir directories that have not changed since the last run (ONCE-2), as
notmuch does: a folder's `new/` and `cur/` are each listed only when the directory's
modification time (st_mtime_ns) is not the one recorded for it, so a cron run over a large
Maildir with nothing new lists none of its files.

What is recorded, per folder and per directory, is the mtime observed *before* the directory
was listed, and only once every message of that listing has been decided on (the run hands
the shell a `DirectoryListed` after the directory's last message; the shell stores its mtime
with the state of the folder, in the batch that follows the decisions of all those
messages). A run stopped early, by an error, a kill or a cap, never got there: nothing is
recorded and the next run lists the directory again. A listing in which a message could not be
read (it is tried again next run) records nothing either.

Every program that adds, removes or renames a file in a directory changes the directory's
mtime (a delivery renames or links a file from tmp/ into new/; a mail reader renames a file
from new/ to cur/ and renames it again to change its flags). The races, and why none of them
loses a message:

(a) A message delivered while a run looks at new/. The clock is read, then the directory is
    stat'ed, then listed. Delivered before the stat: it is in the listing. Delivered after
    the stat, before or while the listing runs: either the listing has it (it is decided
    now), or it has not, and then the delivery changed the mtime after the value observed, so
    the recorded value is stale and the next run lists the directory and finds it.

(b) Coarse timestamps. A file system keeps mtimes to a clock tick (1 s on ext3, HFS+, many
    network file systems; 2 s on FAT; the kernel's coarse clock, a few ms, on the others), so
    a delivery in the same tick as the value observed would leave the mtime as it was and
    (a) would fail. So an mtime is recorded only when it is old enough: at least
    `TRUST_AGE_NS` (2 s) older than the wall clock read *before* the stat (read after it, a
    delivery between the stat and the clock read could share the tick). Then every change
    after the stat happens after that clock reading, at least two seconds after the observed
    mtime, in a later tick: its mtime differs. A directory written to in the last two seconds
    (or whose mtime lies in the future: a clock ahead of ours) records nothing, and the next
    run lists it again. What this cannot cover is a file server whose clock lags the reading
    host's by more than the margin while it stamps a change into the very tick recorded.

(c) A message moved from new/ to cur/ by a mail reader (or re-flagged in cur/): both
    directories' mtimes change, both are listed, and the message's key (the file name before
    ":2,") is known to the folder's state: it is not decided twice. Moved between the
    listing of new/ and the reading of its file, it is passed over there; either cur/'s
    listing, which comes after, has it, or cur/'s mtime changed after its observation and
    the next run lists cur/.

(d) Forgetting keys. The folder's state forgets the keys of files that are gone
    (`SourceStates.keep_keys`), which takes every key of the folder: it may run only after a
    run that listed both new/ and cur/. When one of them was passed over as unchanged, its
    keys were not heard, and nothing is forgotten.

(e) A folder deleted and created again, a backup restored, a clock set back: the mtime differs
    from the recorded one in one direction or the other, and any difference means the
    directory is listed. Only equality passes a directory over.

`--reprocess` lists every directory, and records what it observed as any run does.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

TRUST_AGE_NS = 2_000_000_000  # an mtime this much older than the clock before the stat is trusted
DIRECTORIES = ("new", "cur")  # a Maildir folder's directories of messages, in the order listed


@dataclass(frozen=True, slots=True, kw_only=True)
class Observed:
    """A directory's mtime, and the wall clock read just before it was stat'ed (ns)."""

    mtime: int
    clock: int

    @property
    def trusted(self) -> bool:
        """Old enough that any later change gives another mtime (b)."""
        return self.clock - self.mtime >= TRUST_AGE_NS


def observe(directory: str) -> Observed | None:
    """The directory's mtime, the clock read first; None when it cannot be stat'ed."""
    clock = time.time_ns()
    try:
        mtime = os.stat(directory).st_mtime_ns
    except OSError:
        return None
    return Observed(mtime=mtime, clock=clock)


@dataclass(frozen=True, slots=True, kw_only=True)
class DirectoryListed:
    """A Maildir folder's directory listed whole, handed over after its last message (each
    one decided on by then): the mtime to record for it, or None to record none."""

    source: str
    directory: str  # new | cur
    mtime: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class DirectoryUnchanged:
    """A Maildir folder's directory passed over: its mtime is the one recorded."""

    source: str
    directory: str  # new | cur
