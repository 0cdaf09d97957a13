"""Reading mailboxes: Maildir folders and mbox files to RawMessage values, reading as little
as the decision needs.

Every message has a key that stays the same across runs (Maildir: the unique part of the file
name, which survives the new/ -> cur/ move and flag changes; mbox: the message's byte span,
which survives appends), so a run can skip what an earlier run decided on (ONCE-2) before
reading a byte of it. Of a message not yet decided on only the header block is read; the
rest only when `addressed(header block)` says it is for us. An mbox is read in chunks, from
where the last run stopped (MboxPosition) when the bytes before that point are unchanged, so
neither a big mbox nor a big message is ever held whole unless it is addressed. A Maildir
directory whose mtime is the one recorded after the last run is not listed at all
(directory_times.py, with the races that rule has to survive).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import MailboxError
from ..model import MBOX_TAIL, MboxPosition, RawMessage, Unaddressed, Unreadable, tail_digest
from .caps import HEADER_BYTES
from .directory_times import DIRECTORIES, DirectoryListed, DirectoryUnchanged, observe
from .headerblock import header_block_end

HEAD_READ = 16_384  # first read of a Maildir file: the header block of nearly every message
MBOX_CHUNK = 1 << 20

Item = RawMessage | Unaddressed | Unreadable
DirectoryEvent = DirectoryListed | DirectoryUnchanged


def printable(name: str) -> str:
    """A file name as stored and shown: bytes that are not UTF-8 (which Python carries as
    surrogates) written as \\xNN, so the same name always gives the same text."""
    if name.isascii():
        return name
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


@dataclass(frozen=True, slots=True, kw_only=True)
class Folder:
    path: str  # the folder's resolved path, as the OS names it
    kind: str  # maildir | mbox

    @property
    def source(self) -> str:
        """The folder as stored with what is decided on and as shown."""
        return printable(self.path)

    def messages(
        self,
        addressed: Callable[[bytes], bool],
        *,
        seen: Callable[[str], bool] = lambda key: False,
        recorded_mtimes: Mapping[str, int] | None = None,
        on_directory: Callable[[DirectoryEvent], None] = lambda event: None,
        resume: tuple[int, str | None] | None = None,
    ) -> Iterator[Item]:
        """The messages not decided on yet, one at a time: a Maildir's files whose key `seen`
        does not know, in the directories whose mtime is not the one in `recorded_mtimes`
        (directory -> st_mtime_ns); `on_directory` hears of each directory passed over
        (`DirectoryUnchanged`) or listed whole (`DirectoryListed`, once the caller asks for
        what comes after its last message, which it has decided on by then). An mbox's
        messages after `resume` (offset, tail digest) where the file still holds the same
        bytes before it, else all of them."""
        if self.kind == "maildir":
            return _maildir_messages(self.path, addressed, seen, recorded_mtimes or {}, on_directory)
        return _mbox_messages(self.path, addressed, resume)


def maildir_key(filename: str) -> str:
    """The unique part of a Maildir file name, before the info suffix ":2,FLAGS" (Dovecot on
    some systems: "!2,", ";2,")."""
    i = filename.find("2,", 1)
    while i > 0:
        if filename[i - 1] in ":!;":
            return filename[: i - 1]
        i = filename.find("2,", i + 1)
    return filename


def open_folders(path: str | os.PathLike[str], fmt: str = "auto") -> tuple[Folder, ...]:
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


def _maildir_messages(
    path: str,
    addressed: Callable[[bytes], bool],
    seen: Callable[[str], bool],
    recorded_mtimes: Mapping[str, int],
    on_directory: Callable[[DirectoryEvent], None],
) -> Iterator[Item]:
    root, source = Path(path), printable(path)
    for sub in DIRECTORIES:  # new/ first: a message moved to cur/ meanwhile is met again
        directory = os.path.join(path, sub)
        observed = observe(directory)  # before the listing (directory_times.py: a)
        if observed is not None and observed.mtime == recorded_mtimes.get(sub):
            on_directory(DirectoryUnchanged(source=source, directory=sub))
            continue
        try:
            with os.scandir(directory) as listing:
                # `seen` hears every key listed, decided on or not (the store forgets keys
                # whose files are gone); only the names not decided on are kept and sorted
                todo = sorted(
                    (e.name, key, e.is_symlink())
                    for e in listing
                    if not e.name.startswith(".") and not seen(key := printable(maildir_key(e.name)))
                )
        except FileNotFoundError:
            todo = []  # no such directory: listed, and empty
        except OSError:
            continue  # not listed: its keys are not heard, so none is forgotten
        whole = True  # every message listed handed over to be decided on
        for name, key, link in todo:
            file = f"{directory}/{name}"
            try:
                if link and not _inside(Path(file), root):
                    continue  # SEC-2: never read through a link that leads outside
                yield _read_maildir_file(file, source, key, addressed)
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                continue  # moved or deleted since listed: met again where it went
            except OSError as exc:
                whole = False  # tried again next run: the directory must be listed again
                yield Unreadable(source=source, key=key, reason=f"{printable(file)}: {exc.strerror}")
        trusted = observed is not None and observed.trusted and whole
        on_directory(
            DirectoryListed(source=source, directory=sub, mtime=observed.mtime if observed and trusted else None)
        )


def _read_maildir_file(file: str, source: str, key: str, addressed: Callable[[bytes], bool]) -> Item:
    """The header block first; the whole file, in one read, only for a message addressed
    to us."""
    fd = os.open(file, os.O_RDONLY)
    try:
        head = os.read(fd, HEAD_READ)
        while header_block_end(head) is None and len(head) <= HEADER_BYTES:  # a long header block, or no body
            more = os.read(fd, max(HEAD_READ, len(head)))
            if not more:
                break
            head += more
        if not addressed(head):
            return Unaddressed(source=source, key=key)
        size = os.fstat(fd).st_size
        data = head if size <= len(head) else os.pread(fd, size, 0)
        return RawMessage(source=source, key=key, data=data)
    finally:
        os.close(fd)


# ---------------------------------------------------------------- mbox


class _Buffer:
    """A window on a file read forward in chunks: `buf[0]` is the byte at offset `base`.
    Searching forward drops what lies behind, so it holds a chunk or two, never a message."""

    def __init__(self, fh: BinaryIO, offset: int):
        self.fh, self.base, self.buf, self.eof = fh, offset, bytearray(), False

    @property
    def end(self) -> int:
        return self.base + len(self.buf)

    def fill(self) -> bool:
        chunk = self.fh.read(MBOX_CHUNK)
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def ensure(self, offset: int) -> None:
        """Read on until the window reaches `offset` or the end of the file."""
        while self.end < offset and self.fill():
            pass

    def find(self, needle: bytes, start: int) -> int:
        """The offset of needle at or after `start`, reading on (and forgetting what lies
        behind); -1 at the end of the file."""
        searched = start
        while True:
            i = self.buf.find(needle, searched - self.base)
            if i >= 0:
                return self.base + i
            searched = max(start, self.end - len(needle) + 1)
            self.forget_before(searched)
            if not self.fill():
                return -1

    def take(self, start: int, stop: int) -> bytes:
        with memoryview(self.buf) as view:
            return bytes(view[start - self.base : stop - self.base])

    def forget_before(self, offset: int) -> None:
        """Drop what lies more than MBOX_TAIL bytes before `offset` (a chunk at a time)."""
        cut = offset - MBOX_TAIL - self.base
        if cut >= MBOX_CHUNK:
            del self.buf[:cut]
            self.base += cut


def _resume_offset(fh: BinaryIO, size: int, resume: tuple[int, str | None] | None) -> int:
    """Where to start: after the last message decided on if the mbox still holds the same
    bytes before that offset (a state without a digest, upgraded from schema 1, skips that
    check) and a message (or the end) at it; else at its start."""
    if not resume:
        return 0
    offset, digest = resume
    if not 0 < offset <= size:
        return 0
    if os.pread(fh.fileno(), 5, offset) not in (b"", b"From "):
        return 0
    first = max(0, offset - MBOX_TAIL)
    if digest is not None and tail_digest(os.pread(fh.fileno(), offset - first, first)) != digest:
        return 0
    return offset


def _mbox_messages(
    path: str, addressed: Callable[[bytes], bool], resume: tuple[int, str | None] | None
) -> Iterator[Item]:
    """Stream an mbox: a line starting with "From " opens a message (as the stdlib mailbox
    module reads it); the key is the message's byte span, which appends do not move."""
    source = printable(path)
    try:
        fh = open(path, "rb", buffering=0)
    except OSError as exc:
        yield Unreadable(source=source, key="", reason=f"{source}: {exc.strerror}")
        return
    with fh:
        try:
            start = _resume_offset(fh, os.fstat(fh.fileno()).st_size, resume)
            fh.seek(start)
            yield from _mbox_from(_Buffer(fh, start), source, addressed)
        except OSError as exc:
            yield Unreadable(source=source, key="", reason=f"{source}: {exc.strerror}")


def _being_written(fh: BinaryIO) -> bool:
    """Does a delivery agent hold the mbox now? Postfix, procmail and mutt lock it while they
    append (fcntl or flock, and a dot-lock file beside it). Looked at only when the last
    message does not end with the empty line that writers put after each message."""
    if os.path.exists(f"{fh.name}.lock"):
        return True
    fd = fh.fileno()
    for lock in (fcntl.lockf, fcntl.flock):
        try:
            lock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True  # held exclusively by a writer (or cannot tell: wait for the next run)
        lock(fd, fcntl.LOCK_UN)
    return False


def _mbox_from(b: _Buffer, source: str, addressed: Callable[[bytes], bool]) -> Iterator[Item]:
    pos = b.base
    b.ensure(pos + 1)
    while pos < b.end:
        line_end = b.find(b"\n", pos)  # the From_ line
        body = line_end + 1 if line_end >= 0 else b.end
        # the header block: up to its empty line, or the whole message if it ends first
        window, stop = HEAD_READ, -1
        while True:
            b.ensure(body + window)
            reach = min(b.end, body + window)
            nxt = b.buf.find(b"\nFrom ", max(line_end, pos) - b.base, reach - b.base) if line_end >= 0 else -1
            if nxt >= 0:
                stop = b.base + nxt + 1
            elif b.eof and reach == b.end:
                stop = reach
            head = b.take(body, stop if stop >= 0 else reach)
            if stop >= 0 or header_block_end(head) is not None or window > HEADER_BYTES:
                break  # (a header block over the cap is unparseable: its first 4 MB decide)
            window *= 4
        wanted = addressed(head)
        if stop < 0:
            nxt = b.find(b"\nFrom ", max(line_end, body + len(head) - len(b"\nFrom ")))
            stop = nxt + 1 if nxt >= 0 else b.end
        if stop == b.end and b.eof and b.take(max(body, stop - 2), stop) != b"\n\n" and _being_written(b.fh):
            return  # the last message, unfinished, and its writer holds the mbox: next run
        first = max(0, stop - MBOX_TAIL)  # the bytes before `stop`, read before this run's start too
        tail = b.take(first, stop) if first >= b.base else os.pread(b.fh.fileno(), stop - first, first)
        position = MboxPosition(offset=stop, tail=tail)
        key = f"{pos}-{stop}"
        if wanted:
            data = os.pread(b.fh.fileno(), stop - body, body)  # one read, not the window
            yield RawMessage(source=source, key=key, data=data, position=position)
        else:
            yield Unaddressed(source=source, key=key, position=position)
        pos = stop
        b.forget_before(pos)
        b.ensure(pos + 1)
