"""Ingest runs (LIFE-6): what each run read, decided and wrote, and what undoing it takes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Self

from .base import Doc

COUNTS = ("scanned", "logged", "rejected", "skipped", "duplicates", "contacts_created")


@dataclass(frozen=True, slots=True, kw_only=True)
class RunMessage:
    """One message a run decided on that was addressed to a logging address (`ingest --list`)."""

    source: str
    key: str
    message_id: str
    sender: str  # "from" in its document and row
    subject: str
    outcome: str  # logged | rejected | duplicate
    code: str | None = None
    reason: str = ""
    user: str | None = None
    contacts: tuple[str, ...] = ()
    deals: tuple[int, ...] = ()
    email_id: int | None = None  # known once written; a stored listing finds it by `identity`
    identity: str = ""  # ONCE-1

    def to_doc(self) -> Doc:
        return {
            "identity": self.identity,
            "source": self.source,
            "key": self.key,
            "message_id": self.message_id,
            "from": self.sender,
            "subject": self.subject,
            "outcome": self.outcome,
            "code": self.code,
            "reason": self.reason,
            "user": self.user,
            "contacts": list(self.contacts),
            "deals": list(self.deals),
            "email_id": self.email_id,
        }

    @classmethod
    def from_doc(cls, doc: Doc) -> Self:
        return cls(
            source=doc.get("source", ""),
            key=doc.get("key", ""),
            message_id=doc.get("message_id", ""),
            sender=doc.get("from", ""),
            subject=doc.get("subject", ""),
            outcome=doc["outcome"],
            code=doc.get("code"),
            reason=doc.get("reason", ""),
            user=doc.get("user"),
            contacts=tuple(doc.get("contacts", ())),
            deals=tuple(doc.get("deals", ())),
            email_id=doc.get("email_id"),
            identity=doc.get("identity", ""),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    """A recorded ingest run. Its listing, message by message, is kept beside the records (the
    engine's blobs: a run of 100,000 messages would otherwise weigh on every later run);
    `listing` is how much of it the run's batches wrote. `undo` is the journal of what the run
    wrote (journal.py), kept until the run is undone."""

    TABLE: ClassVar[str] = "runs"

    id: int = 0
    started: str
    finished: str | None = None  # None: the run was interrupted after a batch
    paths: tuple[str, ...] = ()
    user: str | None = None  # the session login (`--user`)
    undone: str | None = None  # when it was undone
    counts: dict[str, int] = field(default_factory=dict)
    listing: int = 0
    listing_name: str = ""  # the listing's file, once written anew (LIFE-3); else the run's own
    undo: Doc = field(default_factory=dict, repr=False)

    def to_doc(self) -> Doc:
        return {
            "started": self.started,
            "finished": self.finished,
            "paths": list(self.paths),
            "user": self.user,
            "undone": self.undone,
            "counts": dict(self.counts),
            "listing": self.listing,
            **({"listing_name": self.listing_name} if self.listing_name else {}),
            "undo": self.undo,
        }

    @classmethod
    def from_doc(cls, doc: Doc, id: int) -> Self:
        return cls(
            id=id,
            started=doc["started"],
            finished=doc.get("finished"),
            paths=tuple(doc.get("paths", ())),
            user=doc.get("user"),
            undone=doc.get("undone"),
            counts={k: int(v) for k, v in doc.get("counts", {}).items()},
            listing=int(doc.get("listing", 0)),
            listing_name=doc.get("listing_name", ""),
            undo=doc.get("undo") or {},
        )
