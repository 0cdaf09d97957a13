"""Configuration: TOML file -> Settings; default locations under the XDG dirs."""

from __future__ import annotations

import ipaddress
import json
import os
import shlex
import tomllib
from pathlib import Path
from typing import Any

import platformdirs

from .errors import ConfigError
from .model import Settings, normalize_email, normalize_host

APP = "crmlog"
DEFAULTS = Settings(bcc=())  # every setting's default is Settings' own: parse() and the template read them here

_KNOWN = {
    "addresses": {"bcc", "forward"},
    "limits": {"max_body_bytes", "max_attachment_bytes"},
    "contacts": {"never_log", "auto_create_companies"},
    "security": {"require_authenticated_sender", "trusted_hosts", "authserv_ids"},
    "notices": {"mail", "daily_summary", "sendmail", "from"},
}


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP)) / "config.toml"


def default_db_path() -> Path:
    return Path(platformdirs.user_data_dir(APP)) / "crm.json"


def load(path: Path) -> Settings:
    """Read and validate the configuration; every problem is a ConfigError naming the file."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"configuration not found: {path} (write one with `crmlog init --bcc ADDRESS`)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read configuration {path}: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML in {path}: {exc}") from None
    return parse(data, where=str(path))


def parse(data: dict[str, Any], *, where: str = "configuration") -> Settings:
    def fail(msg: str) -> ConfigError:
        return ConfigError(f"{where}: {msg}")

    for section, value in data.items():
        if section not in _KNOWN:
            raise fail(f"unknown section [{section}] (known: {', '.join(sorted(_KNOWN))})")
        if not isinstance(value, dict):
            raise fail(f"[{section}] must be a table")
        for key in value:
            if key not in _KNOWN[section]:
                raise fail(f"unknown key {key!r} in [{section}]")

    def addresses(key: str) -> tuple[str, ...]:
        raw = data.get("addresses", {}).get(key, [])
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list) or not all(isinstance(a, str) for a in raw):
            raise fail(f"addresses.{key} must be a list of e-mail addresses")
        out = []
        for a in raw:
            n = normalize_email(a)
            if not n:
                raise fail(f"addresses.{key}: {a!r} is not an e-mail address")
            out.append(n)
        return tuple(dict.fromkeys(out))

    bcc, forward = addresses("bcc"), addresses("forward")
    if not bcc and not forward:
        raise fail("no logging address: set addresses.bcc and/or addresses.forward")
    if set(bcc) & set(forward):
        raise fail("an address cannot be both a BCC and a forwarding address")

    def integer(section: str, key: str, default: int) -> int:
        v = data.get(section, {}).get(key, default)
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise fail(f"{section}.{key} must be a positive whole number of bytes")
        return v

    def boolean(section: str, key: str, default: bool) -> bool:
        v = data.get(section, {}).get(key, default)
        if not isinstance(v, bool):
            raise fail(f"{section}.{key} must be true or false")
        return v

    never = data.get("contacts", {}).get("never_log", [])
    if not isinstance(never, list) or not all(isinstance(p, str) and p.strip() for p in never):
        raise fail("contacts.never_log must be a list of addresses, globs or domains")

    def hosts(key: str, what: str) -> frozenset[str]:
        raw = data.get("security", {}).get(key, [])
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list) or not all(
            isinstance(h, str) and h.strip() and not any(c.isspace() for c in h.strip()) for h in raw
        ):
            raise fail(f"security.{key} must be a list of host names ({what})")
        return frozenset(_host_or_ip(h) for h in raw)

    notices = data.get("notices", {})
    sendmail = notices.get("sendmail", DEFAULTS.sendmail)
    if not isinstance(sendmail, str) or not sendmail.strip():
        raise fail('notices.sendmail must be the sendmail command, e.g. "/usr/sbin/sendmail"')
    try:
        shlex.split(sendmail)
    except ValueError as exc:
        raise fail(f"notices.sendmail: {exc}") from None
    sender = notices.get("from", DEFAULTS.notice_from)
    if not isinstance(sender, str) or not sender.strip() or any(c.isspace() or c in "<>" for c in sender.strip()):
        raise fail('notices.from must be an address (or a local name the mail host qualifies), e.g. "crmlog"')

    return Settings(
        bcc=bcc,
        forward=forward,
        max_body_bytes=integer("limits", "max_body_bytes", DEFAULTS.max_body_bytes),
        max_attachment_bytes=integer("limits", "max_attachment_bytes", DEFAULTS.max_attachment_bytes),
        never_log=tuple(p.strip().lower() for p in never),
        auto_create_companies=boolean("contacts", "auto_create_companies", DEFAULTS.auto_create_companies),
        require_authenticated_sender=boolean(
            "security", "require_authenticated_sender", DEFAULTS.require_authenticated_sender
        ),
        trusted_hosts=hosts("trusted_hosts", "the team's own mail servers"),
        authserv_ids=hosts("authserv_ids", "the authserv-ids of Authentication-Results your mail host writes"),
        mail_notices=boolean("notices", "mail", DEFAULTS.mail_notices),
        daily_summary=boolean("notices", "daily_summary", DEFAULTS.daily_summary),
        sendmail=sendmail.strip(),
        notice_from=sender.strip(),
    )


def _host_or_ip(text: str) -> str:
    """A trusted host as Received headers name it: a name as the rules compare it
    (model.normalize_host), or an address in its canonical form."""
    text = normalize_host(text)
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text


# `crmlog init`'s never_log: senders and recipients that are never a person to sell to.
# Globs match the whole normalised address (lower case, +tag removed: ADDR-1).
NEVER_LOG_DEFAULTS: tuple[tuple[str, str], ...] = (
    ("noreply*@*", "automated senders that take no replies (noreply@, noreply-alerts@)"),
    ("no-reply*@*", "the same, hyphenated"),
    ("no_reply*@*", "the same, with an underscore"),
    ("donotreply*@*", "do-not-reply senders"),
    ("do-not-reply*@*", "the same, hyphenated"),
    ("do_not_reply*@*", "the same, with underscores"),
    ("mailer-daemon@*", "bounces: delivery status notifications"),
    ("postmaster@*", "the mail system's administrator, who writes bounces and reports"),
    ("bounce@*", "bounce collectors of mailing systems"),
    ("bounces@*", "the same (bounces+ID@ is bounces@ after ADDR-1)"),
    ("bounce-*@*", "per-message bounce addresses (VERP)"),
)


def _toml(value: object) -> str:
    """A value as TOML writes it (booleans, numbers, strings and lists of strings: JSON's
    forms are TOML's too)."""
    return json.dumps(value)


def render(bcc: tuple[str, ...], forward: tuple[str, ...]) -> str:
    """The configuration `crmlog init` writes: the defaults, with a comment on each setting."""
    d = DEFAULTS

    def lst(items: tuple[str, ...]) -> str:
        return "[" + ", ".join(_toml(i) for i in items) + "]"

    width = max(len(json.dumps(p)) for p, _ in NEVER_LOG_DEFAULTS) + 1
    never_log = "".join(f"    {(json.dumps(p) + ','):<{width}}  # {why}\n" for p, why in NEVER_LOG_DEFAULTS)

    return f"""# crmlog configuration
[addresses]
bcc = {lst(bcc)}          # one or more
forward = {lst(forward)}  # one or more

[limits]                  # bytes
max_body_bytes = {_toml(d.max_body_bytes)}
max_attachment_bytes = {_toml(d.max_attachment_bytes)}

[contacts]
# Addresses, globs or domains never made contacts (BCC-1). These are machines, not people:
never_log = [
{never_log}]
auto_create_companies = {_toml(d.auto_create_companies)}

[security]
require_authenticated_sender = {_toml(d.require_authenticated_sender)}
trusted_hosts = []        # your own mail servers' names, as their Received headers say "by NAME"
                          # (the session user, SESSION, is read only from their Received headers)
authserv_ids = []         # the id your host writes in Authentication-Results on every message

[notices]
mail = {_toml(d.mail_notices)}              # mail each delivery-error notice to its user through sendmail
daily_summary = {_toml(d.daily_summary)}     # mail each user a daily list of their e-mails that were not logged
sendmail = {_toml(d.sendmail)}
from = {_toml(d.notice_from)}           # an address, or a local name the mail host qualifies
"""


def write_initial(path: Path, bcc: tuple[str, ...], forward: tuple[str, ...], *, force: bool) -> None:
    """`crmlog init`: write a configuration readable by its owner only (SEC-3)."""
    text = render(bcc, forward)
    parse(tomllib.loads(text), where="new configuration")  # the same validation as on load
    if path.exists() and not force:
        raise ConfigError(f"{path} exists; use --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
