"""SEC-4's evidence, table-driven over header values as real servers write them: which
Received clauses and Authentication-Results count, and which an outsider could have forged."""

from __future__ import annotations

import pytest

from crmlog.rules.authenticity import authenticated_login, passed_for_domain, trusted_chain

MX = "mx.ourco.example"
SUBMIT = "submit.ourco.example"
TRUSTED = frozenset({MX, SUBMIT})
DATE = "Mon, 1 Jun 2026 09:00:00 +0000"

# Postfix's own forms (smtpd_sasl_authenticated_header = yes), newest first
AUTH_AT_MX = f"from [10.0.0.5] (unknown [10.0.0.5])\n\t(Authenticated sender: anna)\n\tby {MX} (Postfix) with ESMTPSA id 4Xy;\n\t{DATE}"
FROM_OUTSIDE = f"from evil.example (evil.example [203.0.113.9])\n\tby {MX} (Postfix) with ESMTP id 4Xz\n\tfor <log@crm.example.com>; {DATE}"
HELO_LIES = f"from {SUBMIT} (unknown [203.0.113.9]) by {MX} (Postfix) with ESMTP id 5; {DATE}"
FROM_SUBMIT = f"from {SUBMIT} ({SUBMIT} [10.0.0.2]) by {MX} (Postfix) with ESMTPS id 6; {DATE}"
AUTH_AT_SUBMIT = (
    f"from laptop (unknown [198.51.100.7]) (Authenticated sender: anna) by {SUBMIT} (Postfix) with ESMTPSA id 7; {DATE}"
)
FORGED_AUTH = f"from x (x [192.0.2.1]) (Authenticated sender: anna) by {MX} (Postfix) with ESMTPSA id 8; {DATE}"
FILTER = f"from localhost (localhost [127.0.0.1]) by {MX} (Postfix) with ESMTP id 9; {DATE}"
LOCAL = f"by {MX} (Postfix, from userid 1000) id 10; {DATE}"
OTHER_HOST_AUTH = f"from y (y [192.0.2.2]) (Authenticated sender: anna) by mail.elsewhere.example (Postfix) with ESMTPSA id 11; {DATE}"
# the sender's words inside our own Received: a recipient address may hold any text in quotes
CLAUSE_IN_RECIPIENT = (
    f"from evil.example (evil.example [203.0.113.9])\n\tby {MX} (Postfix) with ESMTP id 13\n"
    f'\tfor <"log+(Authenticated sender: anna)"@crm.example.com>; {DATE}'
)


@pytest.mark.parametrize(
    "received, trusted, login",
    [
        ((AUTH_AT_MX,), TRUSTED, "anna"),
        ((FROM_OUTSIDE,), TRUSTED, ""),
        ((FROM_OUTSIDE, FORGED_AUTH), TRUSTED, ""),  # an outsider's own Received below ours
        ((HELO_LIES, AUTH_AT_SUBMIT), TRUSTED, ""),  # HELO names our host; the verified name does not
        ((FROM_SUBMIT, AUTH_AT_SUBMIT), TRUSTED, "anna"),  # submission host -> MX
        ((FILTER, AUTH_AT_MX), TRUSTED | {"localhost"}, "anna"),  # a content filter re-injecting on loopback
        ((FILTER, AUTH_AT_MX), TRUSTED | {"127.0.0.1"}, "anna"),
        ((FILTER, FORGED_AUTH), TRUSTED, ""),  # loopback is not trusted unless listed
        (
            (f"from [127.0.0.1] (unknown [127.0.0.1]) by {MX} (Postfix) with ESMTP id 12; {DATE}", FORGED_AUTH),
            TRUSTED,
            "",
        ),
        ((LOCAL, FORGED_AUTH), TRUSTED, ""),  # submitted on the host itself: the origin
        ((OTHER_HOST_AUTH,), TRUSTED, ""),  # written by a host we do not trust
        ((AUTH_AT_MX,), frozenset(), "anna"),  # no trusted hosts: the newest Received only
        ((FROM_OUTSIDE, FORGED_AUTH), frozenset(), ""),
        ((), TRUSTED, ""),
        ((CLAUSE_IN_RECIPIENT,), TRUSTED, ""),  # our host wrote it, the sender chose the recipient
        ((CLAUSE_IN_RECIPIENT,), frozenset(), ""),
        (("(Authenticated sender: anna) from x (x [192.0.2.1])",), frozenset(), ""),  # no `by`: not ours
    ],
)
def test_sec_4_authenticated_submission_only_in_the_trusted_chain(received, trusted, login):
    assert authenticated_login(received, trusted) == login


def test_sec_4_trusted_chain_stops_at_the_first_hop_from_outside():
    assert trusted_chain((FROM_SUBMIT, AUTH_AT_SUBMIT, FORGED_AUTH), TRUSTED) == [
        " ".join(v.split()) for v in (FROM_SUBMIT, AUTH_AT_SUBMIT)
    ]


@pytest.mark.parametrize(
    "results, domain, method",
    [
        ((f"{MX}; dkim=pass header.d=ourco.example header.s=s1",), "ourco.example", "dkim"),
        ((f"{MX}; dkim=pass (2048-bit key) header.i=@ourco.example",), "ourco.example", "dkim"),
        ((f"{MX}; dkim=pass header.d=mail.ourco.example",), "ourco.example", "dkim"),  # relaxed alignment
        ((f"{MX}; spf=pass smtp.mailfrom=anna@ourco.example",), "ourco.example", "spf"),
        ((f"{MX};\n\tspf=pass (sender SPF authorized) smtp.mailfrom=ourco.example",), "ourco.example", "spf"),
        ((f"{MX}; dmarc=pass (p=reject) header.from=ourco.example",), "ourco.example", "dmarc"),
        ((f"{MX.upper()} 1; dkim=pass header.d=ourco.example",), "ourco.example", "dkim"),  # version, case
        ((f"{MX}; dkim=fail header.d=ourco.example; spf=softfail smtp.mailfrom=ourco.example",), "ourco.example", ""),
        ((f"{MX}; dkim=pass header.d=evil.example",), "ourco.example", ""),  # passes, for another domain
        ((f"{MX}; dkim=pass header.d=ourco.example.evil.example",), "ourco.example", ""),
        (("evil.example; dkim=pass header.d=ourco.example",), "ourco.example", ""),  # anyone else's: ignored
        # only the newest one of a trusted host counts: a forged one below ours is never read
        ((f"{MX}; dkim=none", f"{MX}; dkim=pass header.d=ourco.example"), "ourco.example", ""),
        (("evil.example; dkim=fail", f"{MX}; spf=pass smtp.mailfrom=ourco.example"), "ourco.example", "spf"),
        ((f"{MX}; none",), "ourco.example", ""),
        (("",), "ourco.example", ""),
    ],
)
def test_sec_4_authentication_results_of_the_trusted_host_only(results, domain, method):
    assert passed_for_domain(results, TRUSTED, domain) == method


def test_sec_4_authentication_results_mean_nothing_without_trusted_hosts():
    assert passed_for_domain((f"{MX}; dkim=pass header.d=ourco.example",), frozenset(), "ourco.example") == ""
