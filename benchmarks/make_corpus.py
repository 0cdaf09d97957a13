"""A deterministic corpus of realistic mail: a Maildir (sub-folders, new/ and cur/ with flags,
Dovecot-style names) or an mbox, a few percent of it addressed to the logging addresses.

    python benchmarks/make_corpus.py DIR [--messages 100000] [--addressed 0.03] [--mbox]

Message i is a pure function of (seed, i), so the same arguments always write the same bytes,
and messages can be added later (`--start`) exactly as a mail host would deliver them.

What it holds, so that timings mean something:
- header blocks as servers write them: Received chains, DKIM and ARC signatures,
  Authentication-Results, list headers, RFC 2047 names and subjects (1-6 KB);
- bodies in several charsets and transfer encodings (UTF-8 8bit/QP/base64, ISO-8859-1, GB2312,
  KOI8-R, Shift_JIS, windows-1252), text only, text + HTML, with quoted history, with
  attachments (base64, lognormal sizes up to a few MB), inline images, attached messages;
- addressed messages through every channel of ADDR-2: Bcc in a Sent copy, Delivered-To and
  X-Original-To, a Received `for` clause, Envelope-To, To/Cc, forwards to the forwarding
  address (inline and as attachment); with +tags and odd case;
- near misses that must be skipped: the address in a Subject, a Reply-To, a Message-ID, a
  longer domain (`log@crm.example.community`), a longer local part (`blog@...`).
"""

from __future__ import annotations

import argparse
import base64
import quopri
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

LOG = "log@crm.example.com"
FWD = "fwd@crm.example.com"
USERS = ["anna@ourco.example", "ben@ourco.example", "carla@ourco.example", "dev@ourco.example"]
DOMAINS = [
    "acme.example",
    "beispiel-gmbh.de",
    "mail.globex.co.uk",
    "gmail.com",
    "initech.example",
    "qq.com",
    "umbrella.example",
    "163.com",
    "yandex.ru",
    "example.co.jp",
    "web.de",
    "outlook.com",
]
FIRST = ["li", "hans", "maria", "wang", "john", "sofia", "ken", "fatima", "olga", "pierre", "yuki", "juergen"]
FOLDERS = ["", ".Sent", ".Archive", ".Archive.2025", ".Lists.vendors"]
FLAGS = ["S", "RS", "S", "FS", "", "ST", "S", "RS"]
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)

TEXT = {  # (charset, transfer encoding choices, phrases)
    "en": (
        "utf-8",
        ("7bit", "quoted-printable"),
        [
            "Thanks for the quick reply.",
            "Please find the revised quote attached.",
            "Can we move the meeting to Thursday?",
            "The pilot results look promising.",
            "Let me know if you need anything else.",
            "Our legal team reviewed the contract.",
            "We would like to order another 500 units.",
            "The drawings are in the shared folder.",
            "Best regards,",
        ],
    ),
    "de": (
        "iso-8859-1",
        ("quoted-printable", "8bit"),
        [
            "Vielen Dank für Ihre schnelle Antwort.",
            "Anbei das überarbeitete Angebot.",
            "Können wir den Termin auf Donnerstag verschieben?",
            "Die Ergebnisse des Pilotprojekts sind vielversprechend.",
            "Mit freundlichen Grüßen",
            "Bitte prüfen Sie die Zeichnungen.",
        ],
    ),
    "zh": (
        "gb2312",
        ("base64",),
        [
            "感谢您的快速回复。",
            "请查收附件中的修订报价。",
            "我们可以把会议改到星期四吗？",
            "试点结果看起来很有希望。",
            "此致敬礼",
            "合同已经由法务部审阅。",
        ],
    ),
    "ru": (
        "koi8-r",
        ("8bit", "base64"),
        [
            "Спасибо за быстрый ответ.",
            "Во вложении обновлённое предложение.",
            "Можем ли мы перенести встречу на четверг?",
            "С уважением,",
        ],
    ),
    "ja": (
        "shift_jis",
        ("base64",),
        [
            "早速のご返信ありがとうございます。",
            "修正した見積書を添付いたします。",
            "木曜日に会議を移動できますか。",
            "よろしくお願いいたします。",
        ],
    ),
    "fr": (
        "windows-1252",
        ("quoted-printable",),
        [
            "Merci pour votre réponse rapide.",
            "Veuillez trouver ci-joint le devis révisé.",
            "Cordialement,",
            "Pouvons-nous décaler la réunion à jeudi ?",
        ],
    ),
    "utf8": (
        "utf-8",
        ("8bit", "base64"),
        ["Grüße aus München — 谢谢 — спасибо.", "Price: 1 200 € / ¥ 9 800.", "Ünïcödé everywhere ✓", "Kind regards,"],
    ),
}
LANGS = list(TEXT)
LANG_WEIGHTS = [50, 15, 10, 5, 5, 5, 10]
SUBJECTS = [
    "Quote for the pilot",
    "Re: Meeting next week",
    "Angebot Nr. 4711",
    "报价单",
    "Re: Vertrag",
    "Invoice 2026-03",
    "Drawings rev. B",
    "Re: Follow-up",
    "Предложение",
    "見積もりの件",
    "Order confirmation",
    "Re: Re: schedule",
]
ATTACHMENTS = [
    ("application/pdf", "quote.pdf"),
    ("image/png", "drawing.png"),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "contract.docx"),
    ("application/vnd.ms-excel", "prices.xls"),
    ("application/zip", "files.zip"),
]


def person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)}.{rng.randrange(800)}@{rng.choice(DOMAINS)}"


def encoded_word(text: str, rng: random.Random) -> str:
    if text.isascii():
        return text
    charset = rng.choice(["utf-8", "utf-8", "gb2312" if any("\u4e00" <= c <= "\u9fff" for c in text) else "utf-8"])
    try:
        raw = text.encode(charset)
    except UnicodeEncodeError:
        charset, raw = "utf-8", text.encode("utf-8")
    if rng.random() < 0.5:
        return f"=?{charset}?B?{base64.b64encode(raw).decode()}?="
    q = quopri.encodestring(raw, header=True).decode().replace("=\n", "")
    return f"=?{charset}?Q?{q}?="


def named(address: str, rng: random.Random) -> str:
    local = address.split("@")[0]
    name = " ".join(p.capitalize() for p in local.split(".")[:1]) + rng.choice(
        [" Müller", " Wang", " Smith", " 李", ""]
    )
    return f"{encoded_word(name, rng)} <{address}>" if rng.random() < 0.8 else address


def body_text(rng: random.Random, lang: str, lines: int) -> str:
    phrases = TEXT[lang][2]
    out = [" ".join(rng.choice(phrases) for _ in range(rng.randint(1, 4))) for _ in range(lines)]
    if rng.random() < 0.35:  # quoted history
        out.append("")
        out.append(f"On {format_datetime(EPOCH)}, someone wrote:")
        out += ["> " + " ".join(rng.choice(phrases) for _ in range(3)) for _ in range(rng.randint(3, 40))]
    return "\n".join(out) + "\n"


def encode_part(text: str, charset: str, cte: str) -> tuple[str, bytes]:
    raw = text.encode(charset, "replace")
    if cte == "base64":
        return cte, base64.encodebytes(raw)
    if cte == "quoted-printable":
        return cte, quopri.encodestring(raw)
    if cte == "7bit" and not raw.isascii():
        return "quoted-printable", quopri.encodestring(raw)
    return cte, raw


def text_part(text: str, lang: str, rng: random.Random, subtype: str = "plain") -> bytes:
    charset, ctes, _ = TEXT[lang]
    cte, payload = encode_part(text, charset, rng.choice(ctes))
    return (
        f'Content-Type: text/{subtype}; charset="{charset}"\nContent-Transfer-Encoding: {cte}\n\n'
    ).encode() + payload


def html_of(text: str) -> str:
    rows = "".join(
        f'<p class="MsoNormal" style="margin:0cm;font-family:Calibri,sans-serif;font-size:11pt">{line}</p>\n'
        for line in text.splitlines()
    )
    return (
        '<html xmlns:o="urn:schemas-microsoft-com:office:office"><head><meta http-equiv="Content-Type" content="text/html">'
        '<style><!-- p.MsoNormal {margin:0cm; font-size:11.0pt; font-family:"Calibri",sans-serif;} --></style></head>'
        f'<body lang="EN-US" link="#0563C1" vlink="#954F72"><div class="WordSection1">\n{rows}</div></body></html>\n'
    )


def attachment(rng: random.Random) -> bytes:
    ctype, name = rng.choice(ATTACHMENTS)
    size = min(int(rng.lognormvariate(10.5, 1.2)), 4_000_000)  # median ~36 KB
    data = base64.encodebytes(rng.randbytes(size))
    return (
        f'Content-Type: {ctype}; name="{name}"\nContent-Disposition: attachment; filename="{name}"\n'
        "Content-Transfer-Encoding: base64\n\n"
    ).encode() + data


def multipart(subtype: str, parts: list[bytes], rng: random.Random) -> tuple[str, bytes]:
    boundary = f"----=_Part_{rng.randrange(10**9)}_{rng.randrange(10**9)}"
    body = b"This is a multi-part message in MIME format.\n\n"
    for p in parts:
        body += f"--{boundary}\n".encode() + p + b"\n"
    body += f"--{boundary}--\n".encode()
    return f'multipart/{subtype}; boundary="{boundary}"', body


def received_chain(rng: random.Random, when: datetime, for_clause: str | None) -> list[str]:
    hops = []
    t = when
    hosts = ["mx1.ourco.example", "filter.ourco.example", "smtp-out.ourco.example", "relay.provider.example"]
    for n in range(rng.randint(2, 5)):
        t = t - timedelta(seconds=rng.randint(1, 30))
        by, frm = hosts[n % len(hosts)], hosts[(n + 1) % len(hosts)]
        clause = f"\n\tfor <{for_clause}>" if (for_clause and n == 0) else ""
        hops.append(
            f"Received: from {frm} ({frm} [10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}])\n"
            f"\tby {by} (Postfix) with ESMTPS id {rng.randrange(16**10):010X}{clause};\n\t{format_datetime(t)}"
        )
    return hops


def signature_headers(rng: random.Random, domain: str) -> list[str]:
    sig = base64.b64encode(rng.randbytes(192)).decode()
    bh = base64.b64encode(rng.randbytes(32)).decode()
    lines = [sig[i : i + 70] for i in range(0, len(sig), 70)]
    out = [
        "Authentication-Results: mx1.ourco.example;\n\tdkim=pass header.d="
        + domain
        + " header.s=s1;\n\tspf=pass smtp.mailfrom="
        + domain,
        f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain}; s=s1;\n\tt=1767225600; bh={bh};\n\th=From:To:Subject:Date:Message-ID;\n\tb="
        + "\n\t ".join(lines),
    ]
    if rng.random() < 0.3:
        out.append(
            f"ARC-Seal: i=1; a=rsa-sha256; t=1767225600; cv=none; d={domain}; s=arc;\n\tb=" + "\n\t ".join(lines[:3])
        )
    return out


CHANNELS = ["bcc", "bcc", "delivered", "received", "envelope", "cc", "forward", "forward-attached"]
NEAR_MISSES = ["subject", "reply-to", "message-id", "longer-domain", "longer-local"]


def logging_form(rng: random.Random, address: str) -> str:
    local, domain = address.split("@")
    r = rng.random()
    if r < 0.15:
        return f"{local}+{rng.choice(['acme', 'deal42', 'x'])}@{domain}"
    if r < 0.25:
        return address.upper()
    return address


def _start(i: int, addressed: float, seed: int) -> tuple[random.Random, bool, datetime, str | None]:
    """The first draws of message i: whether it is addressed, its date, its near miss."""
    rng = random.Random(seed * 1_000_003 + i)
    is_hit = rng.random() < addressed
    when = EPOCH + timedelta(minutes=3 * i, seconds=rng.randrange(60))
    near_miss = None if is_hit or rng.random() > 0.004 else rng.choice(NEAR_MISSES)
    return rng, is_hit, when, near_miss


def message(i: int, addressed: float = 0.03, seed: int = 1) -> tuple[str, str | None, bytes]:
    """Message number i: (folder, Maildir flags or None for new/, bytes)."""
    rng, is_hit, when, near_miss = _start(i, addressed, seed)
    channel = rng.choice(CHANNELS) if is_hit else None
    lang = rng.choices(LANGS, LANG_WEIGHTS)[0]
    outgoing = channel in ("bcc", "cc", "forward", "forward-attached") or (not is_hit and rng.random() < 0.25)
    sender = rng.choice(USERS) if (outgoing or is_hit) else person(rng)
    to = [person(rng) for _ in range(rng.choices([1, 2, 3, 8], [70, 18, 9, 3])[0])]
    cc = [rng.choice([*USERS, person(rng)])] if rng.random() < 0.3 else []
    folder = ".Sent" if outgoing and rng.random() < 0.8 else rng.choice(FOLDERS)
    listmail = not is_hit and not outgoing and rng.random() < 0.15
    if listmail:
        folder = ".Lists.vendors"
    top: list[str] = []
    extra: list[str] = []
    bcc = None
    if channel == "bcc":
        bcc = logging_form(rng, LOG)
        folder = ".Sent"
    elif channel == "cc":
        cc.append(logging_form(rng, LOG))
    elif channel in ("forward", "forward-attached"):
        to = [logging_form(rng, FWD)]
        cc = []
    elif channel == "delivered":
        top += [f"Delivered-To: {logging_form(rng, LOG)}", f"X-Original-To: {LOG}"]
    elif channel == "envelope":
        top.append(f"Envelope-To: {logging_form(rng, LOG)}")
    for_clause = logging_form(rng, LOG) if channel == "received" else None
    if channel in ("delivered", "received", "envelope"):
        folder = rng.choice(["", ".Archive"])
    subject = rng.choice(SUBJECTS)
    if near_miss == "subject":
        subject = f"Please stop sending to {LOG}"
    elif near_miss == "reply-to":
        extra.append(f"Reply-To: {LOG}")
    elif near_miss == "longer-domain":
        to.append("log@crm.example.community")
    elif near_miss == "longer-local":
        to.append("blog@crm.example.com")
    mid_domain = "crm.example.com" if near_miss == "message-id" else sender.split("@")[1]
    mid_local = f"bench.{i}.log" if near_miss == "message-id" else f"bench.{i}.{rng.randrange(10**6)}"

    if outgoing and folder == ".Sent":
        top = top  # a Sent copy written by the client: no Received headers, no signatures
    else:
        top.append(f"Return-Path: <{sender}>")
        top += received_chain(rng, when, for_clause)
        top += signature_headers(rng, sender.split("@")[1])
    if listmail:
        extra += [
            "List-Id: Vendor news <news.vendor.example>",
            "List-Unsubscribe: <mailto:unsubscribe@vendor.example>",
            "Precedence: bulk",
        ]

    # the body
    text = body_text(rng, lang, max(1, int(rng.lognormvariate(2.3, 0.9))))
    shape = rng.choices(["plain", "alt", "mixed", "related"], [45, 35, 15, 5])[0]
    if channel == "forward":
        original = person(rng)
        text = (
            "FYI, see below.\n\n---------- Forwarded message ---------\n"
            f"From: {original.split('.')[0].capitalize()} <{original}>\nDate: {format_datetime(when - timedelta(days=1))}\n"
            f"Subject: {rng.choice(SUBJECTS)}\nTo: {sender}\n\n"
        ) + text
        lang = "en" if lang in ("zh", "ja", "ru") else lang
        shape = "plain"
    if shape == "plain":
        ctype_body = text_part(text, lang, rng)
    elif shape == "alt":
        ctype, body = multipart(
            "alternative", [text_part(text, lang, rng), text_part(html_of(text), "utf8", rng, "html")], rng
        )
        ctype_body = f"Content-Type: {ctype}\n\n".encode() + body
    elif shape == "related":
        img = (
            b"Content-Type: image/png\nContent-ID: <logo@ourco>\nContent-Transfer-Encoding: base64\n\n"
            + base64.encodebytes(rng.randbytes(rng.randint(2_000, 20_000)))
        )
        ctype, inner = multipart("related", [text_part(html_of(text), "utf8", rng, "html"), img], rng)
        ctype_body = f"Content-Type: {ctype}\n\n".encode() + inner
    else:
        ctype, body = multipart(
            "mixed",
            [text_part(text, lang, rng)] + [attachment(rng) for _ in range(rng.choices([1, 2, 3], [80, 15, 5])[0])],
            rng,
        )
        ctype_body = f"Content-Type: {ctype}\n\n".encode() + body
    if channel == "forward-attached":
        inner = (
            f"From: {person(rng)}\nTo: {sender}\nSubject: {rng.choice(SUBJECTS)}\nDate: {format_datetime(when)}\n"
            f"Message-ID: <orig.{i}@{rng.choice(DOMAINS)}>\nMIME-Version: 1.0\n"
        ).encode() + text_part(text, "en", rng)
        ctype, body = multipart(
            "mixed",
            [
                text_part("Forwarding this one.\n", "en", rng),
                b"Content-Type: message/rfc822\nContent-Disposition: attachment\n\n" + inner,
            ],
            rng,
        )
        ctype_body = f"Content-Type: {ctype}\n\n".encode() + body

    headers = [*top, f"From: {named(sender, rng)}", "To: " + ",\n\t".join(named(a, rng) for a in to)]
    if cc:
        headers.append("Cc: " + ", ".join(named(a, rng) for a in cc))
    if bcc:
        headers.append(f"Bcc: {bcc}")
    headers += [
        f"Subject: {encoded_word(subject, rng)}",
        f"Date: {format_datetime(when)}",
        f"Message-ID: <{mid_local}@{mid_domain}>",
    ]
    if subject.startswith("Re:"):
        headers.append(f"In-Reply-To: <prev.{i}@{rng.choice(DOMAINS)}>")
        headers.append(f"References: <root.{i}@{rng.choice(DOMAINS)}>\n <prev.{i}@{rng.choice(DOMAINS)}>")
    headers += extra
    headers.append("MIME-Version: 1.0")
    headers.append(
        rng.choice(
            [
                "X-Mailer: Microsoft Outlook 16.0",
                "User-Agent: Mozilla Thunderbird",
                "X-Mailer: iPhone Mail (20A362)",
                "Thread-Index: AdkB" + "x" * 20,
            ]
        )
    )
    data = "\n".join(headers).encode("utf-8") + b"\n" + ctype_body
    if rng.random() < 0.1:
        data = data.replace(b"\n", b"\r\n")  # some stores keep CRLF
    flags = rng.choice(FLAGS) if rng.random() < 0.9 else None
    return folder, flags, data


def is_addressed(i: int, addressed: float = 0.03, seed: int = 1) -> bool:
    return _start(i, addressed, seed)[1]


def near_miss(i: int, addressed: float = 0.03, seed: int = 1) -> str | None:
    """Which near miss message i is (an address of ours where ADDR-2 does not look), if any."""
    return _start(i, addressed, seed)[3]


def write_maildir(root: Path, n: int, addressed: float = 0.03, *, start: int = 0, seed: int = 1) -> list[Path]:
    """Deliver messages start .. start+n-1 into the Maildir at root; returns their paths."""
    for folder in FOLDERS:
        for sub in ("cur", "new", "tmp"):
            (root / folder / sub).mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + n):
        folder, flags, data = message(i, addressed, seed)
        name = f"{1767225600 + 180 * i}.M{i % 1000000}P{4000 + i % 97}Q{i}.mailhost,S={len(data)}"
        path = root / folder / ("new" if flags is None else "cur") / (name if flags is None else f"{name}:2,{flags}")
        path.write_bytes(data)
        paths.append(path)
    return paths


def write_mbox(
    path: Path, n: int, addressed: float = 0.03, *, start: int = 0, seed: int = 1, max_bytes: int | None = None
) -> tuple[int, int]:
    """Append messages start.. to an mbox (From_ lines, >From quoting); stops at n messages or
    at max_bytes. Returns (messages, bytes) written."""
    written = count = 0
    with open(path, "ab") as fh:
        i = start
        while count < n and (max_bytes is None or written < max_bytes):
            _, _, data = message(i, addressed, seed)
            data = data.replace(b"\r\n", b"\n")
            lines = data.split(b"\n")
            body = b"\n".join(b">" + line if line.startswith((b"From ", b">From ")) else line for line in lines)
            chunk = b"From bench@ourco.example Thu Jan  1 00:00:00 2026\n" + body.rstrip(b"\n") + b"\n\n"
            fh.write(chunk)
            written += len(chunk)
            count += 1
            i += 1
    return count, written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--addressed", type=float, default=0.03)
    ap.add_argument("--start", type=int, default=0, help="number of the first message (to add to a mailbox)")
    ap.add_argument("--mbox", action="store_true", help="write DIR as one mbox file instead")
    a = ap.parse_args()
    if a.mbox:
        n, size = write_mbox(a.dir, a.messages, a.addressed, start=a.start)
    else:
        paths = write_maildir(a.dir, a.messages, a.addressed, start=a.start)
        n, size = len(paths), sum(p.stat().st_size for p in paths)
    print(f"wrote {n} messages ({size / 1e6:.0f} MB) to {a.dir}")


if __name__ == "__main__":
    main()
