"""What was not logged (rejections), and what users are told (notices)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from .base import Doc


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejection:
    """A message addressed to us and not logged, with the reason (REJ-1); one per message."""

    TABLE: ClassVar[str] = "rejections"

    id: int = 0
    identity: str
    message_id: str
    code: str
    reason: str
    sender: str
    subject: str
    date: str | None
    source: str
    key: str
    rules: tuple[str, ...] = ()
    recorded: str | None = None

    def to_doc(self) -> Doc:
        return {
            "identity": self.identity,
            "message_id": self.message_id,
            "code": self.code,
            "reason": self.reason,
            "sender": self.sender,
            "subject": self.subject,
            "date": self.date,
            "source": self.source,
            "key": self.key,
            "rules": list(self.rules),
            "recorded": self.recorded,
        }

    @classmethod
    def from_doc(cls, doc: Doc, id: int) -> Self:
        return cls(
            id=id,
            identity=doc["identity"],
            message_id=doc.get("message_id", ""),
            code=doc["code"],
            reason=doc.get("reason", ""),
            sender=doc.get("sender", ""),
            subject=doc.get("subject", ""),
            date=doc.get("date"),
            source=doc.get("source", ""),
            key=doc.get("key", ""),
            rules=tuple(doc.get("rules", [])),
            recorded=doc.get("recorded"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Notice:
    """A notice for a user: a `delivery-error` for an attachment left out (LIM-2)."""

    TABLE: ClassVar[str] = "notices"

    id: int = 0
    kind: str
    user: str
    message_id: str
    detail: str
    date: str | None
    mailed: str | None = None  # when it was mailed to its user, if it was

    def to_doc(self) -> Doc:
        doc: Doc = {
            "kind": self.kind,
            "user": self.user,
            "message_id": self.message_id,
            "detail": self.detail,
            "date": self.date,
        }
        if self.mailed:
            doc["mailed"] = self.mailed
        return doc

    @classmethod
    def from_doc(cls, doc: Doc, id: int) -> Self:
        return cls(
            id=id,
            kind=doc["kind"],
            user=doc["user"],
            message_id=doc.get("message_id", ""),
            detail=doc.get("detail", ""),
            date=doc.get("date"),
            mailed=doc.get("mailed"),
        )
