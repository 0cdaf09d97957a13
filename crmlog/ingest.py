"""The imperative shell of `crmlog ingest`: read -> parse -> decide -> apply, in batches."""
from __future__ import annotations

import re

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

from . import rules, sources
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
    Unreadable,
)
from .parsing import ParseError, address_pattern, header_mentions, parse
from .store import Store

BATCH_SIZE = 500  # messages per atomic write: a crash costs at most this much redone work


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
    unreadable: int = 0
    rejections: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)  # unreadable messages, for stderr

    def as_json(self) -> dict:
        out = {k: getattr(self, k) for k in self.__slots__ if k not in ("rejections", "problems")}
        out["rejections"] = dict(sorted(self.rejections.items()))
        return out

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
            self.notices += len(decision.dropped_attachments)


def decide_raw(
    raw: RawMessage, view: CrmView, settings: Settings, pattern: re.Pattern[bytes], session_login: str
) -> tuple[Message | None, Decision]:
    """Parse and decide one message. Only messages whose header block names a logging address
    (`pattern`, from address_pattern) are parsed at all; one that cannot be parsed is
    rejected `unparseable` (REJ-2)."""
    if not header_mentions(raw.data, pattern):
        return None, Skipped()
    try:
        message = parse(raw.data)
    except ParseError as exc:
        return exc.partial, rules.decide_unparseable(exc.partial, str(exc), view)
    return message, rules.decide(message, view, settings, session_login=session_login)


def ingest(
    paths: Iterable[str | Path],
    *,
    settings: Settings,
    db_path: Path,
    fmt: str = "auto",
    session_login: str = "",
    dry_run: bool = False,
    reprocess: bool = False,
    lock_timeout: float = 60.0,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[], None] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> Summary:
    folders = [f for p in paths for f in sources.open_folders(p, fmt)]  # 66 before any lock
    summary = Summary()
    pattern = address_pattern(settings.logging_addresses)
    with Store.writer(db_path, lock_timeout=lock_timeout, dry_run=dry_run) as store:
        pending = 0
        for folder in folders:

            def wanted(key: str, source=folder.source) -> bool:
                return reprocess or not store.seen(source, key)

            for raw in folder.messages(wanted):
                if isinstance(raw, Unreadable):
                    summary.unreadable += 1
                    summary.problems.append(f"cannot read {raw.reason}; it will be tried again next run")
                    continue
                message, decision = decide_raw(raw, store.view(), settings, pattern, session_login)
                created = store.apply(raw, message, decision, now=clock())
                summary.count(decision, created)
                pending += 1
                if pending >= batch_size:
                    store.commit()
                    pending = 0
                if progress:
                    progress()
        store.commit()
    return summary
