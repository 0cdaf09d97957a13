"""Parsing in a second process: while this process reads header blocks, decides and stores,
a worker parses the next addressed messages (mail-parser is most of what a cold run costs,
and a mail host has two cores or more).

The reader's items come out in the order it gave them, each addressed message with its
parse, and so do the reader's events (`mark`), each in its place among the items: a
directory reported listed whole comes out after its last message, not when the reader,
running ahead, got there. At most WINDOW messages (WINDOW_BYTES of them) wait to be parsed.

A run parses its first MIN_ADDRESSED addressed messages here and starts the worker only
after them (starting one costs more than a cron-sized run parses); on one CPU it never
starts one. The worker is `python -m crmlog.parse_ahead`, a new interpreter that inherits
none of this one's files (the writer's lock among them): messages go to it and their parses
come back as pickles over its stdin and stdout, and it ends when its stdin does, whatever
ended this process. A worker that fails leaves its messages to be parsed here.
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from typing import IO

from .model import Message, RawMessage
from .parse import ParseError, parse
from .read.caps import Caps

MIN_ADDRESSED = 64
WINDOW = 32
WINDOW_BYTES = 32 << 20

Parsed = tuple[Message | None, str | None]  # the message; or what its header block tells, and why it is unparseable
_LENGTH = struct.Struct("!Q")


class WorkerFailed(Exception):
    """The worker ended or could not be started."""


def parse_one(data: bytes, caps: Caps, forward_addresses: tuple[str, ...]) -> Parsed:
    """One addressed message parsed (REJ-2: one that cannot be is its partial and the reason)."""
    try:
        return parse(data, caps, forward_addresses=forward_addresses), None
    except ParseError as exc:
        return exc.partial, str(exc)


def _send(out: IO[bytes], value: object) -> None:
    frame = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_LENGTH.pack(len(frame)) + frame)
    out.flush()


def _receive(stream: IO[bytes]) -> object:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError
    length = _LENGTH.unpack(head)[0]
    frame = stream.read(length)
    if len(frame) < length:  # the other side ended mid-frame
        raise EOFError
    return pickle.loads(frame)  # from our own worker, over a pipe only the two of us hold


class Worker:
    """The second process, with a thread that reads its answers as they come (so that
    neither side waits on a full pipe), each answering the oldest message sent."""

    def __init__(self, caps: Caps, forward_addresses: tuple[str, ...]):
        self._proc = subprocess.Popen(
            [sys.executable, "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # a worker that fails is replaced by parsing here, quietly
            close_fds=True,
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._in, self._out = self._proc.stdin, self._proc.stdout
        self._sent: deque[Future[Parsed]] = deque()
        self._lock = threading.Lock()
        _send(self._in, (caps, forward_addresses))
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def submit(self, data: bytes) -> Future[Parsed]:
        future: Future[Parsed] = Future()
        with self._lock:
            if self._proc.poll() is not None:
                raise WorkerFailed("the parsing process ended")
            self._sent.append(future)
        try:
            _send(self._in, data)
        except OSError:
            raise WorkerFailed("the parsing process ended") from None
        return future

    def _read(self) -> None:
        try:
            while True:
                answer = _receive(self._out)
                with self._lock:
                    future = self._sent.popleft()
                future.set_result(answer)  # type: ignore[arg-type]
        except Exception:  # the worker ended: what it had not answered fails
            with self._lock:
                failed, self._sent = list(self._sent), deque()
            for future in failed:
                future.set_exception(WorkerFailed("the parsing process ended"))

    def close(self) -> None:
        try:
            self._in.close()
        except OSError:
            pass
        self._proc.wait()
        self._reader.join()
        self._out.close()


def serve() -> None:
    """The worker: the settings, then message after message, each answered with its parse."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    try:
        settings = _receive(stdin)
        assert isinstance(settings, tuple)
        caps, forward_addresses = settings
        while True:
            data = _receive(stdin)
            assert isinstance(data, bytes)
            _send(stdout, parse_one(data, caps, forward_addresses))
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        return


def cores() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class ParseAhead:
    """`parallel`: may start a worker (the caller knows whether there is a core for it)."""

    def __init__(self, caps: Caps, forward_addresses: tuple[str, ...], *, parallel: bool = True):
        self._args = (caps, forward_addresses)
        self._parallel = parallel
        self._queue: deque[tuple[object, Future[Parsed] | Parsed | None]] = deque()
        self._worker: Worker | None = None
        self._addressed = self._waiting = self._waiting_bytes = 0

    def __enter__(self) -> ParseAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None

    def mark(self, event: object) -> None:
        """A reader's event, kept in its place among the items."""
        self._queue.append((event, None))

    def items(self, source: Iterator[object]) -> Iterator[tuple[object, Parsed | None]]:
        """Each item of `source` (and each event marked meanwhile), in order; an addressed
        message (RawMessage) with its parse."""
        for item in source:
            self._queue.append((item, self._start(item) if isinstance(item, RawMessage) else None))
            while self._queue and (self._waiting > WINDOW or self._waiting_bytes > WINDOW_BYTES or self._head_ready()):
                yield self._pop()
        while self._queue:
            yield self._pop()

    def _start(self, raw: RawMessage) -> Future[Parsed] | Parsed:
        self._addressed += 1
        if self._worker is None and self._parallel and self._addressed > MIN_ADDRESSED:
            try:
                self._worker = Worker(*self._args)
            except OSError:
                self._parallel = False
        if self._worker is None or not self._parallel:
            return parse_one(raw.data, *self._args)
        try:
            future = self._worker.submit(raw.data)
        except WorkerFailed:
            return self._here(raw)
        self._waiting += 1
        self._waiting_bytes += len(raw.data)
        return future

    def _head_ready(self) -> bool:
        parsed = self._queue[0][1]
        return not isinstance(parsed, Future) or parsed.done()

    def _pop(self) -> tuple[object, Parsed | None]:
        item, parsed = self._queue.popleft()
        if isinstance(parsed, Future):
            assert isinstance(item, RawMessage)
            self._waiting -= 1
            self._waiting_bytes -= len(item.data)
            try:
                parsed = parsed.result()
            except WorkerFailed:  # the worker died (killed, out of memory): parse here
                parsed = self._here(item)
        return item, parsed

    def _here(self, raw: RawMessage) -> Parsed:
        self._parallel = False
        return parse_one(raw.data, *self._args)


if __name__ == "__main__":
    serve()
