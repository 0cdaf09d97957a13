"""Notices delivered as mail, through the local sendmail command (a setting, off by default).

- Each `delivery-error` notice (LIM-2) is mailed to its user once, after the run that recorded
  it has committed it. One that could not be mailed (sendmail missing or failing) stays
  unmailed and is tried again by the next run; the notice itself is in the database either way.
- A daily summary: at most once in 24 hours, each user whose address sent messages that were
  rejected since the last summary gets the list.

Composing the messages is pure; sending runs `sendmail -i -f FROM -- RECIPIENT` with the
message on stdin, the way cron and every MTA's sendmail(1) take it.
"""

from __future__ import annotations

import shlex
import subprocess
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from .model import Settings
from .records import Notice, Rejection, User
from .rules.attribution import owner_of

SUMMARY_EVERY = timedelta(hours=24)
SENDMAIL_TIMEOUT = 60  # seconds


class SendFailed(Exception):
    """sendmail could not take the message (the reason, in one line)."""


def notice_message(notice: Notice, settings: Settings, now: datetime) -> EmailMessage:
    m = _message(settings, notice.user, now, "crmlog: an attachment of your e-mail was not logged")
    m.set_content(
        f"{notice.detail}.\n\n"
        f"The e-mail: Message-ID <{notice.message_id}>\n\n"
        "The attachment is over the attachment limit of the CRM "
        f"({settings.max_attachment_bytes:,} bytes). Share it another way if the contact's "
        "record needs it.\n"
    )
    return m


def summary_message(
    user: str, rejections: list[Rejection], since: datetime, settings: Settings, now: datetime
) -> EmailMessage:
    n = len(rejections)
    m = _message(settings, user, now, f"crmlog: {n} of your e-mails {'was' if n == 1 else 'were'} not logged")
    lines = [f"Since {since:%Y-%m-%d %H:%M} UTC, crmlog did not log these e-mails of yours:", ""]
    for r in sorted(rejections, key=lambda r: r.recorded or ""):
        lines.append(f"- {r.subject or '(no subject)'} <{r.message_id or 'no Message-ID'}>")
        lines.append(f"  {r.code}: {r.reason}")
    lines += ["", "`crmlog rejections` on the mail host lists them all."]
    m.set_content("\n".join(lines) + "\n")
    return m


def _message(settings: Settings, to: str, now: datetime, subject: str) -> EmailMessage:
    m = EmailMessage()
    m["From"] = settings.notice_from
    m["To"] = to
    m["Subject"] = subject
    m["Date"] = format_datetime(now)
    m["Message-ID"] = make_msgid("crmlog")
    m["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to it
    return m


def summaries(rejections: list[Rejection], users: tuple[User, ...]) -> dict[str, list[Rejection]]:
    """The rejections of a summary, per user they belong to (by sender)."""
    out: dict[str, list[Rejection]] = {}
    for r in rejections:
        user = owner_of(r.sender, users)
        if user:
            out.setdefault(user, []).append(r)
    return out


def send(settings: Settings, recipient: str, message: EmailMessage) -> None:
    """Hand one message to the local sendmail; SendFailed when it does not take it."""
    cmd = [*shlex.split(settings.sendmail), "-i", "-f", settings.notice_from, "--", recipient]
    try:
        proc = subprocess.run(cmd, input=bytes(message), capture_output=True, timeout=SENDMAIL_TIMEOUT)
    except FileNotFoundError:
        raise SendFailed(f"the sendmail command {cmd[0]} is not there") from None
    except subprocess.TimeoutExpired:
        raise SendFailed(f"{cmd[0]} did not finish in {SENDMAIL_TIMEOUT} s") from None
    except OSError as exc:
        raise SendFailed(f"cannot run {cmd[0]}: {exc.strerror}") from None
    if proc.returncode:
        said = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise SendFailed(f"{cmd[0]} exited {proc.returncode}" + (f": {said[-1]}" if said else ""))
