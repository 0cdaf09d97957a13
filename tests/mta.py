"""A private Postfix instance for the end-to-end tests: its own configuration, queue and
mailboxes in a temporary directory, listening on 127.0.0.1 only, with no DNS and no chroot.

Mail for the logging addresses (and for one user, who receives crmlog's notices) is delivered
by Postfix's virtual(8) agent into Maildirs, one address into an mbox; every other domain goes
to discard(8). Delivery is awaited with `postqueue -j`, never with a sleep.

Postfix is installed from Debian's packages when it is missing (debconf preseeded to
'Local only', --no-install-recommends). Where that cannot be done (not root, no apt-get, no
package registry), `Unavailable` says why, and the fixture skips with that reason, or fails
when CRMLOG_E2E_REQUIRE_MTA=1.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

POSTFIX = "/usr/sbin/postfix"
HOSTNAME = "mx.ourco.example"
LOGGING_DOMAIN = "crm.example.com"
TEAM_DOMAIN = "ourco.example"
MAILBOXES = {  # address -> path under the mailbox base ("/" at the end: a Maildir)
    f"log@{LOGGING_DOMAIN}": "log/",
    f"fwd@{LOGGING_DOMAIN}": "fwd/",
    f"archive@{LOGGING_DOMAIN}": "archive.mbox",
    f"anna@{TEAM_DOMAIN}": "anna/",
}
DELIVERY_TIMEOUT = 120  # seconds: a stuck queue, reported with what Postfix says about it


class Unavailable(Exception):
    """Postfix cannot be installed or run on this machine (the reason)."""


def _run(*cmd: str, env=None, check=True, timeout=300) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if check and proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def ensure_installed() -> None:
    """Install Postfix from Debian's packages if it is missing."""
    if Path(POSTFIX).exists():
        return
    if os.geteuid() != 0:
        raise Unavailable("Postfix is not installed, and installing it needs root")
    if shutil.which("apt-get") is None or shutil.which("debconf-set-selections") is None:
        raise Unavailable("Postfix is not installed, and this is not a Debian system with apt-get")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    preseed = "postfix postfix/main_mailer_type select Local only\npostfix postfix/mailname string localhost\n"
    subprocess.run(["debconf-set-selections"], input=preseed, text=True, check=True, capture_output=True)
    try:
        _run("apt-get", "update", "-qq", env=env, timeout=600)
        _run("apt-get", "install", "-y", "-qq", "--no-install-recommends", "postfix", env=env, timeout=900)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        raise Unavailable(f"cannot install Postfix from Debian's packages: {exc}") from None
    # the package starts the system's own instance; the tests need only their private one
    subprocess.run([POSTFIX, "stop"], capture_output=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


MASTER_CF = """\
# service type  private unpriv  chroot  wakeup  maxproc command
{listen} inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class PrivatePostfix:
    """One running private instance. virtual(8) delivers as `nobody`, into a directory of its own."""

    def __init__(self, root: Path):
        self.root = root
        self.config_dir = root / "etc"
        self.queue_dir = root / "queue"
        self.data_dir = root / "data"
        self.mail_dir = root / "mail"
        self.log_file = root / "log" / "postfix.log"
        self.port = _free_port()
        self.delivery_user = pwd.getpwnam("nobody")
        self.start_seconds = 0.0

    # ------------------------------------------------------------ set-up

    def write_config(self) -> None:
        for d in (self.config_dir, self.queue_dir, self.data_dir, self.mail_dir, self.log_file.parent):
            d.mkdir(parents=True, exist_ok=True)
        postfix = pwd.getpwnam("postfix")
        os.chown(self.data_dir, postfix.pw_uid, postfix.pw_gid)
        os.chown(self.mail_dir, self.delivery_user.pw_uid, self.delivery_user.pw_gid)  # virtual(8) writes here
        os.chmod(self.mail_dir, 0o755)
        (self.config_dir / "vmailbox").write_text("".join(f"{a} {p}\n" for a, p in MAILBOXES.items()))
        main = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue_dir,
            "data_directory": self.data_dir,
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": HOSTNAME,
            "mydomain": TEAM_DOMAIN,
            "myorigin": TEAM_DOMAIN,
            "mydestination": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "smtpd_relay_restrictions": "permit_mynetworks, reject",
            "smtpd_peername_lookup": "no",  # no DNS: the client's name is not looked up
            "smtp_dns_support_level": "disabled",
            "lmtp_dns_support_level": "disabled",
            "disable_dns_lookups": "yes",
            "smtputf8_enable": "no",
            "virtual_mailbox_domains": f"{LOGGING_DOMAIN}, {TEAM_DOMAIN}",
            "virtual_mailbox_base": self.mail_dir,
            "virtual_mailbox_maps": f"texthash:{self.config_dir / 'vmailbox'}",
            "virtual_uid_maps": f"static:{self.delivery_user.pw_uid}",
            "virtual_gid_maps": f"static:{self.delivery_user.pw_gid}",
            "virtual_minimum_uid": "1",
            "virtual_mailbox_limit": "0",
            "message_size_limit": "40000000",
            "recipient_delimiter": "+",
            "default_transport": "discard:every other domain is discarded",
            "relay_transport": "discard:every other domain is discarded",
            "relay_domains": "",
            "local_transport": "error:no local delivery here",
            "alias_maps": "",
            "alias_database": "",
            "biff": "no",
            "append_dot_mydomain": "no",
            "maillog_file": self.log_file,
            "maillog_file_prefixes": self.log_file.parent,
            "delay_warning_time": "0",
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
            "in_flow_delay": "0",
            "alternate_config_directories": self.config_dir,
        }
        (self.config_dir / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in main.items()))
        (self.config_dir / "master.cf").write_text(MASTER_CF.format(listen=f"127.0.0.1:{self.port}"))

    def start(self) -> None:
        started = time.perf_counter()
        self.write_config()
        # postfix(1) writes its errors to stderr only when that is a terminal: `script` gives it one
        proc = _run("script", "-qec", f"{POSTFIX} -c {self.config_dir} start", "/dev/null", check=False, timeout=120)
        if proc.returncode:
            raise Unavailable(f"the private Postfix did not start: {(proc.stderr or proc.stdout).strip()[-800:]}")
        deadline = time.monotonic() + 30
        while True:  # until smtpd answers on its port
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                    if s.recv(100).startswith(b"220"):
                        self.start_seconds = time.perf_counter() - started
                        return
            except OSError:
                if time.monotonic() > deadline:
                    raise Unavailable(
                        f"the private Postfix does not answer on 127.0.0.1:{self.port}: {self.log()[-800:]}"
                    ) from None

    def stop(self) -> None:
        subprocess.run([POSTFIX, "-c", str(self.config_dir), "stop"], capture_output=True, timeout=120)

    def log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except OSError:
            return ""

    # ------------------------------------------------------------ use

    @property
    def sendmail(self) -> str:
        """The command line of this instance's sendmail(1), as crmlog's setting takes it."""
        return f"/usr/sbin/sendmail -C {self.config_dir}"

    def queue(self) -> list[dict]:
        proc = _run("/usr/sbin/postqueue", "-c", str(self.config_dir), "-j", timeout=60)
        return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]

    def wait_for_delivery(self) -> None:
        """Until the queue is empty: every message delivered or discarded. A message that
        Postfix defers is a failure, reported with its reason."""
        deadline = time.monotonic() + DELIVERY_TIMEOUT
        while True:
            queue = self.queue()
            if not queue:
                return
            deferred = [q for q in queue if q.get("queue_name") == "deferred"]
            if deferred or time.monotonic() > deadline:
                reasons = [r.get("delay_reason", "") for q in queue for r in q.get("recipients", [])]
                raise AssertionError(f"Postfix did not deliver: {reasons}\n{self.log()[-2000:]}")

    def maildir(self, address: str) -> Path:
        return self.mail_dir / MAILBOXES[address].rstrip("/")

    def delivered(self, address: str) -> list[bytes]:
        """The raw messages delivered to an address's Maildir (new/ and cur/)."""
        box = self.maildir(address)
        return [p.read_bytes() for sub in ("new", "cur") for p in sorted((box / sub).glob("*")) if (box / sub).is_dir()]


def start_private_postfix() -> PrivatePostfix:
    if os.geteuid() != 0:
        raise Unavailable("a private Postfix instance needs root (postfix start), and this is not root")
    ensure_installed()
    root = Path(tempfile.mkdtemp(prefix="crmlog-postfix-"))
    os.chmod(root, 0o755)  # the postfix user walks into its queue and data directories
    instance = PrivatePostfix(root)
    instance.start()
    return instance
