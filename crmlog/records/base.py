"""What every stored kind has: its table, its id, and its document both ways."""

from __future__ import annotations

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
