"""Logged e-mails: the record every listing reads (`Email`), the body and detail that only
`emails show` and `attribution explain` read (`EmailBody`), and their parts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Self, cast

from .base import Doc, positional

BodyRef = tuple[int, int, int]  # where a body is kept: (pack, offset, length)


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredAttachment:
    """An attachment of a logged e-mail: its contents kept under its SHA-256 (SEC-1) when
    `stored`, else only what it was (over the limit, LIM-2)."""

    filename: str
    content_type: str
    size: int
    sha256: str
    stored: bool

    def to_doc(self) -> Doc:
        return {
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
            "stored": self.stored,
        }

    @classmethod
    def from_doc(cls, doc: Doc) -> Self:
        return cls(
            filename=doc.get("filename", ""),
            content_type=doc.get("content_type", ""),
            size=doc.get("size", 0),
            sha256=doc["sha256"],
            stored=doc.get("stored", False),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ForwardInfo:
    """The forward that brought a logged e-mail (FWD-4): the forwarder's note kept apart."""

    note: str
    client: str
    forwarded_by: str
    forwarded_at: str | None
    subject: str

    def to_doc(self) -> Doc:
        return {
            "note": self.note,
            "client": self.client,
            "forwarded_by": self.forwarded_by,
            "forwarded_at": self.forwarded_at,
            "subject": self.subject,
        }

    @classmethod
    def from_doc(cls, doc: Doc) -> Self:
        return cls(
            note=doc.get("note", ""),
            client=doc.get("client", ""),
            forwarded_by=doc.get("forwarded_by", ""),
            forwarded_at=doc.get("forwarded_at"),
            subject=doc.get("subject", ""),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Credit:
    """Who got the credit and why (ATTR-6), as stored."""

    rule: str
    candidates: tuple[str, ...]
    session_user: str | None
    ambiguous: bool = False

    def to_doc(self) -> Doc:
        return {
            "rule": self.rule,
            "candidates": list(self.candidates),
            "session_user": self.session_user,
            "ambiguous": self.ambiguous,
        }

    @classmethod
    def from_doc(cls, doc: Doc) -> Self:
        return cls(
            rule=doc.get("rule", ""),
            candidates=tuple(doc.get("candidates", [])),
            session_user=doc.get("session_user"),
            ambiguous=doc.get("ambiguous", False),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class EmailBody:
    """A logged e-mail's body, and the fields no listing shows. Kept in a body pack as
    `{text, html, detail}`, or inline in an e-mail document of the first schema."""

    text: str = ""
    html: str = ""
    from_name: str = ""
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    credit: Credit | None = None
    rules: tuple[str, ...] = ()
    source: str = ""
    key: str = ""
    logged_at: str | None = None

    def detail_doc(self) -> Doc:
        return {
            "from_name": self.from_name,
            "to": list(self.to),
            "cc": list(self.cc),
            "attribution": self.credit.to_doc() if self.credit else {},
            "rules": list(self.rules),
            "source": self.source,
            "key": self.key,
            "logged_at": self.logged_at,
        }

    def to_doc(self) -> Doc:
        """The body pack's form."""
        return {"text": self.text, "html": self.html, "detail": self.detail_doc()}

    @classmethod
    def from_doc(cls, doc: Doc) -> Self:
        """From a body pack's object, or from a first-schema e-mail document (inline)."""
        detail = doc.get("detail", doc)
        credit = detail.get("attribution")
        return cls(
            text=doc.get("text", ""),
            html=doc.get("html", ""),
            from_name=detail.get("from_name", ""),
            to=tuple(detail.get("to", [])),
            cc=tuple(detail.get("cc", [])),
            credit=Credit.from_doc(credit) if credit else None,
            rules=tuple(detail.get("rules", [])),
            source=detail.get("source", ""),
            key=detail.get("key", ""),
            logged_at=detail.get("logged_at"),
        )


def stored_rule(doc: Doc) -> str:
    """An e-mail document's attribution rule: its "rule", or in the first schema, which kept
    it in the attribution only, that."""
    return str(doc.get("rule") or doc.get("attribution", {}).get("rule", ""))


@dataclass(frozen=True, slots=True, kw_only=True)
class Email:
    """A logged e-mail as listed. Its body is in a pack (`body`), or, in a database of the
    first schema, inline in its document (`inline`)."""

    TABLE: ClassVar[str] = "emails"
    # the fields whose stored form is not the document's key of the same name (records.doc_value)
    STORED: ClassVar[Mapping[str, Callable[[Doc], Any]]] = {
        "sender": lambda doc: doc.get("from"),
        "rule": stored_rule,
        "identity": lambda doc: doc.get("identity") or doc["message_id"],
    }

    id: int = 0
    identity: str  # ONCE-1: the Message-ID, else sha256:<hex of the raw bytes>
    message_id: str
    subject: str
    date: str | None  # ISO 8601, or a forwarded date as the client wrote it
    path: str  # bcc | forward
    user: str
    rule: str
    sender: str  # the "from" of the logged message
    contacts: tuple[str, ...] = ()
    companies: tuple[str, ...] = ()
    deals: tuple[int, ...] = ()
    attachments: tuple[StoredAttachment, ...] = ()
    forward: ForwardInfo | None = None
    body: BodyRef | None = None
    inline: EmailBody | None = field(default=None, repr=False)  # first schema only

    def time(self) -> datetime | None:
        """When it was written, for --since/--until and a store's period reads: its own date
        (a forwarded date without a zone read as UTC), else, for a forward whose date could
        not be read, when it was forwarded."""
        return time_of(self.date, self.forward.forwarded_at if self.forward else None)

    @staticmethod
    def doc_time(doc: Doc) -> datetime | None:
        """`time()` of a stored document, without making the record."""
        forward = doc.get("forward")
        return time_of(doc.get("date"), forward.get("forwarded_at") if isinstance(forward, dict) else None)

    def to_doc(self) -> Doc:
        if self.inline is not None:
            return self._first_schema_doc(self.inline)
        doc: Doc = {
            "message_id": self.message_id,
            "subject": self.subject,
            "date": self.date,
            "path": self.path,
            "user": self.user,
            "rule": self.rule,
            "from": self.sender,
            "contacts": list(self.contacts),
            "companies": list(self.companies),
            "deals": list(self.deals),
            "attachments": [a.to_doc() for a in self.attachments],
            "body": list(self.body) if self.body else None,
        }
        if self.identity != self.message_id:
            doc["identity"] = self.identity  # a message without a Message-ID: sha256:...
        if self.forward:
            doc["forward"] = self.forward.to_doc()
        return doc

    def _first_schema_doc(self, body: EmailBody) -> Doc:
        """A record read from the first schema is written back as it was: its body inline."""
        detail = body.detail_doc()
        doc: Doc = {
            "identity": self.identity,
            "message_id": self.message_id,
            "subject": self.subject,
            "date": self.date,
            "path": self.path,
            "user": self.user,
            "from": self.sender,
            "from_name": detail["from_name"],
            "to": detail["to"],
            "cc": detail["cc"],
            "contacts": list(self.contacts),
            "companies": list(self.companies),
            "deals": list(self.deals),
            "attachments": [a.to_doc() for a in self.attachments],
            "attribution": detail["attribution"],
            "rules": detail["rules"],
            "text": body.text,
            "html": body.html,
            "forward": self.forward.to_doc() if self.forward else None,
            "source": detail["source"],
            "key": detail["key"],
            "logged_at": detail["logged_at"],
        }
        if self.rule != (body.credit.rule if body.credit else ""):
            doc["rule"] = self.rule  # that schema had the rule in the attribution only
        return doc

    @classmethod
    def from_doc(cls, doc: Doc, id: int) -> Self:
        get = doc.get
        body, forward, attachments = get("body"), get("forward"), get("attachments")
        email = _email(  # the fields in declaration order (a listing reads many)
            id,
            str(get("identity") or doc["message_id"]),
            get("message_id", ""),
            get("subject", ""),
            get("date"),
            doc["path"],
            doc["user"],
            stored_rule(doc),
            get("from", ""),
            tuple(get("contacts", ())),
            tuple(get("companies", ())),
            tuple(get("deals", ())),
            tuple(StoredAttachment.from_doc(a) for a in attachments) if attachments else (),
            ForwardInfo.from_doc(forward) if forward else None,
            (body[0], body[1], body[2]) if body else None,
            EmailBody.from_doc(doc) if "body" not in doc else None,
        )
        return cast(Self, email)  # an Email: the class has no subclasses


_email = positional(Email)


def time_of(*values: str | None) -> datetime | None:
    """The first of `values` that reads as an ISO 8601 time, in UTC where it has no zone."""
    for value in values:
        try:
            when = datetime.fromisoformat(value) if value else None
        except (TypeError, ValueError):
            continue
        if when is not None:
            return when if when.tzinfo else when.replace(tzinfo=UTC)
    return None
