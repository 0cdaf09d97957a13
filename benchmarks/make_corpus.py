"""Deterministic test corpus: a Maildir (with sub-folders and flags) or an mbox of N messages,
a few percent of them addressed to the logging address, through a Bcc header (Sent copies),
Delivered-To, or a Received `for` clause, some with attachments.

    python benchmarks/make_corpus.py DIR --messages 10000 [--addressed 0.03] [--mbox FILE]

The same arguments always write the same bytes (seeded random numbers, fixed dates)."""
from __future__ import annotations

import argparse
import random
from email.message import EmailMessage
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone
from pathlib import Path

LOG = "log@crm.example.com"
USERS = ["anna@ourco.example", "ben@ourco.example", "carla@ourco.example", "dev@ourco.example"]
DOMAINS = ["acme.example", "beispiel-gmbh.de", "mail.globex.co.uk", "gmail.com", "initech.example", "qq.com", "umbrella.example"]
FIRST = ["li", "hans", "maria", "wang", "john", "sofia", "ken", "fatima", "olga", "pierre"]
WORDS = "quote pilot renewal meeting invoice drawings contract schedule follow-up question offer".split()
FOLDERS = ["", ".Sent", ".Archive", ".Archive.2025"]


def person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)}.{rng.randrange(500)}@{rng.choice(DOMAINS)}"


def message(rng: random.Random, i: int, addressed: bool) -> tuple[str, bytes]:
    m = EmailMessage()
    sender = rng.choice(USERS) if addressed or rng.random() < 0.3 else person(rng)
    when = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=7 * i)
    m["From"] = sender
    m["To"] = ", ".join(person(rng) for _ in range(rng.randint(1, 3)))
    if rng.random() < 0.3:
        m["Cc"] = rng.choice(USERS + [person(rng)])
    folder = rng.choice(FOLDERS)
    if addressed:
        how = rng.choice(["bcc", "delivered", "received"])
        if how == "bcc":
            m["Bcc"] = LOG
            folder = ".Sent"
        elif how == "delivered":
            m["Delivered-To"] = LOG
        else:
            m["Received"] = f"from smtp.ourco.example by mx.crm.example.com for <{LOG}>; {format_datetime(when)}"
    m["Received"] = f"from client by smtp.ourco.example with ESMTPSA; {format_datetime(when)}"
    m["Subject"] = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6)))
    m["Date"] = format_datetime(when)
    m["Message-ID"] = f"<bench-{i}@ourco.example>"
    body = "\n".join(" ".join(rng.choice(WORDS) for _ in range(12)) for _ in range(rng.randint(3, 60)))
    m.set_content(body + "\n")
    if rng.random() < 0.15:
        m.add_alternative(f"<html><body><p>{body}</p></body></html>", subtype="html")
    if rng.random() < 0.1:
        size = rng.choice([2_000, 30_000, 200_000])
        m.add_attachment(rng.randbytes(size), maintype="application", subtype="octet-stream", filename=f"file{i}.bin")
    return folder, bytes(m)


def generate(n: int, addressed: float, seed: int = 1):
    rng = random.Random(seed)
    hits = set(rng.sample(range(n), round(n * addressed)))
    for i in range(n):
        yield i, message(rng, i, i in hits)


def write_maildir(root: Path, n: int, addressed: float) -> None:
    for folder in FOLDERS:
        for sub in ("cur", "new", "tmp"):
            (root / folder / sub).mkdir(parents=True, exist_ok=True)
    for i, (folder, data) in generate(n, addressed):
        name = f"{1767225600 + i}.M{i}P1.bench" + (":2,S" if i % 3 else "")
        (root / folder / ("cur" if i % 3 else "new") / name).write_bytes(data)


def write_mbox(path: Path, n: int, addressed: float) -> None:
    with open(path, "wb") as fh:
        for _, (_, data) in generate(n, addressed):
            body = b"\n".join(b">" + line if line.startswith(b"From ") else line for line in data.split(b"\n"))
            fh.write(b"From bench@ourco.example Thu Jan  1 00:00:00 2026\n" + body + b"\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--addressed", type=float, default=0.03)
    ap.add_argument("--mbox", action="store_true", help="write DIR as one mbox file instead")
    a = ap.parse_args()
    (write_mbox if a.mbox else write_maildir)(a.dir, a.messages, a.addressed)
    print(f"wrote {a.messages} messages to {a.dir}")


if __name__ == "__main__":
    main()
