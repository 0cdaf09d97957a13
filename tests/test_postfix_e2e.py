"""End to end through a real mail server: mail sent with smtplib to a private Postfix
(tests/mta.py), delivered by its virtual(8) agent into Maildirs and an mbox, then read by the
real `crmlog` CLI. Postfix writes the delivered copies, not us: the envelope headers, its
Received line, what it does with a Bcc header."""

from __future__ import annotations

import hashlib
import json
import smtplib
import subprocess
import time
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
from conftest import FWD, LOG, Cli
from mta import HOSTNAME

ARCHIVE = "archive@crm.example.com"
ANNA = "anna@ourco.example"
TIMINGS: dict[str, float] = {}


def config_text(postfix, **extra: str) -> str:
    sections = {
        "addresses": f'bcc = ["{LOG}", "{ARCHIVE}"]\nforward = ["{FWD}"]',
        "notices": f'mail = true\nsendmail = "{postfix.sendmail}"',
    }
    sections.update(extra)
    return "".join(f"[{name}]\n{body}\n" for name, body in sections.items())


class Crm(Cli):
    def __init__(self, tmp_path: Path, postfix, **extra: str):
        super().__init__(tmp_path)
        self.write_config(config_text(postfix, **extra))
        self.run("users", "add", ANNA, "--name", "Anna", "--inbox", ANNA, "--login", "anna")

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = self.process(*args)
        if check:
            assert proc.returncode == 0, proc.stderr
        return proc

    def json(self, *args: str):
        return json.loads(self.run(*args, "--json").stdout)

    def ingest(self, *paths: Path) -> dict:
        return self.json("ingest", *map(str, paths))


def send(postfix, message: EmailMessage, recipients: list[str]) -> None:
    with smtplib.SMTP("127.0.0.1", postfix.port, timeout=60) as smtp:
        refused = smtp.send_message(message, to_addrs=recipients)
    assert refused == {}


def letter(
    subject: str, message_id: str, *, to="Li Wei <li.wei@acme.example>", body="Dear Li,\n\nthe offer.\n\nAnna\n"
) -> EmailMessage:
    m = EmailMessage()
    m["From"] = f"Anna <{ANNA}>"
    m["To"] = to
    m["Subject"] = subject
    m["Date"] = "Tue, 01 Dec 2026 09:00:00 +0100"
    m["Message-ID"] = message_id
    m.set_content(body)
    return m


def timed(name: str):
    class Timer:
        def __enter__(self):
            self.start = time.perf_counter()

        def __exit__(self, *exc):
            TIMINGS[name] = time.perf_counter() - self.start

    return Timer()


@pytest.fixture(scope="module", autouse=True)
def report_timings(postfix_instance):
    yield
    if TIMINGS:
        print(f"\nPostfix end-to-end timings (the private instance started in {postfix_instance.start_seconds:.2f} s):")
        for name, seconds in TIMINGS.items():
            print(f"  {name:42} {seconds:6.2f} s")


def test_e2e_addr_2_bcc_is_found_through_the_envelope_headers_postfix_writes(postfix, tmp_path):
    crm = Crm(tmp_path, postfix)
    m = letter("Our offer", "<e2e-bcc@ourco.example>")
    m["Bcc"] = LOG  # as a client that leaves it in the message: Postfix must not pass it on
    with timed("BCC: send, deliver, ingest"):
        send(postfix, m, ["li.wei@acme.example", LOG])
        postfix.wait_for_delivery()
        summary = crm.ingest(postfix.maildir(LOG))
    (raw,) = postfix.delivered(LOG)
    delivered = message_from_bytes(raw, policy=default)
    assert delivered["Bcc"] is None  # stripped: only the envelope says it was for the BCC address
    assert delivered["X-Original-To"] == LOG and delivered["Delivered-To"] == LOG
    assert f"by {HOSTNAME} (Postfix)" in delivered["Received"]
    assert (summary["logged"], summary["contacts_created"]) == (1, 1)
    (email,) = crm.json("emails", "list")
    assert (email["message_id"], email["path"], email["user"], email["contacts"]) == (
        "e2e-bcc@ourco.example",
        "bcc",
        ANNA,
        ["li.wei@acme.example"],
    )
    assert postfix.delivered(ANNA) == []  # the discarded recipient got nothing, nor did Anna


def test_e2e_addr_1_sub_address_and_once_2_mbox_delivery(postfix, tmp_path):
    crm = Crm(tmp_path, postfix)
    send(
        postfix, letter("Archived", "<e2e-mbox@ourco.example>"), ["li.wei@acme.example", "archive+acme@crm.example.com"]
    )
    postfix.wait_for_delivery()
    mbox = postfix.mail_dir / "archive.mbox"
    assert mbox.read_bytes().startswith(b"From ")
    assert crm.ingest(mbox)["logged"] == 1
    assert crm.ingest(mbox)["scanned"] == 0  # read on from where it stopped


def test_e2e_fwd_4_forward_is_logged_on_the_original_sender(postfix, tmp_path):
    crm = Crm(tmp_path, postfix)
    body = (
        "FYI, see below.\n\n"
        "---------- Forwarded message ---------\n"
        "From: Li Wei <li.wei@acme.example>\n"
        "Date: Mon, Nov 30, 2026 at 4:12 PM\n"
        "Subject: Re: Our offer\n"
        f"To: Anna <{ANNA}>\n\n"
        "Hello Anna,\n\nwe accept the offer.\n\nLi\n"
    )
    m = letter("Fwd: Re: Our offer", "<e2e-fwd@ourco.example>", to=FWD, body=body)
    with timed("forward: send, deliver, ingest"):
        send(postfix, m, [FWD])
        postfix.wait_for_delivery()
        summary = crm.ingest(postfix.maildir(FWD))
    assert summary["logged"] == 1, crm.json("rejections")
    (email,) = crm.json("emails", "list")
    assert (email["path"], email["from"], email["subject"], email["contacts"]) == (
        "forward",
        "li.wei@acme.example",
        "Re: Our offer",
        ["li.wei@acme.example"],
    )


def test_e2e_lim_3_attachment_is_stored_byte_for_byte(postfix, tmp_path):
    crm = Crm(tmp_path, postfix)
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 400
    m = letter("The quote", "<e2e-att@ourco.example>")
    m.add_attachment(pdf, maintype="application", subtype="pdf", filename="quote.pdf")
    with timed("attachment (100 KB): send, deliver, ingest"):
        send(postfix, m, ["li.wei@acme.example", LOG])
        postfix.wait_for_delivery()
        crm.ingest(postfix.maildir(LOG))
    (email,) = crm.json("emails", "list")
    assert email["attachments"] == [
        {
            "filename": "quote.pdf",
            "content_type": "application/pdf",
            "size": len(pdf),
            "sha256": hashlib.sha256(pdf).hexdigest(),
            "stored": True,
        }
    ]
    crm.run("emails", "show", "e2e-att@ourco.example", "--save-attachments", str(tmp_path / "out"))
    assert (tmp_path / "out" / "quote.pdf").read_bytes() == pdf


def test_e2e_lim_1_oversized_body_is_rejected(postfix, tmp_path):
    crm = Crm(tmp_path, postfix)
    big = "A line of a very long letter, written for the size of it.\n" * 55_000  # 3.2 MB
    with timed("3 MB body: send, deliver, ingest"):
        send(postfix, letter("Long", "<e2e-big@ourco.example>", body=big), ["li.wei@acme.example", LOG])
        postfix.wait_for_delivery()
        summary = crm.ingest(postfix.maildir(LOG))
    assert summary["rejections"] == {"body-too-large": 1}
    (rejection,) = crm.json("rejections")
    assert rejection["message_id"] == "e2e-big@ourco.example" and rejection["sender"] == ANNA


def test_e2e_once_1_same_message_delivered_twice_is_logged_once(postfix, tmp_path):
    crm = Crm(tmp_path, postfix)
    m = letter("Twice", "<e2e-twice@ourco.example>")
    send(postfix, m, ["li.wei@acme.example", LOG])
    send(postfix, m, [LOG])
    postfix.wait_for_delivery()
    assert len(postfix.delivered(LOG)) == 2  # two files, two queue ids
    summary = crm.ingest(postfix.maildir(LOG))
    assert (summary["logged"], summary["duplicates"]) == (1, 1)
    assert len(crm.json("emails", "list")) == 1


def test_e2e_lim_2_notice_is_mailed_to_the_user_once_and_retried_after_a_failure(postfix, tmp_path):
    crm = Crm(
        tmp_path,
        postfix,
        limits="max_attachment_bytes = 50000",
        notices='mail = true\nsendmail = "/nonexistent/sendmail"',
    )
    m = letter("Big drawing", "<e2e-lim2@ourco.example>")
    m.add_attachment(b"\x89PNG" + bytes(200_000), maintype="image", subtype="png", filename="drawing.png")
    send(postfix, m, ["li.wei@acme.example", LOG])
    postfix.wait_for_delivery()
    first = crm.run("ingest", str(postfix.maildir(LOG)), "--json")
    assert json.loads(first.stdout)["notices"] == 1 and json.loads(first.stdout)["notices_mailed"] == 0
    assert "could not mail the notice" in first.stderr and "tried again next run" in first.stderr
    crm.config.write_text(config_text(postfix, limits="max_attachment_bytes = 50000"))  # sendmail fixed
    with timed("LIM-2 notice: ingest, sendmail, deliver"):
        second = crm.ingest(postfix.maildir(LOG))
        postfix.wait_for_delivery()
    assert (second["scanned"], second["notices_mailed"]) == (0, 1)
    (raw,) = postfix.delivered(ANNA)
    notice = message_from_bytes(raw, policy=default)
    assert notice["To"] == ANNA and notice["Auto-Submitted"] == "auto-generated"
    assert "not logged" in notice["Subject"]
    assert "'drawing.png' (200,004 bytes)" in notice.get_content() and "e2e-lim2@ourco.example" in notice.get_content()
    assert notice["From"].endswith("@ourco.example")  # qualified by the mail host
    assert crm.ingest(postfix.maildir(LOG))["notices_mailed"] == 0  # once
    postfix.wait_for_delivery()
    assert len(postfix.delivered(ANNA)) == 1


def test_e2e_rej_1_daily_summary_of_rejections(postfix, tmp_path):
    crm = Crm(tmp_path, postfix, notices=f'daily_summary = true\nsendmail = "{postfix.sendmail}"')
    send(postfix, letter("To a colleague only", "<e2e-sum@ourco.example>", to=f"Anna <{ANNA}>"), [LOG])
    postfix.wait_for_delivery()
    assert crm.ingest(postfix.maildir(LOG))["summaries_mailed"] == 1
    postfix.wait_for_delivery()
    (raw,) = postfix.delivered(ANNA)
    summary = message_from_bytes(raw, policy=default)
    assert summary["Subject"] == "crmlog: 1 of your e-mails was not logged"
    assert "To a colleague only <e2e-sum@ourco.example>" in summary.get_content()
    assert "no-recipients" in summary.get_content()
    assert crm.ingest(postfix.maildir(LOG))["summaries_mailed"] == 0  # not again within a day


def test_e2e_sec_4_forged_authentication_from_outside_is_rejected(postfix, tmp_path):
    # this Postfix writes no Authentication-Results: so none is trusted (no authserv_ids), and
    # the forged ones below are ignored; so is the forged Received below Postfix's own
    crm = Crm(tmp_path, postfix, security=f'require_authenticated_sender = true\ntrusted_hosts = ["{HOSTNAME}"]')
    forged = letter("Forged", "<e2e-forged@ourco.example>")
    forged["Received"] = (
        f"from laptop (unknown [10.0.0.5]) (Authenticated sender: anna) by {HOSTNAME} (Postfix) with ESMTPSA id 1; Tue, 1 Dec 2026 08:00:00 +0000"
    )
    forged["Authentication-Results"] = (
        f"{HOSTNAME}; dkim=pass header.d=ourco.example; spf=pass smtp.mailfrom=ourco.example"
    )
    send(postfix, forged, [LOG])
    postfix.wait_for_delivery()
    summary = crm.ingest(postfix.maildir(LOG))
    assert summary["rejections"] == {"unauthenticated-sender": 1}
    (rejection,) = crm.json("rejections")
    assert rejection["message_id"] == "e2e-forged@ourco.example"


TEAM_INBOX = "sales@ourco.example"


def team_inbox_crm(tmp_path, postfix, security: str) -> Crm:
    """Anna connected the team inbox; bob could be chosen by a forged SASL login."""
    crm = Crm(tmp_path, postfix, security=security)
    crm.run("users", "add", "bob@ourco.example", "--name", "Bob", "--login", "bob")
    crm.run("team-inboxes", "add", TEAM_INBOX, "--connected-by", ANNA)
    return crm


def delivered_team_letter(postfix, message_id: str, recipients: list[str], **headers: str) -> list[str]:
    """Send a letter From the team inbox from 127.0.0.1 (an outside host: not trusted) and
    return the Received headers of the copy delivered to the logging address."""
    m = letter("From the team", f"<{message_id}>")
    m.replace_header("From", f"Sales <{TEAM_INBOX}>")
    for name, value in headers.items():
        m[name] = value
    send(postfix, m, recipients)
    postfix.wait_for_delivery()
    (raw,) = postfix.delivered(LOG)
    return message_from_bytes(raw, policy=default).get_all("Received")


def assert_credited_to_the_connector(crm: Crm, message_id: str) -> None:
    explained = crm.json("attribution", "explain", message_id)
    assert (explained["user"], explained["rule"], explained["session_user"]) == (ANNA, "ATTR-T", None)
    assert "SESSION" not in explained["rules"]


@pytest.mark.parametrize("trusted_hosts", [f'["{HOSTNAME}"]', "[]"], ids=["trusted-hosts", "no-trusted-hosts"])
def test_e2e_session_forged_authenticated_sender_below_an_outside_hop_credits_the_connector(
    postfix, tmp_path, trusted_hosts
):
    # a team-inbox message relayed from outside carrying an older Received that claims bob
    # authenticated at our own host: SESSION must not read it, so ATTR-T credits anna, who
    # connected the inbox
    crm = team_inbox_crm(tmp_path, postfix, f"trusted_hosts = {trusted_hosts}")
    forged = f"from laptop (unknown [10.0.0.5]) (Authenticated sender: bob) by {HOSTNAME} (Postfix) with ESMTPSA id 1; Tue, 1 Dec 2026 08:00:00 +0000"
    newest, older = delivered_team_letter(
        postfix, "e2e-team@ourco.example", ["li.wei@acme.example", LOG], Received=forged
    )
    assert "[127.0.0.1]" in newest and f"by {HOSTNAME} (Postfix)" in newest  # Postfix's own, from outside
    assert "(Authenticated sender: bob)" in older and "Authenticated sender" not in newest
    assert crm.ingest(postfix.maildir(LOG))["logged"] == 1
    assert_credited_to_the_connector(crm, "e2e-team@ourco.example")


@pytest.mark.parametrize("require", ["true", "false"])
def test_e2e_sec_4_session_a_clause_in_the_recipient_address_proves_nothing(postfix, tmp_path, require):
    # unauthenticated, from outside, to a recipient whose quoted local part reads
    # "(Authenticated sender: bob)": Postfix copies it into its own Received (`for <...>`),
    # inside the trusted chain; it is the sender's text, so it neither proves a submission
    # (SEC-4) nor chooses the session user
    crm = team_inbox_crm(tmp_path, postfix, f'trusted_hosts = ["{HOSTNAME}"]\nrequire_authenticated_sender = {require}')
    (newest,) = delivered_team_letter(
        postfix, "e2e-rcpt@ourco.example", ['"log+(Authenticated sender: bob)"@crm.example.com'], Cc=LOG
    )
    assert f"by {HOSTNAME} (Postfix)" in newest and "(Authenticated sender: bob)" in newest  # in ours, after `by`
    summary = crm.ingest(postfix.maildir(LOG))
    if require == "true":
        assert summary["rejections"] == {"unauthenticated-sender": 1}
        return
    assert summary["logged"] == 1
    assert_credited_to_the_connector(crm, "e2e-rcpt@ourco.example")
