"""What every stored kind has: its table, its id, and its document both ways."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import Any, ClassVar, Protocol, Self, TypeVar

Doc = dict[str, Any]


class Record(Protocol):
    TABLE: ClassVar[str]

    @property
    def id(self) -> int: ...

    def to_doc(self) -> Doc: ...

    @classmethod
    def from_doc(cls, doc: Doc, id: int) -> Self: ...


R = TypeVar("R", bound=Record)


def doc_value(kind: type[Record], field: str) -> Callable[[Doc], Any]:
    """How to read a record's field from its stored document, for an engine that filters or
    tallies documents without building the records: the document's key of the same name,
    unless the kind says otherwise in its STORED (an e-mail's sender is stored as "from")."""
    stored: Mapping[str, Callable[[Doc], Any]] = getattr(kind, "STORED", {})
    return stored.get(field) or (lambda doc: doc.get(field))


T = TypeVar("T")


def positional(cls: type[T]) -> Callable[..., T]:
    """A constructor of a frozen, slotted record from all its field values in declaration
    order, for a read of many records (100,000 e-mails for a listing): it sets each slot
    directly, where the dataclass's own __init__ goes through object.__setattr__ and costs
    about three times as much. The record is the same (tests/test_views.py compares them)."""
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    scope: dict[str, Any] = {"new": object.__new__, "cls": cls}
    scope.update({f"set_{n}": getattr(cls, n).__set__ for n in names})
    lines = "".join(f"    set_{n}(o, {n})\n" for n in names)
    exec(f"def build({', '.join(names)}):\n    o = new(cls)\n{lines}    return o\n", scope)
    build: Callable[..., T] = scope["build"]
    return build
