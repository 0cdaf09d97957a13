"""A private PostgreSQL server for the tests: its own cluster in a temporary directory
(initdb, then pg_ctl -w, which waits until the server accepts connections), listening only on
a unix socket in that directory, fsync off. Run as root (CI), the server runs as an
unprivileged user (`nobody`, or one made with useradd), through runuser.

Roles: the cluster's superuser (the tests' own hand: revoking, holding locks, making
databases) and `crm`, an ordinary role that owns the CRM databases, as a deployment's would.
A template database holds the current schema, so that a fresh CRM per test is one
CREATE DATABASE ... TEMPLATE.

Where PostgreSQL is not installed, `Unavailable` says so (the fixture skips, or fails under
CRMLOG_REQUIRE_PG=1).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from crmlog.store.pgengine import PgEngine

ADMIN = "crmlog_admin"
ROLE = "crm"
TEMPLATE = "crm_template"
SERVER_USER = "nobody"


class Unavailable(Exception):
    """No PostgreSQL server can be run here (the reason)."""


def binaries() -> Path:
    """The directory with initdb and pg_ctl: on PATH, else Debian's /usr/lib/postgresql/*/bin."""
    candidates = [Path(p).parent for p in (shutil.which("initdb"),) if p]
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    raise Unavailable("PostgreSQL is not installed (no initdb and pg_ctl on PATH or in /usr/lib/postgresql/*/bin)")


def _server_user() -> str | None:
    """The unprivileged user the server runs as when we are root; None: ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", SERVER_USER], check=True, capture_output=True)
    return SERVER_USER


@dataclass
class Server:
    root: Path
    bin: Path
    user: str | None
    _names: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, db: str, role: str = ROLE) -> str:
        return f"postgresql://{role}@/{db}?host={self.root}"

    def _as_server(self, *cmd: str) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        proc = subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=300)
        if proc.returncode:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise Unavailable(f"{Path(cmd[0]).name} failed: {proc.stderr.strip() or proc.stdout.strip()} {tail}")
        return proc

    def start(self) -> None:
        self._as_server(str(self.bin / "initdb"), "-D", str(self.data), "-U", ADMIN, "-A", "trust", "-E", "UTF8",
                        "--locale=C", "--no-sync")  # fmt: skip
        options = (
            f"-c listen_addresses='' -c unix_socket_directories={self.root} -c fsync=off -c full_page_writes=off"
            " -c max_connections=300"  # a session's tests, hosts at once among them
        )
        self._as_server(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"), "-w",
                        "-o", options, "start")  # fmt: skip
        with self.admin("postgres") as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(ROLE)))
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(TEMPLATE), sql.Identifier(ROLE)))
        PgEngine(self.url(TEMPLATE), write=True).close()  # the schema, made as a first writer makes it

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._as_server(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def admin(self, db: str) -> psycopg.Connection[tuple[object, ...]]:
        """A superuser's connection to `db` (autocommit)."""
        return psycopg.connect(self.url(db, ADMIN), autocommit=True)

    def database(self, *, schema: bool = True) -> str:
        """A new CRM database, with the current schema (or none yet): its name."""
        name = f"crm_{os.getpid()}_{next(self._names)}"
        template = TEMPLATE if schema else "template0"
        with self.admin("postgres") as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {} OWNER {}").format(
                    sql.Identifier(name), sql.Identifier(template), sql.Identifier(ROLE)
                )
            )
        return name


def start_server() -> Server:
    folder = binaries()
    user = _server_user()
    root = Path(tempfile.mkdtemp(prefix="crmlog-pg-"))
    if user:
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    os.chmod(root, 0o755)  # its socket reachable; the data directory inside is the server's own (0700)
    server = Server(root=root, bin=folder, user=user)
    try:
        server.start()
    except BaseException:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
        raise
    return server
