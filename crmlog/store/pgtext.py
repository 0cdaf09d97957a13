"""Text a PostgreSQL server refuses, kept all the same: a NUL character (which neither a text
value nor a jsonb string may hold) and a lone surrogate (the undecodable bytes of a message,
which UTF-8 cannot carry) are each written as two private-use characters, ESC and a mark, and
read back as they were; an ESC of the text itself is escaped too, so that every string
comes back exactly (the embedded engine's JSON holds them as \\u escapes).

`register` puts this on a connection: on every str parameter, every text column read, and
every jsonb document both ways. Text without these characters passes through unchanged, so
what is stored is what a query compares (an address, an identity) and is plain in the
database for anyone reading it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.types.json import set_json_dumps, set_json_loads
from psycopg.types.string import StrBinaryDumper, StrDumper, StrDumperUnknown, TextBinaryLoader, TextLoader

from .. import jsonio

ESC = "\ue000"
_ESC_BYTES = ESC.encode()
_MARKS = {"\x00": "\ue002", ESC: "\ue001"}  # a surrogate U+D800+k: U+E100+k
_UNMARKS = {mark: char for char, mark in _MARKS.items()}
_REFUSED = re.compile("[\x00\ue000\ud800-\udfff]")
_ESCAPED = re.compile("\ue000(.)", re.S)


def _mark(found: re.Match[str]) -> str:
    char = found.group(0)
    return ESC + (_MARKS.get(char) or chr(0xE100 + ord(char) - 0xD800))


def _unmark(found: re.Match[str]) -> str:
    mark = found.group(1)
    return _UNMARKS.get(mark) or chr(0xD800 + ord(mark) - 0xE100)


def escape(text: str) -> str:
    return _REFUSED.sub(_mark, text) if _REFUSED.search(text) else text


def unescape(text: str) -> str:
    return _ESCAPED.sub(_unmark, text) if ESC in text else text


def _each_string(value: Any, change: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {change(k) if isinstance(k, str) else k: _each_string(v, change) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_each_string(v, change) for v in value]
    return value


def dumps(data: Any) -> bytes:
    """A jsonb document: jsonio's, escaped where it has to be (a NUL is `\\u0000` in JSON, a
    lone surrogate `\\udXXX`; either test may also match a backslash of the text, which only
    costs the walk)."""
    raw = jsonio.dumps(data)
    if b"\\u0000" in raw or b"\\ud" in raw or _ESC_BYTES in raw:
        raw = jsonio.dumps(_each_string(data, escape))
    return raw


def loads(data: str | bytes) -> Any:
    raw = data.encode() if isinstance(data, str) else bytes(data)
    value = jsonio.loads(raw)
    return _each_string(value, unescape) if _ESC_BYTES in raw else value


class _Text(StrDumper):
    def dump(self, obj: str) -> Any:
        return super().dump(escape(obj))


class _TextUnknown(StrDumperUnknown):
    def dump(self, obj: str) -> Any:
        return super().dump(escape(obj))


class _TextBinary(StrBinaryDumper):
    def dump(self, obj: str) -> Any:
        return super().dump(escape(obj))


class _Loader(TextLoader):
    def load(self, data: Any) -> Any:
        text = super().load(data)
        return unescape(text) if isinstance(text, str) else text


class _BinaryLoader(TextBinaryLoader):
    def load(self, data: Any) -> Any:
        text = super().load(data)
        return unescape(text) if isinstance(text, str) else text


def register(conn: psycopg.Connection[Any]) -> None:
    adapters = conn.adapters
    for dumper in (_TextBinary, _Text, _TextUnknown):  # the order of psycopg's own: the last is the default
        adapters.register_dumper(str, dumper)
    for name in ("text", "varchar"):
        adapters.register_loader(name, _Loader)
        adapters.register_loader(name, _BinaryLoader)
    set_json_loads(loads, conn)
    set_json_dumps(dumps, conn)
