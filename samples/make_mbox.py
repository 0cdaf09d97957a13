"""Writes samples/mailbox.mbox: the sample team's mail (run: python samples/make_mbox.py).

Deterministic: fixed dates, Message-IDs and attachment bytes, so the file in git is what
this script writes."""

import mailbox
import time
from email.message import EmailMessage
from pathlib import Path

HERE = Path(__file__).parent
LOG, FWD = "log@crm.ourco.example", "fwd@crm.ourco.example"


def msg(n, frm, to, subject, body, *, cc=None, bcc=None, date_day=1, extra=None, attach=None):
    m = EmailMessage()
    m["From"] = frm
    m["To"] = to
    if cc:
        m["Cc"] = cc
    if bcc:
        m["Bcc"] = bcc
    m["Subject"] = subject
    m["Date"] = f"Mon, {date_day:02d} Jun 2026 09:{n:02d}:00 +0200"
    m["Message-ID"] = f"<sample-{n}@ourco.example>"
    for k, v in (extra or {}).items():
        m[k] = v
    m.set_content(body)
    for name, ctype, data in attach or ():
        maintype, subtype = ctype.split("/")
        m.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    for i, part in enumerate(p for p in m.walk() if p.is_multipart()):
        part.set_boundary(f"sample-{n}-{i}")  # fixed, not random
    return m


pdf = b"%PDF-1.4\n% sample quote\n" + bytes(range(256)) * 8
big = bytes((i * 7) % 251 for i in range(150_000))  # over the samples' 100 kB attachment limit

messages = [
    # 1. Anna's Sent copy: BCC-logged, a colleague on Cc, an attachment.
    msg(
        1,
        "Anna Schmidt <anna@ourco.example>",
        "Li Wei <li.wei@acme-industrial.com>",
        "Quote for the pilot",
        "Hello Li,\n\nplease find our quote attached.\n\nAnna\n",
        cc="Ben Li <ben@ourco.example>",
        bcc=LOG,
        attach=[("quote.pdf", "application/pdf", pdf)],
    ),
    # 2. The same message as delivered to the logging mailbox: no Bcc header, Delivered-To.
    msg(
        1,
        "Anna Schmidt <anna@ourco.example>",
        "Li Wei <li.wei@acme-industrial.com>",
        "Quote for the pilot",
        "Hello Li,\n\nplease find our quote attached.\n\nAnna\n",
        cc="Ben Li <ben@ourco.example>",
        attach=[("quote.pdf", "application/pdf", pdf)],
        extra={
            "Delivered-To": LOG,
            "Received": "from mail.ourco.example (Authenticated sender: anna) "
            "by mx.ourco.example with ESMTPSA for <log@crm.ourco.example>; Mon, 1 Jun 2026 09:01:02 +0200",
        },
    ),
    # 3. A Bcc-only recipient gets no contact (BCC-2).
    msg(
        3,
        "Anna Schmidt <anna@ourco.example>",
        "=?utf-8?q?Hans_M=C3=BCller?= <hans.mueller@beispiel-gmbh.de>",
        "Termin nächste Woche",
        "Hallo Herr Müller,\n\npasst Ihnen Dienstag?\n\nAnna\n",
        bcc=f"{LOG}, partner@other-corp.example",
        date_day=2,
    ),
    # 4. An outsider who learnt the BCC address: not a user (ATTR-5).
    msg(
        4,
        "Stranger <stranger@unknown.example>",
        "li.wei@acme-industrial.com",
        "Cheap offer",
        "Buy now.\n",
        bcc=LOG,
        date_day=2,
    ),
    # 5. Ben has a read-only seat (PERM-1).
    msg(
        5,
        "Ben Li <ben@ourco.example>",
        "li.wei@acme-industrial.com",
        "Follow-up",
        "Hi Li, a quick follow-up.\n",
        bcc=LOG,
        date_day=3,
    ),
    # 6. An attachment over the limit: logged without it, a delivery-error notice (LIM-2).
    msg(
        6,
        "Anna Schmidt <anna@ourco.example>",
        "li.wei@acme-industrial.com",
        "Drawings",
        "Li, the drawings you asked for.\n",
        bcc=LOG,
        date_day=4,
        attach=[("drawings.bin", "application/octet-stream", big), ("notes.txt", "text/plain", b"see page 2\n")],
    ),
    # 7. Ordinary mail, not for the CRM: skipped.
    msg(7, "Anna Schmidt <anna@ourco.example>", "ben@ourco.example", "Lunch?", "12:30?\n", date_day=4),
    # 8. From the team inbox to a free-mail address: ATTR-T, no company (COMP-1).
    msg(
        8,
        "OurCo Sales <sales@ourco.example>",
        "Maria Rossi <maria.rossi@gmail.com>",
        "Your enquiry",
        "Dear Maria,\n\nthank you for your enquiry.\n",
        bcc=LOG,
        date_day=5,
    ),
    # 9. Only colleagues as recipients: nothing to log on (BCC-4).
    msg(9, "Anna Schmidt <anna@ourco.example>", "ben@ourco.example", "Internal note", "FYI\n", bcc=LOG, date_day=5),
    # 10. Anna forwards Li's reply (Gmail layout): logged on Li with Li's subject and date,
    #     her note apart, on the open deal; the forwarded Cc is no contact (FWD-4..6).
    msg(
        10,
        "Anna Schmidt <anna@ourco.example>",
        FWD,
        "Fwd: Re: Quote for the pilot",
        "Li accepts - please prepare the contract.\n\n"
        "---------- Forwarded message ---------\n"
        "From: Li Wei <li.wei@acme-industrial.com>\n"
        "Date: Tue, Jun 2, 2026 at 4:12 PM\n"
        "Subject: Re: Quote for the pilot\n"
        "To: Anna Schmidt <anna@ourco.example>\n"
        "Cc: Chen Jie <chen.jie@acme-industrial.com>\n\n\n"
        "Hello Anna,\n\nwe accept the quote for the pilot.\n\nBest regards,\nLi Wei\n\n"
        "On Mon, Jun 1, 2026 at 9:01 AM Anna Schmidt <anna@ourco.example> wrote:\n"
        "> Hello Li,\n> please find our quote attached.\n",
        date_day=6,
    ),
    # 11. A reply from a new contact, forwarded from Outlook in Chinese: contact created
    #     (source forward-sender) with its company.
    msg(
        11,
        "Anna Schmidt <anna@ourco.example>",
        FWD,
        "转发: 答复: 询价",
        "-----原始邮件-----\n"
        "发件人: 王芳 <wang.fang@huaxin-pumps.cn>\n"
        "发送时间: 2026年6月3日 10:30\n"
        "收件人: Anna Schmidt <anna@ourco.example>\n"
        "主题: 答复: 询价\n\n"
        "Anna 您好，\n\n我们需要50台水泵，请报价。\n\n王芳\n",
        date_day=7,
    ),
    # 12. Two replies forwarded at once: a thread, not logged (FWD-3).
    msg(
        12,
        "Anna Schmidt <anna@ourco.example>",
        FWD,
        "Fwd: Re: Quote for the pilot",
        "---------- Forwarded message ---------\n"
        "From: Li Wei <li.wei@acme-industrial.com>\nDate: Tue, Jun 2, 2026 at 4:12 PM\n"
        "Subject: Re: Quote for the pilot\nTo: Anna Schmidt <anna@ourco.example>\n\n\nWe accept.\n\n"
        "---------- Forwarded message ---------\n"
        "From: Chen Jie <chen.jie@acme-industrial.com>\nDate: Tue, Jun 2, 2026 at 5:00 PM\n"
        "Subject: Re: Quote for the pilot\nTo: Anna Schmidt <anna@ourco.example>\n\n\nAgreed.\n",
        date_day=7,
    ),
]

path = HERE / "mailbox.mbox"
path.unlink(missing_ok=True)
box = mailbox.mbox(path)
for m in messages:
    entry = mailbox.mboxMessage(m)
    entry.set_from("MAILER-DAEMON", time.gmtime(1780308000))  # fixed, so the file is reproducible
    box.add(entry)
box.flush()
box.close()
print(f"wrote {path}: {len(messages)} messages")
