"""Reading mailboxes: Maildir folders and mbox files to RawMessage values.

Every message has a key that stays the same across runs (Maildir: the unique part of the file
name, which survives the new/ -> cur/ move and flag changes; mbox: the message's byte span,
which survives appends), so a run can skip what an earlier run decided on (ONCE-2) before
reading a byte of it.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from .errors import MailboxError
from .model import RawMessage, Unreadable

_INFO = re.compile(r"[:!;]2,")  # the info suffix: ":2,FLAGS" (Dovecot on some systems: "!2,", ";2,")


def printable(name: str) -> str:
    """A file name as stored and shown: bytes that are not UTF-8 (which Python carries as
    surrogates) written as \\xNN, so the same name always gives the same text."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


@dataclass(frozen=True, slots=True, kw_only=True)
class Folder:
    path: str  # the folder's resolved path, as the OS names it
    kind: str  # maildir | mbox

    @property
    def source(self) -> str:
        """The folder as stored with what is decided on and as shown."""
        return printable(self.path)

    def messages(self, wanted: Callable[[str], bool]) -> Iterator[RawMessage | Unreadable]:
        """The messages whose key `wanted` accepts, read one at a time; an Unreadable where
        one was listed and could not be read."""
        reader = _maildir_messages if self.kind == "maildir" else _mbox_messages
        return reader(self.path, wanted)


def maildir_key(filename: str) -> str:
    """The unique part of a Maildir file name, before the info suffix."""
    return _INFO.split(filename, 1)[0]


def open_folders(path: str | os.PathLike, fmt: str = "auto") -> tuple[Folder, ...]:
    """The folders to read under PATH; a missing or unreadable path is a MailboxError (66)."""
    p = Path(path).expanduser()
    if not p.exists():
        raise MailboxError(f"mailbox not found: {p}")
    if not os.access(p, os.R_OK):
        raise MailboxError(f"mailbox not readable: {p}")
    if fmt == "auto":
        fmt = "maildir" if p.is_dir() else "mbox"
    if fmt == "maildir":
        if not p.is_dir():
            raise MailboxError(f"not a Maildir (not a directory): {p}")
        root = p.resolve()
        folders = tuple(Folder(path=str(d), kind="maildir") for d in _maildir_folders(root))
        if not folders:
            raise MailboxError(f"not a Maildir (no cur/ or new/ in it or its sub-folders): {p}")
        return folders
    if not p.is_file():
        raise MailboxError(f"not an mbox file: {p}")
    try:
        with open(p, "rb") as fh:
            head = fh.read(5)
    except OSError as exc:
        raise MailboxError(f"mailbox not readable: {p}: {exc.strerror}") from None
    if head and head != b"From ":
        raise MailboxError(f"not an mbox file (it does not start with a 'From ' line): {p}")
    return (Folder(path=str(p.resolve()), kind="mbox"),)


# ---------------------------------------------------------------- Maildir


def _is_maildir(d: Path) -> bool:
    return (d / "cur").is_dir() or (d / "new").is_dir()


def _inside(path: Path, root: Path) -> bool:
    """Does path, with every link resolved, stay inside root? (SEC-2)"""
    try:
        return Path(os.path.realpath(path)).is_relative_to(root)
    except OSError:
        return False


def _maildir_folders(root: Path) -> list[Path]:
    """The Maildir itself and every Maildir below it (.Sent, .Archive.2024, Foo/...)."""
    found = []
    stack = [root]
    while stack:
        d = stack.pop()
        if _is_maildir(d):
            found.append(d)
        try:
            children = sorted(os.scandir(d), key=lambda e: e.name, reverse=True)
        except OSError:
            continue
        for child in children:
            if child.name in ("cur", "new", "tmp"):
                continue
            try:
                is_dir = child.is_dir()
            except OSError:
                continue
            if is_dir and _inside(Path(child.path), root):
                stack.append(Path(child.path))
    found.sort()
    return found


def _maildir_messages(path: str, wanted: Callable[[str], bool]) -> Iterator[RawMessage | Unreadable]:
    root, source = Path(path), printable(path)
    for sub in ("new", "cur"):  # new/ first: a message moved to cur/ meanwhile is met again
        try:
            names = sorted(os.scandir(root / sub), key=lambda e: e.name)
        except OSError:
            continue
        for e in names:
            if e.name.startswith("."):
                continue
            key = printable(maildir_key(e.name))
            if not wanted(key):
                continue
            try:
                if e.is_symlink() and not _inside(Path(e.path), root):
                    continue  # SEC-2: never read through a link that leads outside
                with open(e.path, "rb") as fh:
                    data = fh.read()
            except (FileNotFoundError, IsADirectoryError):
                continue  # moved or deleted since listed: met again where it went
            except OSError as exc:
                yield Unreadable(source=source, key=key, reason=f"{printable(e.path)}: {exc.strerror}")
                continue
            yield RawMessage(source=source, key=key, data=data)


# ---------------------------------------------------------------- mbox


def _mbox_messages(path: str, wanted: Callable[[str], bool]) -> Iterator[RawMessage | Unreadable]:
    """Stream an mbox: a line starting with "From " opens a message (as the stdlib mailbox
    module reads it); the key is the message's byte span, which appends do not move."""
    source = printable(path)
    try:
        fh = open(path, "rb")
    except OSError as exc:
        yield Unreadable(source=source, key="", reason=f"{source}: {exc.strerror}")
        return
    with fh:
        start: int | None = None
        lines: list[bytes] = []
        offset = 0

        def emit(stop: int) -> Iterator[RawMessage]:
            key = f"{start}-{stop}"
            if wanted(key):
                yield RawMessage(source=source, key=key, data=b"".join(lines[1:]))

        for line in fh:
            if line.startswith(b"From "):
                if start is not None:
                    yield from emit(offset)
                start, lines = offset, []
            if start is not None:
                lines.append(line)
            offset += len(line)
        if start is not None:
            yield from emit(offset)
