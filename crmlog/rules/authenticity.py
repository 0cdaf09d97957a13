"""SEC-4: did the sender of a delivered copy authenticate? Pure functions over header values.

Anyone who learns the BCC address can send a message with a user's From. Only what the team's
own mail hosts wrote is evidence, and only what lies where an outsider cannot put it:

- The trusted chain of Received headers: the newest Received, then each older one as long as
  the one above it was written by a trusted host (its `by`) *and* received the message from a
  trusted host (the verified name or the address in its `from` clause, which the receiving
  server writes, not the client; a content filter re-injecting on loopback is trusted by
  listing `localhost` or `127.0.0.1`). Without configured trusted hosts the chain is the
  newest Received alone: whatever wrote it delivered the message to us. An
  `(Authenticated sender: LOGIN)` clause counts only inside that chain; one further down was
  written by whoever sent the message, and proves nothing.
- Authentication-Results (RFC 8601): only the newest one whose authserv-id is one of the
  configured `authserv_ids`: hosts that write one on every message they receive (OpenDKIM,
  OpenDMARC, rspamd do), above anything the message brought with it, so that a forged one
  under the same authserv-id lies below and is never read. Without configured authserv-ids
  no Authentication-Results header counts: a message can bring its own (the end-to-end test
  with a Postfix that writes none shows why).
  `dkim=pass` (`header.d`/`header.i`), `spf=pass` (`smtp.mailfrom`) or `dmarc=pass`
  (`header.from`) counts when its domain is the From domain's (the same registrable domain:
  DMARC's relaxed alignment). Results from any other authserv-id are ignored.
"""

from __future__ import annotations

import ipaddress
import re

from ..model import Code, Message, Rejected, Settings, email_domain, normalize_host
from .companies import registrable_domain
from .draft import Context, Draft, Found

_BY = re.compile(r"\bby\s+([^\s;()\[\]]+)", re.I)
# `from HELO (NAME [IP])`, `from HELO ([IP])`, `from NAME [IP]`: the receiving server's own
# reading of the client; NAME is "unknown" where the reverse lookup did not verify
_FROM_PEER = re.compile(
    r"^\s*from\s+\S+\s*(?:\(\s*(?P<name>[^\s()\[\]]*)\s*(?:\[(?P<ip>[^\]]*)\])?[^)]*\)|\[(?P<ip2>[^\]]*)\])", re.I
)
# Postfix's `(Authenticated sender: LOGIN)`; the rules read it for SESSION through
# authenticated_login, so that the trusted chain bounds both uses
_AUTH_SENDER = re.compile(r"\(\s*Authenticated\s+sender:\s*([^)\s]+)\s*\)", re.I)
_COMMENT = re.compile(r"\([^()]*\)")
_RESULT = re.compile(r"^\s*([a-z0-9_-]+)\s*=\s*([a-z]+)\b(.*)$", re.I | re.S)
_PROPERTY = re.compile(r"\b([a-z]+\.[a-z0-9_-]+)\s*=\s*(\"[^\"]*\"|[^\s;]+)", re.I)


def _unfold(value: str) -> str:
    return " ".join(value.split())


def _ip(text: str | None) -> str:
    """The address of a Received `[...]` literal, in its canonical form ("" if none)."""
    text = (text or "").strip()
    try:
        return str(ipaddress.ip_address(text.removeprefix("IPv6:").removeprefix("ipv6:")))
    except ValueError:
        return ""


def trusted_chain(received: tuple[str, ...], trusted: frozenset[str]) -> list[str]:
    """The Received values (newest first) that the team's own hosts wrote, as above."""
    chain: list[str] = []
    for value in received:
        value = _unfold(value)
        by = _BY.search(value)
        if trusted and (by is None or normalize_host(by.group(1)) not in trusted):
            break
        chain.append(value)
        if not trusted:
            break
        peer = _FROM_PEER.match(value)
        if peer is None:
            break  # submitted on the host itself (`by HOST (Postfix, from userid N)`): the origin
        name, ip = normalize_host(peer.group("name") or ""), _ip(peer.group("ip") or peer.group("ip2"))
        if name not in trusted and ip not in trusted:
            break  # received from outside: everything older was written by the sender's side
    return chain


def authenticated_login(received: tuple[str, ...], trusted: frozenset[str]) -> str:
    """The SASL login of an authenticated submission within the trusted chain, or ""."""
    for value in trusted_chain(received, trusted):
        login = _submission_login(value)
        if login:
            return login
    return ""


def _submission_login(value: str) -> str:
    """The login of `(Authenticated sender: LOGIN)` where the receiving server writes it: in
    its account of the client, before `by`. What follows `by` quotes the sender's own words
    (`for <"log+(Authenticated sender: bob)"@crm.example.com>` is a valid recipient), and the
    part before it holds only what the server checked (a HELO without spaces, a verified name,
    an address); a Received without `by` is not one our hosts wrote, and proves nothing."""
    by = _BY.search(value)
    m = _AUTH_SENDER.search(value, 0, by.start()) if by else None
    return m.group(1) if m else ""


def _same_domain(a: str, b: str) -> bool:
    a, b = normalize_host(a), normalize_host(b)
    return bool(a and b) and (a == b or registrable_domain(a) == registrable_domain(b))


def passed_for_domain(auth_results: tuple[str, ...], trusted: frozenset[str], domain: str) -> str:
    """`dkim`, `spf` or `dmarc` when the newest Authentication-Results of a trusted authserv-id
    (`trusted`: the configured authserv_ids) shows that method passing for `domain`; ""
    otherwise."""
    if not trusted or not domain:
        return ""
    for value in auth_results:
        parts = _COMMENT.sub(" ", _COMMENT.sub(" ", _unfold(value))).split(";")  # comments, nested once
        authserv = parts[0].split()
        if not authserv or normalize_host(authserv[0]) not in trusted:
            continue  # written by someone else: ignored
        for part in parts[1:]:
            m = _RESULT.match(part)
            if not m or m.group(2).lower() != "pass":
                continue
            method = m.group(1).lower()
            props = {k.lower(): v.strip('"') for k, v in _PROPERTY.findall(m.group(3))}
            if method == "dkim":
                d = props.get("header.d") or props.get("header.i", "").rpartition("@")[2]
            elif method == "spf":
                d = props.get("smtp.mailfrom", "").rpartition("@")[2]
            elif method == "dmarc":
                d = props.get("header.from", "")
            else:
                continue
            if _same_domain(d, domain):
                return method
        return ""  # only the newest trusted one counts
    return ""


def sender_authenticated(message: Message, trusted_hosts: frozenset[str], authserv_ids: frozenset[str]) -> str:
    """How the sender of `message` proved itself (SEC-4), or "" if it did not: `submission`,
    `dkim`, `spf` or `dmarc`."""
    if authenticated_login(message.received, trusted_hosts):
        return "submission"
    domain = email_domain(message.sender.email) if message.sender else ""
    return passed_for_domain(message.auth_results, authserv_ids, domain)


def _own_sent_copy(message: Message, settings: Settings) -> bool:
    """The sender's own Sent copy: its Bcc header names a logging address and no delivery
    agent has handled it (SEC-4 asks proof of delivered copies only)."""
    return not message.delivered and any(a.email in settings.logging_addresses for a in message.bcc)


def sender_proven(ctx: Context, draft: Draft) -> Found | Rejected:
    """SEC-4, when `require_authenticated_sender` is on: a delivered copy shows that its
    sender authenticated (the check of decide())."""
    message, settings = ctx.message, ctx.settings
    if not settings.require_authenticated_sender or _own_sent_copy(message, settings):
        return Found(draft)
    if not sender_authenticated(message, settings.trusted_hosts, settings.authserv_ids):
        assert message.sender is not None  # give_credit ran
        return Rejected(
            code=Code.UNAUTHENTICATED_SENDER,
            reason=f"the delivered copy shows no authenticated submission by {message.sender.email}, "
            "nor a DKIM, SPF or DMARC pass for its domain from a trusted authserv-id",
            rules=("SEC-4",),
        )
    return Found(draft, ("SEC-4",))
