"""ADDR-2 from the header block alone: is a message addressed to a logging address, decided
before (and instead of) parsing it."""

from __future__ import annotations

import re
from email.header import Header

from ..read.headerblock import header_block, parse_headers
from .fields import ADDRESS_HEADERS, field_addresses, received_for

_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_LOWER_TO_ASCII = tuple((c.encode(), c.lower().encode()) for c in ("\u212a", "\u0130"))  # K (kelvin), I with dot


class HeaderFilter:
    """Is a message addressed to a logging address (ADDR-2)? Decided from the header block
    alone, with no MIME parse, and exactly as parse() + rules.decide decide it:

    1. A quick test on the bytes: every atom of the address (the parts between its dots and
       its @) stands somewhere in the lower-cased header block. Whatever form an address
       takes in a header (+tag, any case, comments and folding between its parts, a group,
       an obsolete route), the parser builds it from those atoms verbatim, so a message
       that fails this test is not addressed to it: no false negatives. Most fail here.
    2. For the rest, the header block is read by the stdlib header parser and the fields
       that could hold an address of ours go through the same extraction as parse() uses
       (`field_addresses`, `received_for`), so the answer is the full rule's answer.
    """

    def __init__(self, addresses: frozenset[str]):
        self.addresses = addresses
        # the local part first (the rarest atom as a rule), then the domain's labels, longest
        # first; of an atom with non-ASCII letters (EAI), its ASCII runs, which any encoding of
        # the header keeps as they are
        self._atoms = [
            tuple(
                dict.fromkeys(
                    run
                    for atom in [*local.split("."), *sorted(domain.split("."), key=len, reverse=True)]
                    for run in _NON_ASCII.split(atom)
                    if run
                )
            )
            for local, _, domain in (address.rpartition("@") for address in sorted(addresses))
        ]
        self._byte_atoms = [tuple(a.encode() for a in atoms) for atoms in self._atoms]

    def could_be_addressed(self, head: bytes) -> bool:
        """Step 1 only: False means certainly not addressed."""
        lowered = head.lower()
        if not lowered.isascii():
            for upper, lower in _LOWER_TO_ASCII:  # non-ASCII letters whose lower case is ASCII
                lowered = lowered.replace(upper, lower)
        for atoms in self._byte_atoms:
            for atom in atoms:
                if atom not in lowered:
                    break
            else:
                return True
        return False

    def _may_hold(self, value: str | Header) -> bool:
        if not isinstance(value, str):
            return True  # a field with 8-bit bytes: let the extraction decide
        lowered = value.lower()
        return any(all(atom in lowered for atom in atoms) for atoms in self._atoms)

    def __call__(self, head: bytes) -> bool:
        """Is the message whose header block (or whole bytes) is `head` addressed to us?"""
        head = header_block(head)
        if not self.could_be_addressed(head):
            return False
        try:
            fields = parse_headers(head)
        except Exception:  # the full parse fails too: let it, and reject the message (REJ-2)
            return True
        for name in ADDRESS_HEADERS:
            for value in fields.get_all(name) or ():
                if self._may_hold(value) and any(a.email in self.addresses for a in field_addresses(value)):
                    return True
        return any(
            self._may_hold(value) and not self.addresses.isdisjoint(received_for(str(value)))
            for value in fields.get_all("received") or ()
        )
