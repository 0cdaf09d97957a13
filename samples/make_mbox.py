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
    msg(1, "Anna Schmidt <anna@ourco.example>", "Li Wei <li.wei@acme-industrial.com>",
        "Quote for the pilot", "Hello Li,\n\nplease find our quote attached.\n\nAnna\n",
        cc="Ben Li <ben@ourco.example>", bcc=LOG, attach=[("quote.pdf", "application/pdf", pdf)]),
    # 2. The same message as delivered to the logging mailbox: no Bcc header, Delivered-To.
    msg(1, "Anna Schmidt <anna@ourco.example>", "Li Wei <li.wei@acme-industrial.com>",
        "Quote for the pilot", "Hello Li,\n\nplease find our quote attached.\n\nAnna\n",
        cc="Ben Li <ben@ourco.example>", attach=[("quote.pdf", "application/pdf", pdf)],
        extra={"Delivered-To": LOG, "Received": "from mail.ourco.example (Authenticated sender: anna) "
               "by mx.ourco.example with ESMTPSA for <log@crm.ourco.example>; Mon, 1 Jun 2026 09:01:02 +0200"}),
    # 3. A Bcc-only recipient gets no contact (BCC-2).
    msg(3, "Anna Schmidt <anna@ourco.example>", "=?utf-8?q?Hans_M=C3=BCller?= <hans.mueller@beispiel-gmbh.de>",
        "Termin nächste Woche", "Hallo Herr Müller,\n\npasst Ihnen Dienstag?\n\nAnna\n",
        bcc=f"{LOG}, partner@other-corp.example", date_day=2),
    # 4. An outsider who learnt the BCC address: not a user (ATTR-5).
    msg(4, "Stranger <stranger@unknown.example>", "li.wei@acme-industrial.com",
        "Cheap offer", "Buy now.\n", bcc=LOG, date_day=2),
    # 5. Ben has a read-only seat (PERM-1).
    msg(5, "Ben Li <ben@ourco.example>", "li.wei@acme-industrial.com",
        "Follow-up", "Hi Li, a quick follow-up.\n", bcc=LOG, date_day=3),
    # 6. An attachment over the limit: logged without it, a delivery-error notice (LIM-2).
    msg(6, "Anna Schmidt <anna@ourco.example>", "li.wei@acme-industrial.com",
        "Drawings", "Li, the drawings you asked for.\n", bcc=LOG, date_day=4,
        attach=[("drawings.bin", "application/octet-stream", big), ("notes.txt", "text/plain", b"see page 2\n")]),
    # 7. Ordinary mail, not for the CRM: skipped.
    msg(7, "Anna Schmidt <anna@ourco.example>", "ben@ourco.example", "Lunch?", "12:30?\n", date_day=4),
    # 8. From the team inbox to a free-mail address: ATTR-T, no company (COMP-1).
    msg(8, "OurCo Sales <sales@ourco.example>", "Maria Rossi <maria.rossi@gmail.com>",
        "Your enquiry", "Dear Maria,\n\nthank you for your enquiry.\n", bcc=LOG, date_day=5),
    # 9. Only colleagues as recipients: nothing to log on (BCC-4).
    msg(9, "Anna Schmidt <anna@ourco.example>", "ben@ourco.example", "Internal note", "FYI\n",
        bcc=LOG, date_day=5),
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
