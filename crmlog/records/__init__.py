"""The CRM's stored records: one frozen type per kind, each with `from_doc` (a stored document
and its id) and `to_doc` (the document to store). The shape of every stored document is
written in this package and nowhere else, the first schema's included. Standard library only.

A record's `id` is its number in its table (0 before it is stored), not part of its document.
Text from a message is kept exactly as it came (SEC-5 is the views' job).
"""

from .base import Doc, R, Record, doc_value
from .crm import Company, Contact, Deal
from .emails import BodyRef, Credit, Email, EmailBody, ForwardInfo, StoredAttachment
from .erased import Deleted, Forgotten
from .outcomes import Notice, Rejection
from .runs import Run, RunMessage
from .team import Seat, TeamInbox, User

KINDS: tuple[type[Record], ...] = (
    User,
    TeamInbox,
    Contact,
    Company,
    Deal,
    Email,
    Rejection,
    Notice,
    Run,
    Forgotten,
    Deleted,
)

__all__ = [
    "KINDS",
    "BodyRef",
    "Company",
    "Contact",
    "Credit",
    "Deal",
    "Deleted",
    "Doc",
    "Email",
    "EmailBody",
    "Forgotten",
    "ForwardInfo",
    "Notice",
    "R",
    "Record",
    "Rejection",
    "Run",
    "RunMessage",
    "Seat",
    "StoredAttachment",
    "TeamInbox",
    "User",
    "doc_value",
]
