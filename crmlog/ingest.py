"""The imperative shell of `crmlog ingest`: read -> parse -> decide -> apply, in batches."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import notify, rules
from .errors import MailboxError, UsageError
from .model import (
    Accepted,
    CrmView,
    Decision,
    Duplicate,
    Message,
    RawMessage,
    Rejected,
    Settings,
    Skipped,
    Unaddressed,
    Unreadable,
    iso,
)
from .parse import HeaderFilter
from .parse_ahead import ParseAhead, Parsed, cores
from .read import sources
from .read.caps import Caps
from .read.directory_times import DIRECTORIES, DirectoryListed, DirectoryUnchanged
from .records import Notice, Rejection, RunMessage
from .records.runs import COUNTS
from .rules.attribution import session_user
from .store import LOCK_TIMEOUT, Store
from .store.runs import Outcome
from .store.state import SourceStates

SKIPPED = Skipped()
BATCH_SIZE = 500  # parsed messages per atomic write: a crash costs at most this much redone work
BATCH_SCANNED = 20_000  # messages looked at per atomic write (a skipped one costs a header read)
BATCH_BYTES = 32 << 20  # bytes of bodies per atomic write (they wait in memory until it)


@dataclass(slots=True)
class Summary:
    scanned: int = 0
    addressed: int = 0
    logged: int = 0
    rejected: int = 0
    skipped: int = 0
    duplicates: int = 0
    contacts_created: int = 0
    notices: int = 0
    notices_mailed: int = 0
    summaries_mailed: int = 0
    unreadable: int = 0
    folders_unchanged: int = 0  # Maildir folders not listed at all: new/ and cur/ as the last run left them
    rejections: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)  # unreadable messages, for stderr
    mailbox_errors: list[str] = field(default_factory=list)  # one line per mailbox path that could not be opened
    run: int | None = None  # the recorded run (LIFE-6); None for a dry run, or one that found nothing new
    messages: list[dict[str, Any]] = field(default_factory=list)  # message by message (LIFE-7)

    def as_json(self, *, listed: bool = False) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__slots__ if k not in ("rejections", "problems", "messages")}
        out["rejections"] = dict(sorted(self.rejections.items()))
        if listed:
            out["messages"] = self.messages
        return out

    def counts(self) -> dict[str, int]:
        """What a run's record keeps of it (LIFE-6)."""
        return {k: getattr(self, k) for k in COUNTS}

    def taken(self, store: Store) -> int:
        """E-mails counted logged that another host logged first (ONCE-1): duplicates."""
        n, store.taken_by_others = store.taken_by_others, 0
        self.logged -= n
        self.duplicates += n
        return n

    def count(self, decision: Decision, contacts_created: int) -> None:
        self.scanned += 1
        if isinstance(decision, Skipped):
            self.skipped += 1
            return
        self.addressed += 1
        if isinstance(decision, Duplicate):
            self.duplicates += 1
        elif isinstance(decision, Rejected):
            self.rejected += 1
            self.rejections[str(decision.code)] += 1
        elif isinstance(decision, Accepted):
            self.logged += 1
            self.contacts_created += contacts_created
            self.notices += len(decision.dropped_attachments) + len(decision.unknown_deals)  # LIM-2, BCC-5


def decide_parsed(
    parsed: Parsed, view: CrmView, settings: Settings, session_login: str
) -> tuple[Message | None, Decision]:
    """Decide one parsed message (parse_ahead.py); one that could not be parsed is rejected
    `unparseable` (REJ-2)."""
    message, unparseable = parsed
    if unparseable is not None:
        return message, rules.decide_unparseable(message, unparseable, view)
    assert message is not None
    return message, rules.decide(message, view, settings, session_login=session_login)


@dataclass(slots=True)
class Batch:
    """When to write (ONCE-3): a crash loses at most one batch, which the next run redoes.
    Parsed messages are the costly part to redo; skipped ones cost a header read each."""

    parsed: int = BATCH_SIZE
    scanned: int = BATCH_SCANNED
    bytes: int = BATCH_BYTES


@dataclass(slots=True, kw_only=True)
class MaildirWalk:
    """A run's walk through one Maildir folder: the keys its listings named (decided on or
    not) and what became of each directory (read/directory_times.py)."""

    states: SourceStates
    source: str
    reprocess: bool
    decided: dict[str, None] = field(init=False)  # the live index of the keys decided on
    keys: set[str] = field(default_factory=set)
    listed: dict[str, bool] = field(default_factory=dict)  # directory -> listed whole (else unchanged)

    def __post_init__(self) -> None:
        self.decided = self.states.maildir_keys(self.source)

    def seen(self, key: str) -> bool:
        """Is a key listed decided on already? (Each one is heard, for `keep_keys`.)"""
        self.keys.add(key)
        return not self.reprocess and key in self.decided

    def heard(self, event: sources.DirectoryEvent) -> None:
        """A directory listed whole, each message of it decided on (its mtime recorded), or
        passed over as unchanged."""
        if isinstance(event, DirectoryListed):
            self.states.note_listed(event.source, event.directory, event.mtime)
        self.listed[event.directory] = isinstance(event, DirectoryListed)

    def done(self) -> int:
        """After the folder's last message: its state forgets the keys of files gone when both
        directories were listed (every key heard), else nothing (directory_times.py: d).
        1 when neither was listed (the folder passed over whole), else 0."""
        if all(self.listed.get(d) for d in DIRECTORIES):
            self.states.keep_keys(self.source, self.keys)
        return int(all(self.listed.get(d) is False for d in DIRECTORIES))


def ingest(
    paths: Iterable[str | Path],
    *,
    settings: Settings,
    db_path: Path | str,
    fmt: str = "auto",
    session_login: str = "",
    dry_run: bool = False,
    reprocess: bool = False,
    lock_timeout: float = LOCK_TIMEOUT,
    batch: Batch | None = None,
    progress: Callable[[], None] | None = None,
    on_folder: Callable[[str], None] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    parallel: bool = True,
) -> Summary:
    """Read, decide and store what is new in `paths`. A path that cannot be opened does not
    stop the others: it is named in `Summary.mailbox_errors` (the CLI exits 66 at the end);
    when none can be opened, MailboxError (66) before any lock is taken."""
    summary = Summary()
    batch = batch or Batch()
    folders: list[sources.Folder] = []
    for path in paths:
        try:
            folders += sources.open_folders(path, fmt)
        except MailboxError as exc:
            summary.mailbox_errors.append(exc.message)
    if not folders:
        raise MailboxError("; ".join(summary.mailbox_errors) or "no mailbox path given")
    addressed = HeaderFilter(settings.logging_addresses)
    caps = Caps(attachment_bytes=settings.max_attachment_bytes, body_bytes=settings.max_body_bytes)
    with Store.writer(db_path, lock_timeout=lock_timeout, dry_run=dry_run) as store:
        if session_login and session_user(store.view().users, session_login) is None:
            raise UsageError(
                f"--user {session_login}: no user has this login (or it is shared); "
                "`crmlog users list` shows the users' logins"
            )
        store.begin_run(
            paths=[str(p) for p in paths],
            user=session_login or None,
            now=clock(),
            reprocess=reprocess,
            record=not dry_run,
        )
        parsed = scanned = 0
        ahead = ParseAhead(caps, settings.forward, parallel=parallel and cores() > 1)
        with ahead:
            for folder in folders:
                if on_folder:
                    on_folder(folder.source)
                walk: MaildirWalk | None = None
                if folder.kind == "maildir":
                    walk = MaildirWalk(states=store.sources, source=folder.source, reprocess=reprocess)
                    items = folder.messages(
                        addressed,
                        seen=walk.seen,
                        recorded_mtimes=None if reprocess else store.sources.maildir_mtimes(folder.source),
                        on_directory=ahead.mark,  # heard in its place, after the directory's last message
                    )
                else:
                    items = folder.messages(
                        addressed, resume=None if reprocess else store.sources.mbox_resume(folder.source)
                    )
                for item, parse in ahead.items(items):
                    if isinstance(item, DirectoryListed | DirectoryUnchanged):
                        assert walk is not None
                        walk.heard(item)
                        continue
                    if isinstance(item, Unreadable):
                        summary.unreadable += 1
                        summary.problems.append(f"cannot read {item.reason}; it will be tried again next run")
                        continue
                    if isinstance(item, Unaddressed):  # only its header block was read: no clock, no parse
                        store.skip(item)
                        summary.count(SKIPPED, 0)
                    else:
                        assert isinstance(item, RawMessage) and parse is not None
                        message, decision = decide_parsed(parse, store.view(), settings, session_login)
                        parsed += 1
                        summary.count(decision, store.apply(item, message, decision, now=clock()))
                    scanned += 1
                    if parsed >= batch.parsed or scanned >= batch.scanned or store.pending_bytes >= batch.bytes:
                        store.run_counts(summary.counts())
                        store.commit()
                        summary.taken(store)
                        parsed = scanned = 0
                    if progress:
                        progress()
                if walk is not None:
                    summary.folders_unchanged += walk.done()
        store.run_counts(summary.counts(), finished=clock())
        store.commit()
        if summary.taken(store):  # the run's record counts them as they are
            store.run_counts(summary.counts(), finished=clock())
            store.commit()
        summary.run = store.run_id
        summary.messages = listing(store.listed, store.changes if reprocess else None)
        if not dry_run and (settings.mail_notices or settings.daily_summary):
            mail_notices(store, settings, clock(), summary)
    return summary


def listing(listed: list[RunMessage], changes: list[tuple[bool, Outcome | None]] | None) -> list[dict[str, Any]]:
    """The rows of `ingest --list` (LIFE-7): under --reprocess, each with what was stored of
    it (`before`: outcome, code, user) and whether this run's decision is `new`, the `same`
    (nothing written) or `changed` (written: another outcome, user, rule, contacts or deals).
    A copy of a message decided already (a duplicate, or a message logged and deleted since,
    LIFE-5) is the same, whatever is stored of it."""
    rows = []
    for n, m in enumerate(listed):
        row = m.to_doc()
        row["change"] = row["before"] = None
        if changes is not None:
            same, before = changes[n]
            row["before"] = {"outcome": before.outcome, "code": before.code, "user": before.user} if before else None
            row["change"] = "same" if same else "new" if before is None else "changed"
        rows.append(row)
    return rows


def mail_notices(store: Store, settings: Settings, now: datetime, summary: Summary) -> None:
    """After the run's work is committed: mail the notices not mailed yet, and the daily
    summary when one is due (notify.py). A failure is reported, and tried again next run."""

    def failed(what: str, exc: notify.SendFailed) -> None:
        summary.problems.append(f"could not mail {what}: {exc}; it will be tried again next run")

    if settings.mail_notices:
        for notice in [n for n in store.read(Notice) if not n.mailed]:  # oldest first
            try:
                notify.send(settings, notice.user, notify.notice_message(notice, settings, now))
            except notify.SendFailed as exc:
                failed(f"the notice for <{notice.message_id}> to {notice.user}", exc)
                break  # the rest wait for the next run too
            store.replace(replace(notice, mailed=iso(now)))
            summary.notices_mailed += 1
    sent = store.engine.meta().get("summary_sent")  # when the last daily summary went out
    last = datetime.fromisoformat(sent) if sent else None
    if settings.daily_summary and (last is None or now - last >= notify.SUMMARY_EVERY):
        since = last or now - notify.SUMMARY_EVERY
        recent = [r for r in store.read(Rejection) if r.recorded and datetime.fromisoformat(r.recorded) > since]
        sent_all = True
        for user, rejections in notify.summaries(recent, store.view().users).items():
            try:
                notify.send(settings, user, notify.summary_message(user, rejections, since, settings, now))
                summary.summaries_mailed += 1
            except notify.SendFailed as exc:
                failed(f"the daily summary to {user}", exc)
                sent_all = False
                break
        if sent_all:
            store.set_meta("summary_sent", iso(now))
    store.commit()
