"""The landmarks of a forward's text (FWD-1), found line by line in every language of
`forward_layouts`, `>`-quoted or not:

- separator lines (`---------- Forwarded message ---------`, `-----Original Message-----`,
  `Begin forwarded message:`, an underscore rule, ...),
- header blocks (a From line next to Date/Sent, Subject or To lines, in any order),
- "On DATE, NAME <ADDR> wrote:" lines.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from .forward_layouts import BCC, CC, DATE, FROM, LANGUAGES, REPLY_TO, SENT, SEPARATORS, SUBJECT, TO
from .forward_values import EMAIL, alternation

MAX_SCAN_CHARS = 300_000  # landmarks are looked for this far into a text (the body is kept whole)
MAX_LINE_CHARS = 2_000  # longer lines are body text, never a header or separator
BLOCK_GAP = 1  # blank lines allowed between two header lines of one block
HEADER_LOOKAHEAD = 4  # non-blank lines between a separator and its header block


_ALL_LABELS = {
    (lang.code, field, label) for lang in LANGUAGES for field, labels in lang.labels.items() for label in labels
}
_FIELD_OF_LABEL = {label.casefold(): field for _, field, label in sorted(_ALL_LABELS)}
LANGS_OF_LABEL = {
    folded: tuple(sorted({code for code, _, label in _ALL_LABELS if label.casefold() == folded}))
    for folded in _FIELD_OF_LABEL
}

_LABEL_LINE = re.compile(
    r"^[*_]{0,2}(?P<label>"
    + alternation({label for _, _, label in _ALL_LABELS})
    + r")[*_]{0,2}\s*[:：][*_]{0,2}[ \t\u3000]*(?P<value>.*)$",
    re.I,
)

_PHRASES = {
    "forwarded": alternation({p for lg in LANGUAGES for p in lg.forwarded}),
    "original": alternation({p for lg in LANGUAGES for p in lg.original}),
    "begin": alternation({p for lg in LANGUAGES for p in lg.begin}),
}
_SEPARATORS = tuple(
    (
        s.client,
        s.kind,
        re.compile(
            r"^[*_]{0,2}" + re.sub(r"\{([a-z]+)\}", lambda m: f"(?:{_PHRASES[m.group(1)]})", s.pattern) + r"[*_]{0,2}$",
            re.I,
        ),
    )
    for s in SEPARATORS
)

_INLINE_SEPARATOR = re.compile(
    r"^(?P<sep>-{3,}\s*(?:" + _PHRASES["forwarded"] + "|" + _PHRASES["original"] + r")\s*-{3,})\s*\S.*[:：]", re.I
)
_LABEL_ANYWHERE = re.compile(r"(?:" + alternation({label for _, _, label in _ALL_LABELS}) + r")\s*[:：]", re.I)

# Bounded repeats: a wrote line is short, and unbounded lazy parts backtrack badly on long
# lines that merely contain an address and end in a colon.
_WHO = r"(?P<who>[^:<>\[\]\n]{0,80}?\s*[<\[(]?(?:mailto:)?" + EMAIL + r"[>\])]?)"
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

_QUOTE = re.compile(r"^((?:[ \t]?>)+)[ \t]?")
INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)


@dataclass(frozen=True, slots=True)
class Line:
    depth: int  # how many '>' quote levels
    text: str  # without the quote marks, stripped: what landmarks are matched on
    raw: str  # without the quote marks, indentation kept: what the body is made of


@dataclass(frozen=True, slots=True)
class Separator:
    start: int
    client: str
    kind: str  # forward | original
    depth: int


@dataclass(frozen=True, slots=True)
class Header:
    start: int
    end: int  # first line after the block
    depth: int
    fields: dict[str, str]
    labels: tuple[str, ...]
    sent: bool  # the date came under a "Sent:" label


@dataclass(frozen=True, slots=True)
class Wrote:
    start: int
    end: int
    depth: int
    date: str
    who: str
    language: str


Landmark = Separator | Header | Wrote


def lines_of(text: str) -> list[Line]:
    out: list[Line] = []
    for raw in text.splitlines():
        m = _QUOTE.match(raw)
        depth = m.group(1).count(">") if m else 0
        rest = (raw[m.end() :] if m else raw).rstrip()
        if depth == 0 and _INLINE_SEPARATOR.match(rest.strip()):
            # Yahoo's text part runs the separator and the whole header block into one line
            out.extend(Line(0, part.strip(), part) for part in _split_run_on(rest.strip()))
            continue
        out.append(Line(depth, rest.strip(), rest))
    return out


def _split_run_on(line: str) -> list[str]:
    m = _INLINE_SEPARATOR.match(line)
    assert m is not None
    head, rest = line[: m.end("sep")], line[m.end("sep") :].strip()
    cuts = [x.start() for x in _LABEL_ANYWHERE.finditer(rest)]
    if not cuts or cuts[0] != 0:
        return [line]
    return [head, *(rest[a:b] for a, b in zip(cuts, [*cuts[1:], len(rest)], strict=True))]


def _separator(line: Line) -> tuple[str, str] | None:
    text = line.text
    if not text or len(text) > 200 or (text[0] not in "-_=*" and not text[0].isalpha()):
        return None  # every separator starts with a rule or a word
    for client, kind, pattern in _SEPARATORS:
        if pattern.match(line.text):
            return client, kind
    return None


def _label(line: Line) -> tuple[str, str, str] | None:
    if not line.text or len(line.text) > MAX_LINE_CHARS:
        return None
    m = _LABEL_LINE.match(line.text)
    if not m:
        return None
    label = m.group("label")
    return _FIELD_OF_LABEL[label.casefold()], label, m.group("value").strip()


def _header_at(lines: list[Line], i: int) -> Header | None:
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
        return Header(i, j, depth, fields, tuple(labels), sent)
    return None


def _wrote_at(lines: list[Line], i: int) -> Wrote | None:
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
        and not (
            _could_be_wrote(after.text) and _match_wrote(after.text, i + 1, i + 2, after.depth)
        )  # not one by itself
    ):
        joined = line.text + " " + after.text
        if _could_be_wrote(joined):
            return _match_wrote(joined, i, i + 2, line.depth)
    return None


def _could_be_wrote(text: str) -> bool:
    """Cheap tests first: a wrote line ends in a colon, names an address and has a date."""
    return 8 < len(text) <= 400 and text.endswith((":", "：")) and "@" in text and any(c.isdigit() for c in text)


def _match_wrote(text: str, start: int, end: int, depth: int) -> Wrote | None:
    for code, pattern in _WROTE:
        m = pattern.match(text)
        if m:
            return Wrote(start, end, depth, m.group("date").strip(" ,，"), m.group("who"), code)
    return None


def landmarks(lines: list[Line]) -> Iterator[Landmark]:
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
            yield Separator(i, sep[0], sep[1], line.depth)
            i += 1
            continue
        mark = _header_at(lines, i) or _wrote_at(lines, i)
        if mark is not None:
            yield mark
            i = mark.end
            continue
        i += 1
