"""The sales team: users, and the team inboxes they connect."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, Self

from .base import Doc


class Seat(StrEnum):
    FULL = "full"
    READ_ONLY = "read-only"


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    TABLE: ClassVar[str] = "users"

    id: int = 0
    email: str
    name: str = ""
    inboxes: tuple[tuple[str, str], ...] = ()  # (address, connected_at ISO) in connect order
    aliases: tuple[str, ...] = ()
    logins: tuple[str, ...] = ()
    seat: Seat = Seat.FULL
    personal_inbox_access: bool = True
    created: str | None = None
    active: bool = True  # LIFE-2: a user who left is deactivated, not deleted

    def to_doc(self) -> Doc:
        return {
            "email": self.email,
            "name": self.name,
            "inboxes": [[a, t] for a, t in self.inboxes],
            "aliases": list(self.aliases),
            "logins": list(self.logins),
            "seat": str(self.seat),
            "personal_inbox_access": self.personal_inbox_access,
            "created": self.created,
            "active": self.active,
        }

    @classmethod
    def from_doc(cls, doc: Doc, id: int) -> Self:
        return cls(
            id=id,
            email=doc["email"],
            name=doc.get("name", ""),
            inboxes=tuple((a, t) for a, t in doc.get("inboxes", [])),
            aliases=tuple(doc.get("aliases", [])),
            logins=tuple(doc.get("logins", [])),
            seat=Seat(doc.get("seat", "full")),
            personal_inbox_access=doc.get("personal_inbox_access", True),
            created=doc.get("created"),
            active=doc.get("active", True),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class TeamInbox:
    TABLE: ClassVar[str] = "team_inboxes"

    id: int = 0
    address: str
    connected_by: str  # the user's e-mail
    connected_at: str | None = None

    def to_doc(self) -> Doc:
        return {"address": self.address, "connected_by": self.connected_by, "connected_at": self.connected_at}

    @classmethod
    def from_doc(cls, doc: Doc, id: int) -> Self:
        return cls(
            id=id, address=doc["address"], connected_by=doc["connected_by"], connected_at=doc.get("connected_at")
        )
