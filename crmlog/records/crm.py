"""What the team sells to: contacts, their companies, and deals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from .base import Doc


@dataclass(frozen=True, slots=True, kw_only=True)
class Contact:
    TABLE: ClassVar[str] = "contacts"

    id: int = 0
    email: str
    name: str = ""
    company: str | None = None
    source: str = ""  # bcc-recipient | forward-sender
    created: str | None = None
    aliases: tuple[str, ...] = ()  # LIFE-4: the addresses of contacts merged into this one

    def to_doc(self) -> Doc:
        doc: Doc = {
            "email": self.email,
            "name": self.name,
            "company": self.company,
            "source": self.source,
            "created": self.created,
        }
        if self.aliases:
            doc["aliases"] = list(self.aliases)
        return doc

    @classmethod
    def from_doc(cls, doc: Doc, id: int) -> Self:
        return cls(
            id=id,
            email=doc["email"],
            name=doc.get("name", ""),
            company=doc.get("company"),
            source=doc.get("source", ""),
            created=doc.get("created"),
            aliases=tuple(doc.get("aliases", ())),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Company:
    TABLE: ClassVar[str] = "companies"

    id: int = 0
    domain: str
    name: str
    created: str | None = None

    def to_doc(self) -> Doc:
        return {"domain": self.domain, "name": self.name, "created": self.created}

    @classmethod
    def from_doc(cls, doc: Doc, id: int) -> Self:
        return cls(id=id, domain=doc["domain"], name=str(doc.get("name", doc["domain"])), created=doc.get("created"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Deal:
    TABLE: ClassVar[str] = "deals"

    id: int = 0
    name: str
    stage: str  # open | won | lost
    created: str  # ISO 8601
    contacts: tuple[str, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.stage not in ("won", "lost")

    def to_doc(self) -> Doc:
        return {"name": self.name, "stage": self.stage, "created": self.created, "contacts": list(self.contacts)}

    @classmethod
    def from_doc(cls, doc: Doc, id: int) -> Self:
        return cls(
            id=id, name=doc["name"], stage=doc["stage"], created=doc["created"], contacts=tuple(doc.get("contacts", []))
        )
