"""Shared test helpers: messages built in code, Maildirs built on disk, the CLI through CliRunner."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import crmlog_state as crm_state
import pytest
import stored
from click.testing import CliRunner

from crmlog.cli import main
from crmlog.records import Contact, Deal, TeamInbox, User

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
CORPUS = ROOT.parent / "shared" / "corpus" / "real"

LOG = "log@crm.example.com"
FWD = "fwd@crm.example.com"


def eml(
    *,
    frm="Anna <anna@ourco.example>",
    to="Li Wei <li.wei@acme.example>",
    cc=None,
    bcc=None,
    subject="Hello",
    body="Hello there\n",
    message_id="<m1@ourco.example>",
    date="Mon, 01 Jun 2026 09:00:00 +0200",
    headers=None,
    attachments=(),
) -> bytes:
    """An RFC 5322 message as bytes, as a mail client would write it."""
    m = EmailMessage()
    if frm:
        m["From"] = frm
    if to:
        m["To"] = to
    if cc:
        m["Cc"] = cc
    if bcc:
        m["Bcc"] = bcc
    m["Subject"] = subject
    if date:
        m["Date"] = date
    if message_id:
        m["Message-ID"] = message_id
    m.set_content(body)
    for name, ctype, data in attachments:
        maintype, subtype = ctype.split("/")
        m.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    top = "".join(  # written as a server prepends them: raw, folded lines kept
        f"{name}: {v}\n"
        for name, value in (headers or {}).items()
        for v in (value if isinstance(value, (list, tuple)) else [value])
    )
    return top.encode() + bytes(m)


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """The CRM as the rules see it (model.CrmView), over plain values: the input the rule tests
    hand to rules.decide."""

    users: tuple[User, ...] = ()
    team_inboxes: tuple[TeamInbox, ...] = ()
    contacts: Mapping[str, Contact] = field(default_factory=dict)
    deals: tuple[Deal, ...] = ()
    logged: frozenset[str] = frozenset()
    forgotten: frozenset[str] = frozenset()

    def contact(self, email: str) -> Contact | None:
        found = self.contacts.get(email)
        return found or next((c for c in self.contacts.values() if email in c.aliases), None)

    def open_deals(self, email: str) -> tuple[Deal, ...]:
        return tuple(d for d in self.deals if d.is_open and email in d.contacts)

    def deal(self, id: int) -> Deal | None:
        return next((d for d in self.deals if d.id == id), None)

    def is_logged(self, identity: str) -> bool:
        return identity in self.logged

    def is_forgotten(self, email: str) -> bool:
        return email in self.forgotten


def make_maildir(root: Path, messages: dict[str, list[tuple[str, bytes]]]) -> Path:
    """Build a Maildir: {folder ("" for the top, ".Sent", ...): [(file name, bytes)]}; a name
    with ":2," goes into cur/, one without into new/."""
    for folder, items in messages.items():
        base = root / folder if folder else root
        for sub in ("cur", "new", "tmp"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        for name, data in items:
            (base / ("cur" if ":2," in name else "new") / name).write_bytes(data)
    return root


class Cli:
    """The real CLI through CliRunner, with its own configuration and database: the embedded
    engine's file under tmp_path/data, or `db`, a PostgreSQL database's URL."""

    def __init__(self, tmp_path: Path, db: str | None = None):
        self.tmp = tmp_path
        self.config = tmp_path / "config" / "crmlog.toml"
        self.db: Path | str = db or tmp_path / "data" / "crm.json"
        self.runner = CliRunner()

    @property
    def engine(self) -> str:
        return "postgresql" if isinstance(self.db, str) else "json"

    # What the CRM holds, read the same way on either engine (tests/stored.py reads the
    # embedded engine's files; crmlog_state.py a server's tables, as a superuser would)

    def crm_exists(self) -> bool:
        """A CRM was made: the JSON file, or the schema in the database."""
        return crm_state.has_schema(self.db) if isinstance(self.db, str) else self.db.exists()

    def snapshot(self) -> object:
        """To compare before and after a command that must write nothing: the root file's bytes
        (every write of the embedded engine replaces it), or every row of every table."""
        return crm_state.rows(self.db) if isinstance(self.db, str) else self.db.read_bytes()

    def sources(self) -> list[dict]:
        """The mailboxes' states as stored (this host's, on a server)."""
        if isinstance(self.db, str):
            return crm_state.sources(self.db)
        return list(stored.tables(self.db).get("sources", {}).values()) if self.db.exists() else []

    def attachments(self) -> set[str]:
        """The SHA-256 of each attachment stored."""
        if isinstance(self.db, str):
            return crm_state.attachments(self.db)
        where = self.db.parent / f"{self.db.stem}.attachments"
        return {p.name for p in where.iterdir()} if where.exists() else set()

    def __call__(self, *args: str, expect: int | None = 0, input=None):
        result = self.runner.invoke(
            main, ["--config", str(self.config), "--db", str(self.db), *map(str, args)], input=input
        )
        if expect is not None:
            assert result.exit_code == expect, (result.exit_code, result.stdout, result.stderr, result.exception)
        return result

    def argv(self, *args: str) -> list[str]:
        """The command line of the real CLI with this configuration and database."""
        return [sys.executable, "-m", "crmlog", "--config", str(self.config), "--db", str(self.db), *map(str, args)]

    def process(self, *args: str, prefix=(), preexec_fn=None, timeout=300) -> subprocess.CompletedProcess:
        """The real CLI as a new process, for what CliRunner cannot show (a capped address
        space, a process without root's capabilities, a kill, its own stderr)."""
        return subprocess.run(
            [*prefix, *self.argv(*args)], capture_output=True, text=True, preexec_fn=preexec_fn, timeout=timeout
        )

    def start(self, *args: str) -> subprocess.Popen:
        """The real CLI as a process that runs on while the test does something to it."""
        return subprocess.Popen(self.argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def terminal(self, *args: str, columns: int = 100, timeout: float = 120) -> tuple[int, str]:
        """The real CLI as a process whose stdout and stderr are a terminal (a pseudo-terminal
        of `columns` columns): its exit status and everything it wrote, as the terminal got it."""
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
        env = {k: v for k, v in os.environ.items() if k not in ("TTY_COMPATIBLE", "COLUMNS", "LINES", "NO_COLOR")}
        proc = subprocess.Popen(
            self.argv(*args), stdin=slave, stdout=slave, stderr=slave, env={**env, "TERM": "xterm-256color"}
        )
        os.close(slave)
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the process ended and closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(master)
        return proc.wait(timeout=timeout), b"".join(chunks).decode("utf-8", "replace")

    def json(self, *args: str):
        result = self(*args, "--json")
        return json.loads(result.stdout)

    def init(self, *extra: str, expect: int | None = 0):
        return self("init", "--bcc", LOG, "--forward", FWD, *extra, expect=expect)

    def write_config(self, text: str) -> None:
        self.config.parent.mkdir(parents=True, exist_ok=True)
        self.config.write_text(text)


ENGINES = ("json", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "json_only(reason): a test of the embedded engine's files, run on that engine alone (why, in a line)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that uses the `cli` fixture (or `team`) runs once per engine (the `engine` parameter),
    but for one marked json_only, which runs on the embedded engine alone."""
    if "engine" not in metafunc.fixturenames:
        return
    only = metafunc.definition.get_closest_marker("json_only")
    if only is not None:
        assert len(only.args) == 1 and isinstance(only.args[0], str) and only.args[0], "json_only needs its reason"
    metafunc.parametrize("engine", ["json"] if only else ENGINES, scope="function")


@pytest.fixture
def cli(tmp_path, engine, request) -> Cli:
    """The CLI on a CRM of the test's engine: a JSON file under tmp_path, or a fresh database on
    the session's PostgreSQL server."""
    if engine == "json":
        return Cli(tmp_path)
    server = request.getfixturevalue("pg_server")
    return Cli(tmp_path, server.url(server.database(schema=False)))  # as createdb leaves it: no CRM yet


@pytest.fixture
def team(cli) -> Cli:
    """A configured CLI with a small sales team."""
    cli.init()
    cli("users", "add", "anna@ourco.example", "--name", "Anna", "--inbox", "anna@ourco.example", "--login", "anna")
    cli("users", "add", "ben@ourco.example", "--name", "Ben", "--seat", "read-only")
    return cli


def corpus_or_skip() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"the real-mail corpus is not beside this checkout ({CORPUS} is absent)")
    return CORPUS


def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(
        Path(d) / f
        for d, _, files in os.walk(CORPUS)
        for f in files
        if not os.path.islink(Path(d) / f) and f != "MANIFEST.md"
    )


@pytest.fixture(scope="session")
def postfix_instance():
    """A private Postfix for the whole session (tests/mta.py), installed from Debian's packages
    if missing. Skipped, with the reason, where the machine cannot run one; a failure instead
    with CRMLOG_E2E_REQUIRE_MTA=1."""
    import shutil

    from mta import Unavailable, start_private_postfix

    try:
        instance = start_private_postfix()
    except Unavailable as exc:
        if os.environ.get("CRMLOG_E2E_REQUIRE_MTA") == "1":
            pytest.fail(f"CRMLOG_E2E_REQUIRE_MTA=1, and no real mail server could be run: {exc}")
        pytest.skip(f"no real mail server for the end-to-end tests: {exc}")
    try:
        yield instance
    finally:
        instance.stop()
        shutil.rmtree(instance.root, ignore_errors=True)


@pytest.fixture
def postfix(postfix_instance):
    """The session's Postfix with empty mailboxes for this test."""
    import shutil

    postfix_instance.wait_for_delivery()
    for child in postfix_instance.mail_dir.iterdir():
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()
    return postfix_instance


@pytest.fixture(scope="session")
def pg_server():
    """A private PostgreSQL server for the whole session (tests/pg.py). Skipped, with the
    reason, where PostgreSQL is not installed; a failure instead with CRMLOG_REQUIRE_PG=1."""
    import shutil

    from pg import Unavailable, start_server

    try:
        server = start_server()
    except Unavailable as exc:
        if os.environ.get("CRMLOG_REQUIRE_PG") == "1":
            pytest.fail(f"CRMLOG_REQUIRE_PG=1, and no PostgreSQL server could be run: {exc}")
        pytest.skip(f"no PostgreSQL server for these tests: {exc}")
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server) -> str:
    """The URL of a new CRM database with the current schema, for this test alone."""
    return pg_server.url(pg_server.database())
