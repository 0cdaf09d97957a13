"""What stays of what was taken out of the CRM: a keyed hash of an erased address (LIFE-3),
and the identity of a deleted e-mail, which stays decided (LIFE-5)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from .base import Doc


@dataclass(frozen=True, slots=True, kw_only=True)
class Forgotten:
    """LIFE-3: HMAC-SHA256 of an erased address under the database's own secret: enough to
    know the address again, not to read it."""

    TABLE: ClassVar[str] = "forgotten"

    id: int = 0
    hash: str
    at: str | None = None

    def to_doc(self) -> Doc:
        return {"hash": self.hash, "at": self.at}

    @classmethod
    def from_doc(cls, doc: Doc, id: int) -> Self:
        return cls(id=id, hash=doc["hash"], at=doc.get("at"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Deleted:
    """LIFE-5: a deleted e-mail's identity (ONCE-1), so that no later run logs it again."""

    TABLE: ClassVar[str] = "deleted"

    id: int = 0
    identity: str
    at: str | None = None

    def to_doc(self) -> Doc:
        return {"identity": self.identity, "at": self.at}

    @classmethod
    def from_doc(cls, doc: Doc, id: int) -> Self:
        return cls(id=id, identity=doc["identity"], at=doc.get("at"))
