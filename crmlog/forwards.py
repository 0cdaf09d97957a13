"""Find the one forwarded message inside a forward (FWD-1 to FWD-3).

`find_forward(message, forwarder=...)` returns a `Forwarded` or a `Rejected` with
`forward-not-recognized` (FWD-2) or `forward-is-thread` (FWD-3). It reads the message's text
(or its HTML rendered as text) line by line and marks three kinds of landmarks:

- separator lines (`---------- Forwarded message ---------`, `-----Original Message-----`,
  `Begin forwarded message:`, an underscore rule, ...),
- header blocks (a From line next to Date/Sent, Subject or To lines, in any order, in any
  language of `forward_layouts`, `>`-quoted or not),
- "On DATE, NAME <ADDR> wrote:" lines.

The first landmark is the forward; what is above it is the forwarder's note; what follows
its header block is the forwarded body. Landmarks further down are the contact's quoted
history unless they start a second forward. Pure: no I/O, no clock.
"""
from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from collections.abc import Iterator
from functools import lru_cache

from .forward_layouts import BCC, CC, DATE, FROM, LANGUAGES, REPLY_TO, SENT, SEPARATORS, SUBJECT, TO
from .model import Address, Attachment, Code, Forwarded, Message, Rejected, normalize_email
from .parsing import ParseError, html_to_text, parse

MAX_SCAN_CHARS = 300_000  # landmarks are looked for this far into a text (the body is kept whole)
MAX_LINE_CHARS = 2_000  # longer lines are body text, never a header or separator
BLOCK_GAP = 1  # blank lines allowed between two header lines of one block
HEADER_LOOKAHEAD = 4  # non-blank lines between a separator and its header block

# ------------------------------------------------------------------ patterns from the tables


def _alternation(phrases: set[str]) -> str:
    return "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in sorted(phrases, key=len, reverse=True))


_ALL_LABELS = {(lang.code, field, label) for lang in LANGUAGES for field, labels in lang.labels.items() for label in labels}
_FIELD_OF_LABEL = {label.casefold(): field for _, field, label in sorted(_ALL_LABELS)}
_LANGS_OF_LABEL = {
    folded: tuple(sorted({code for code, _, label in _ALL_LABELS if label.casefold() == folded}))
    for folded in _FIELD_OF_LABEL
}

_LABEL_LINE = re.compile(
    r"^[*_]{0,2}(?P<label>" + _alternation({label for _, _, label in _ALL_LABELS})
    + r")[*_]{0,2}\s*[:：][*_]{0,2}[ \t\u3000]*(?P<value>.*)$",
    re.I,
)

_PHRASES = {
    "forwarded": _alternation({p for lg in LANGUAGES for p in lg.forwarded}),
    "original": _alternation({p for lg in LANGUAGES for p in lg.original}),
    "begin": _alternation({p for lg in LANGUAGES for p in lg.begin}),
}
_SEPARATORS = tuple(
    (s.client, s.kind, re.compile(r"^[*_]{0,2}" + re.sub(r"\{([a-z]+)\}", lambda m: f"(?:{_PHRASES[m.group(1)]})", s.pattern) + r"[*_]{0,2}$", re.I))
    for s in SEPARATORS
)

_INLINE_SEPARATOR = re.compile(
    r"^(?P<sep>-{3,}\s*(?:" + _PHRASES["forwarded"] + "|" + _PHRASES["original"] + r")\s*-{3,})\s*\S.*[:：]", re.I
)
_LABEL_ANYWHERE = re.compile(r"(?:" + _alternation({label for _, _, label in _ALL_LABELS}) + r")\s*[:：]", re.I)

_EMAIL = r"[^\s<>\[\]():;,\"'`@]{1,64}@[^\s<>\[\]():;,\"'`@.]{1,63}(?:\.[^\s<>\[\]():;,\"'`@.]{1,63})+"
_EMAIL_RE = re.compile(_EMAIL)
# Bounded repeats: a wrote line is short, and unbounded lazy parts backtrack badly on long
# lines that merely contain an address and end in a colon.
_WHO = r"(?P<who>[^:<>\[\]\n]{0,80}?\s*[<\[(]?(?:mailto:)?" + _EMAIL + r"[>\])]?)"
_DATE_END = (
    r"(?:\d{1,2}[:.]\d{2}(?:[:.]\d{2})?(?:\s?[AaPp]\.?\s?[Mm]\.?)?(?:\s?(?:Uhr|h|시))?"
    r"|\d{4}(?:\s?г\.)?|\d{1,2}日(?:\s?[(（][^)）]{1,3}[)）])?)"
    r"(?:\s*\(?(?:GMT|UTC)?\s?[+-]\d{1,2}:?\d{0,2}\)?|(?-i:\s+[A-Z]{2,5}\b))?"  # a zone: "+0100", "CET"
)
_DATE = r"(?P<date>[^\n]{0,80}?" + _DATE_END + r"|[^\n]{0,80}?(?:上午|下午)\s?\d{1,2}:\d{2})"
_WROTE = tuple(
    (lg.code, re.compile(r"^" + w.replace("{date}", _DATE).replace("{who}", _WHO) + r"$", re.I))
    for lg in LANGUAGES
    for w in lg.wrote
)

_FORWARD_PREFIXES = {p for lg in LANGUAGES for p in lg.subject_prefixes}
_PREFIX_RE = re.compile(
    r"^\s*[\[(]?(?:" + _alternation(_FORWARD_PREFIXES | {p for lg in LANGUAGES for p in lg.reply_prefixes}) + r")"
    r"(?:\s?\[\d+\]|\s?\(\d+\))?\s*[:：][\])]?\s*",
    re.I,
)
_FORWARD_PREFIX_RE = re.compile(
    r"^\s*[\[(]?(?:" + _alternation(_FORWARD_PREFIXES) + r")(?:\s?\[\d+\]|\s?\(\d+\))?\s*[:：]", re.I
)
_QUOTE = re.compile(r"^((?:[ \t]?>)+)[ \t]?")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)


# ------------------------------------------------------------------ landmarks


@dataclass(frozen=True, slots=True)
class _Line:
    depth: int  # how many '>' quote levels
    text: str  # without the quote marks, stripped: what landmarks are matched on
    raw: str  # without the quote marks, indentation kept: what the body is made of


@dataclass(frozen=True, slots=True)
class _Separator:
    start: int
    client: str
    kind: str  # forward | original
    depth: int


@dataclass(frozen=True, slots=True)
class _Header:
    start: int
    end: int  # first line after the block
    depth: int
    fields: dict[str, str]
    labels: tuple[str, ...]
    sent: bool  # the date came under a "Sent:" label


@dataclass(frozen=True, slots=True)
class _Wrote:
    start: int
    end: int
    depth: int
    date: str
    who: str
    language: str


_Landmark = _Separator | _Header | _Wrote


def _lines(text: str) -> list[_Line]:
    out: list[_Line] = []
    for raw in text.splitlines():
        m = _QUOTE.match(raw)
        depth = m.group(1).count(">") if m else 0
        rest = (raw[m.end():] if m else raw).rstrip()
        if depth == 0 and _INLINE_SEPARATOR.match(rest.strip()):
            # Yahoo's text part runs the separator and the whole header block into one line
            out.extend(_Line(0, part.strip(), part) for part in _split_run_on(rest.strip()))
            continue
        out.append(_Line(depth, rest.strip(), rest))
    return out


def _split_run_on(line: str) -> list[str]:
    m = _INLINE_SEPARATOR.match(line)
    assert m is not None
    head, rest = line[: m.end("sep")], line[m.end("sep"):].strip()
    cuts = [x.start() for x in _LABEL_ANYWHERE.finditer(rest)]
    if not cuts or cuts[0] != 0:
        return [line]
    return [head, *(rest[a:b] for a, b in zip(cuts, [*cuts[1:], len(rest)], strict=True))]


def _separator(line: _Line) -> tuple[str, str] | None:
    text = line.text
    if not text or len(text) > 200 or (text[0] not in "-_=*" and not text[0].isalpha()):
        return None  # every separator starts with a rule or a word
    for client, kind, pattern in _SEPARATORS:
        if pattern.match(line.text):
            return client, kind
    return None


def _label(line: _Line) -> tuple[str, str, str] | None:
    if not line.text or len(line.text) > MAX_LINE_CHARS:
        return None
    m = _LABEL_LINE.match(line.text)
    if not m:
        return None
    label = m.group("label")
    return _FIELD_OF_LABEL[label.casefold()], label, m.group("value").strip()


def _header_at(lines: list[_Line], i: int) -> _Header | None:
    """The header block that starts at line i, if one does (FWD-1: From and one of
    Date/Sent, Subject, To)."""
    if not lines[i].text:
        return None  # a block starts on a label line (checked in the loop below)
    depth = lines[i].depth
    fields: dict[str, str] = {}
    labels: list[str] = []
    sent = False
    last_field = ""
    j = i
    while j < len(lines):
        line = lines[j]
        got = _label(line) if line.depth == depth else None
        if got is not None:
            field, label, value = got
            if field == SENT:
                field, sent = DATE, True
            if field in fields:  # a second From: the next block starts here
                break
            fields[field], last_field = value, field
            labels.append(label)
            j += 1
            continue
        if line.depth != depth and line.text:
            break
        if not line.text:  # a gap: the block goes on only if a label line follows at once
            k = j
            while k < len(lines) and k - j <= BLOCK_GAP and not lines[k].text:
                k += 1
            if k - j <= BLOCK_GAP and k < len(lines) and lines[k].depth == depth and _label(lines[k]):
                j = k
                continue
            break
        if last_field in (TO, CC, BCC, FROM, REPLY_TO) and "@" in line.text and not _separator(line):
            fields[last_field] += " " + line.text  # a wrapped recipient list
            j += 1
            continue
        if last_field == SUBJECT and not fields[SUBJECT]:
            fields[SUBJECT] = line.text  # Thunderbird's table puts the value one line down
            j += 1
            continue
        break
    if FROM in fields and ({DATE, SUBJECT, TO} & fields.keys()):
        return _Header(i, j, depth, fields, tuple(labels), sent)
    return None


def _wrote_at(lines: list[_Line], i: int) -> _Wrote | None:
    """An "On DATE, NAME <ADDR> wrote:" line at i, or such a line wrapped onto i and i+1."""
    line = lines[i]
    if _could_be_wrote(line.text):
        return _match_wrote(line.text, i, i + 1, line.depth)
    after = lines[i + 1] if i + 1 < len(lines) else None
    if (
        line.text
        and after is not None
        and after.depth == line.depth
        and after.text.endswith((":", "："))
        and "@" in after.text
        and not (_could_be_wrote(after.text) and _match_wrote(after.text, i + 1, i + 2, after.depth))  # not one by itself
    ):
        joined = line.text + " " + after.text
        if _could_be_wrote(joined):
            return _match_wrote(joined, i, i + 2, line.depth)
    return None


def _could_be_wrote(text: str) -> bool:
    """Cheap tests first: a wrote line ends in a colon, names an address and has a date."""
    return (
        8 < len(text) <= 400
        and text.endswith((":", "："))
        and "@" in text
        and any(c.isdigit() for c in text)
    )


def _match_wrote(text: str, start: int, end: int, depth: int) -> _Wrote | None:
    for code, pattern in _WROTE:
        m = pattern.match(text)
        if m:
            return _Wrote(start, end, depth, m.group("date").strip(" ,，"), m.group("who"), code)
    return None


def _landmarks(lines: list[_Line]) -> Iterator[_Landmark]:
    """The landmarks top to bottom, found as they are asked for: a reader that has decided
    after the first two never looks at the rest of a long body. Only the first
    MAX_SCAN_CHARS are searched, which bounds the time a hostile body can take."""
    i, end, seen = 0, 0, 0
    while end < len(lines) and seen < MAX_SCAN_CHARS:
        seen += len(lines[end].raw) + 1
        end += 1
    while i < end:
        line = lines[i]
        sep = _separator(line)
        if sep is not None:
            yield _Separator(i, sep[0], sep[1], line.depth)
            i += 1
            continue
        mark = _header_at(lines, i) or _wrote_at(lines, i)
        if mark is not None:
            yield mark
            i = mark.end
            continue
        i += 1


# ------------------------------------------------------------------ values


def addresses(value: str) -> tuple[Address, ...]:
    """The addresses of a header value as mail clients print them: `Name <a@b>`,
    `Name [mailto:a@b]`, `a@b`, `"Last, First" <a@b>`, Outlook's `;` lists, names alone."""
    value = re.sub(r"\[mailto:([^\]]*)\]", r"<\1>", value, flags=re.I)
    value = re.sub(r"<?(" + _EMAIL + r")>?\s*<mailto:\1>", r"<\1>", value, flags=re.I)
    value = re.sub(r"mailto:", "", value, flags=re.I).replace("*", "")
    if ";" in value:
        chunks = value.split(";")
    else:
        chunks = re.findall(r'(?:"[^"]*"|[^,"])+', value)
        if any("@" in c for c in chunks):
            merged: list[str] = []
            carry = ""
            for c in chunks:
                if "@" in c:
                    merged.append(carry + c)
                    carry = ""
                else:
                    carry += c + ","
            if carry and merged:
                merged[-1] += "," + carry.rstrip(",")
            chunks = merged
    out: dict[str, Address] = {}
    for chunk in chunks:
        m = _EMAIL_RE.search(chunk)
        email = normalize_email(m.group(0)) if m else ""
        name = chunk.replace(m.group(0), " ") if m else chunk
        name = re.sub(r"[<>\[\]()]", " ", name)
        name = " ".join(name.split()).strip(" \"'`,«»„“”‘’")
        if name.casefold() == email:
            name = ""
        if not email and not name:
            continue
        key = email or name
        if key not in out:
            out[key] = Address(email=email, name=name)
    return tuple(out.values())


_DATEPARSER_SETTINGS = {
    "PARSERS": ["absolute-time"],  # never "yesterday" against the clock
    "REQUIRE_PARTS": ["day", "month", "year"],  # never a year filled in from today
    "PREFER_DAY_OF_MONTH": "first",
}


_ALL_LANGUAGES = tuple(lang.code for lang in LANGUAGES)
_GMT_OFFSET = re.compile(r"[(\[]?\b(?:GMT|UTC)\s?([+-])(\d{1,2}):?(\d{2})?[)\]]?")


_JA_WEEKDAY = re.compile(r"(日)\s*[(（]?[月火水木金土日]曜日?[)）]?")
_RFC5322_DATE = re.compile(
    r"^(?:[A-Z][a-z]{2},\s*)?\d{1,2}\s+[A-Z][a-z]{2}\s+\d{2,4}\s+\d{1,2}:\d{2}(?::\d{2})?\s*(?:[+-]\d{4}|[A-Z]{1,5})?(?:\s*\(.*\))?$"
)


@lru_cache(maxsize=1)
def _dateparser():
    import dateparser  # loads its language data: only when a forward needs a date read
    import dateparser.timezone_parser

    return dateparser


def parse_date(value: str, languages: tuple[str, ...] = ()) -> str:
    """A forward header's date as ISO 8601 (UTC where it names its zone), else as written."""
    value = " ".join(value.split())
    if not value:
        return ""
    parsed = None
    if _RFC5322_DATE.match(value):  # Thunderbird; the stdlib reads looser forms wrongly
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            parsed = None
    if parsed is None and len(value) <= 120:
        value = _JA_WEEKDAY.sub(r"\1 ", value)  # dateparser misreads "19日月曜日"
        # "GMT+8" or "(GMT+01:00)" anywhere in the string (iOS puts it before the time)
        zone = _GMT_OFFSET.search(value)
        bare = (value[: zone.start()] + " " + value[zone.end():]).strip() if zone else value
        # The labels' languages first: they also fix the order of a numeric day and month.
        for order in (languages, _ALL_LANGUAGES) if languages else (_ALL_LANGUAGES,):
            parsed = _read_date(bare, order)
            if parsed is None:  # a zone name dateparser reads only in English text ("JST")
                rest, tz = _dateparser().timezone_parser.pop_tz_offset_from_string(bare)
                parsed = _read_date(rest, order) if tz is not None and rest != bare else None
                if parsed is not None and parsed.tzinfo is None:
                    parsed = parsed.replace(tzinfo=tz)
            if parsed is not None:
                break
        if parsed is not None and parsed.tzinfo is None and zone:
            hours, minutes = int(zone.group(2)), int(zone.group(3) or 0)
            sign = -1 if zone.group(1) == "-" else 1
            parsed = parsed.replace(tzinfo=timezone(sign * timedelta(hours=hours, minutes=minutes)))
    if parsed is None:
        return value
    if parsed.tzinfo is not None:
        return parsed.astimezone(timezone.utc).isoformat()
    return parsed.isoformat()


def _read_date(value: str, languages: tuple[str, ...]) -> datetime | None:
    try:
        return _dateparser().parse(value, languages=list(languages), settings=_DATEPARSER_SETTINGS)
    except Exception:  # dateparser raises on odd input (overflow, bad offsets)
        return None


def strip_prefixes(subject: str) -> str:
    """A subject without its leading forward and reply prefixes (`Fwd: Re: WG: x` -> `x`)."""
    while True:
        m = _PREFIX_RE.match(subject)
        if not m or m.end() == 0:
            return subject.strip()
        subject = subject[m.end():]


def is_forward_subject(subject: str) -> bool:
    return _FORWARD_PREFIX_RE.match(subject) is not None


# ------------------------------------------------------------------ the reader


def _not_recognized(reason: str) -> Rejected:
    return Rejected(code=Code.FORWARD_NOT_RECOGNIZED, reason=reason, rules=("FWD-1", "FWD-2"))


def _thread(reason: str) -> Rejected:
    return Rejected(code=Code.FORWARD_IS_THREAD, reason=reason, rules=("FWD-1", "FWD-3"))


EXPECTED = (
    "expected one forwarded message: a separator such as '---------- Forwarded message "
    "---------' or '-----Original Message-----' followed by From and Date/Sent, Subject or To "
    "lines, or the original attached as a message (forward as attachment)"
)


def find_forward(message: Message, *, forwarder: str = "") -> Forwarded | Rejected:
    """The one forwarded message inside `message` (FWD-1), else why not (FWD-2, FWD-3).
    `forwarder` is the address that sent the forward: a forwarded message from it is the
    user's own reply (FWD-3)."""
    attached = message.attached_messages
    if len(attached) > 1:
        return _thread(f"{len(attached)} messages are attached: forward one reply at a time")
    # The text part first; the HTML part (rendered once) where the text shows no forward.
    text = message.text if message.text.strip() else html_to_text(message.html)
    found = read_forward(text, forwarder=forwarder, outer_subject=message.subject)
    if not _recognized(found) and message.html and message.text.strip():
        from_html = read_forward(html_to_text(message.html), forwarder=forwarder, outer_subject=message.subject)
        if _recognized(from_html):
            found = from_html
    if attached:
        if isinstance(found, Forwarded):
            return _thread("the message holds an attached message and an inline forward as well")
        return _attached_forward(attached[0], note_source=text, forwarder=forwarder)
    if isinstance(found, Forwarded):  # an inline forward carries the forward's own files
        return replace(found, attachments=tuple(a for a in message.attachments if not _is_message(a)))
    return found


def _recognized(found: Forwarded | Rejected) -> bool:
    """A forward header was found (whether or not it was then refused as a thread)."""
    return not (isinstance(found, Rejected) and found.code == Code.FORWARD_NOT_RECOGNIZED)


def _attached_forward(data: bytes, *, note_source: str, forwarder: str) -> Forwarded | Rejected:
    try:
        inner = parse(data)
    except ParseError as exc:
        return _not_recognized(f"the attached message cannot be read: {exc}")
    if inner.sender is None:
        return _not_recognized("the attached message has no From line")
    if inner.attached_messages:
        return _thread("the attached message is itself a forward (it holds an attached message)")
    body = inner.text if inner.text.strip() else html_to_text(inner.html)
    nested = _check_thread(
        sender=inner.sender, subject=inner.subject, body_lines=_lines(body), forwarder=forwarder
    )
    if nested is not None:
        return nested
    note = note_source
    head = body.strip()[:200]
    if head and head in note:  # the parser also hands us the attached message's text
        note = note[: note.index(head)]
    return Forwarded(
        sender=inner.sender,
        to=inner.to,
        cc=inner.cc,
        subject=inner.subject,
        date=inner.date.isoformat() if inner.date else "",
        body=body.strip("\n"),
        note=note.strip(),
        client="attachment",
        attachments=tuple(a for a in inner.attachments if not _is_message(a)),
    )


def _is_message(a: Attachment) -> bool:
    return a.content_type.lower() in ("message/rfc822", "message/global")


def read_forward(text: str, *, forwarder: str = "", outer_subject: str = "") -> Forwarded | Rejected:
    """Read an inline forward out of a text body."""
    text = text.translate(_INVISIBLE).replace("\r\n", "\n").replace("\r", "\n")
    lines = _lines(text)
    marks = _landmarks(lines)
    first = next(marks, None)
    if first is None:
        return _not_recognized("no forward header found: " + EXPECTED)
    if isinstance(first, _Separator):
        second = next(marks, None)
        near = second is not None and _nonblank_between(lines, first.start + 1, second.start) <= HEADER_LOOKAHEAD
        if near and isinstance(second, _Header):
            # iOS quotes the forwarded header below Apple's "Begin forwarded message:"
            client = "iphone-mail" if first.client == "apple-mail" and second.depth > 0 else first.client
            return _from_header(lines, second, note_end=first.start, client=client, forwarder=forwarder, outer_subject=outer_subject)
        if near and isinstance(second, _Wrote):
            return _from_wrote(lines, second, note_end=first.start, forwarder=forwarder, outer_subject=outer_subject)
        return _not_recognized(
            f"found the separator {lines[first.start].text!r} but no From line with a Date, "
            "Subject or To line below it: the forward header was cut or edited"
        )
    if isinstance(first, _Header):
        client = "outlook" if first.sent else "generic"  # Outlook writes "Sent:" where others write "Date:"
        return _from_header(lines, first, note_end=first.start, client=client, forwarder=forwarder, outer_subject=outer_subject)
    return _from_wrote(lines, first, note_end=first.start, forwarder=forwarder, outer_subject=outer_subject)


def _nonblank_between(lines: list[_Line], a: int, b: int) -> int:
    return sum(1 for line in lines[a:b] if line.text)


def _from_header(
    lines: list[_Line], header: _Header, *, note_end: int, client: str, forwarder: str, outer_subject: str
) -> Forwarded | Rejected:
    f = header.fields
    senders = addresses(f[FROM])
    if not senders or not senders[0].email:
        named = f" names {senders[0].name!r} but" if senders else " has"
        return _not_recognized(
            f"the forwarded From line{named} no e-mail address: forward from a client that "
            "shows the address, or attach the original message"
        )
    languages = tuple(dict.fromkeys(code for label in header.labels for code in _LANGS_OF_LABEL.get(label.casefold(), ())))
    body_lines = _dequote(lines[header.end:], header.depth)
    subject = f.get(SUBJECT, "").strip() or strip_prefixes(outer_subject)
    problem = _check_thread(sender=senders[0], subject=f.get(SUBJECT, ""), body_lines=body_lines, forwarder=forwarder)
    if problem is not None:
        return problem
    return Forwarded(
        sender=senders[0],
        to=addresses(f.get(TO, "")),
        cc=addresses(f.get(CC, "")),
        subject=subject,
        date=parse_date(f.get(DATE, ""), languages),
        body=_text(body_lines),
        note=_text(lines[:note_end]),
        client=client,
    )


def _from_wrote(
    lines: list[_Line], wrote: _Wrote, *, note_end: int, forwarder: str, outer_subject: str
) -> Forwarded | Rejected:
    senders = addresses(wrote.who)
    rest = lines[wrote.end:]
    depth = next((line.depth for line in rest if line.text), wrote.depth)
    body_lines = _dequote(rest, max(depth, wrote.depth))
    problem = _check_thread(sender=senders[0], subject="", body_lines=body_lines, forwarder=forwarder)
    if problem is not None:
        return problem
    return Forwarded(
        sender=senders[0],
        to=(),
        cc=(),
        subject=strip_prefixes(outer_subject),
        date=parse_date(wrote.date, (wrote.language,)),
        body=_text(body_lines),
        note=_text(lines[:note_end]),
        client="quote-header",
    )


def _dequote(lines: list[_Line], depth: int) -> list[_Line]:
    """The lines `depth` quote levels up; one level more where every line is quoted (a
    client that quotes the whole forwarded body, as Windows Live Mail can)."""
    if any(line.text for line in lines) and all(line.depth > depth for line in lines if line.text):
        depth += 1
    return [_Line(max(line.depth - depth, 0), line.text, line.raw) for line in lines]


def _text(lines: list[_Line]) -> str:
    """The lines as text again: quote marks below the cut depth put back, common
    indentation removed (Outlook for Mac indents a forwarded body by four spaces)."""
    body = "\n".join(("> " * line.depth + line.raw).rstrip() for line in lines)
    return textwrap.dedent(body).strip()


def _check_thread(*, sender: Address, subject: str, body_lines: list[_Line], forwarder: str) -> Rejected | None:
    """FWD-3: the forwarded message must be one reply written by someone else."""
    if forwarder and sender.email == forwarder:
        return _thread(
            f"the forwarded message was written by {forwarder}, who forwarded it: forward the "
            "contact's reply itself, not your own reply to it"
        )
    if subject and is_forward_subject(subject):
        return _thread(f"the forwarded message is itself a forward (its subject is {subject.strip()!r})")
    opening = next((i for i, line in enumerate(body_lines) if line.text), None)
    previous: _Landmark | None = None
    for mark in _landmarks(body_lines):
        if previous is None and mark.start == opening and not isinstance(mark, _Wrote):
            return _thread("the forwarded message is itself a forward: it opens with a forward header")
        if isinstance(mark, _Wrote) or mark.depth > 0:
            return None  # quoted history from here on: part of the contact's reply
        if isinstance(mark, _Separator) and mark.kind == "original":
            return None
        if isinstance(mark, _Header) and not isinstance(previous, _Separator):
            return None  # Outlook's From/Sent block of the original below a reply
        if isinstance(mark, _Separator) and mark.kind == "forward":
            return _thread("the message holds more than one forwarded message: forward one reply at a time")
        previous = mark
    return None


def inspect_raw(data: bytes) -> Forwarded | Rejected:
    """`crmlog forwards parse`: what the forward path finds in one raw message, with no
    database (FWD-3's "written by a user" means written by the sender of the forward). Text
    that is not a message at all is read as a pasted body."""
    try:
        message = parse(data)
    except ParseError:
        message = Message(identity="", message_id="", date=None, subject="", sender=None,
                          text=data.decode("utf-8", "replace"))
    return find_forward(message, forwarder=message.sender.email if message.sender else "")
