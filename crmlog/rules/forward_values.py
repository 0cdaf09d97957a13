"""The values of a forward's header block, read as mail clients write them in every language
of `forward_layouts`: addresses, dates (to ISO 8601), and the reply and forward prefixes of
a subject. Pure: no I/O, no clock."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from functools import lru_cache
from types import ModuleType

from ..model import Address, normalize_email
from .forward_layouts import LANGUAGES


def alternation(phrases: set[str]) -> str:
    return "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in sorted(phrases, key=len, reverse=True))


EMAIL = r"[^\s<>\[\]():;,\"'`@]{1,64}@[^\s<>\[\]():;,\"'`@.]{1,63}(?:\.[^\s<>\[\]():;,\"'`@.]{1,63})+"
_EMAIL_RE = re.compile(EMAIL)
_FORWARD_PREFIXES = {p for lg in LANGUAGES for p in lg.subject_prefixes}
_PREFIX_RE = re.compile(
    r"^\s*[\[(]?(?:" + alternation(_FORWARD_PREFIXES | {p for lg in LANGUAGES for p in lg.reply_prefixes}) + r")"
    r"(?:\s?\[\d+\]|\s?\(\d+\))?\s*[:：][\])]?\s*",
    re.I,
)
_FORWARD_PREFIX_RE = re.compile(
    r"^\s*[\[(]?(?:" + alternation(_FORWARD_PREFIXES) + r")(?:\s?\[\d+\]|\s?\(\d+\))?\s*[:：]", re.I
)


def addresses(value: str) -> tuple[Address, ...]:
    """The addresses of a header value as mail clients print them: `Name <a@b>`,
    `Name [mailto:a@b]`, `a@b`, `"Last, First" <a@b>`, Outlook's `;` lists, names alone."""
    value = re.sub(r"\[mailto:([^\]]*)\]", r"<\1>", value, flags=re.I)
    value = re.sub(r"<?(" + EMAIL + r")>?\s*<mailto:\1>", r"<\1>", value, flags=re.I)
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


# A forwarded date reads the same whenever it is read: dateparser never consults the clock.
_DATEPARSER_SETTINGS = {
    "PARSERS": ["absolute-time"],  # never "yesterday" or "vor 2 Stunden": kept as written
    "REQUIRE_PARTS": ["day", "month", "year"],  # never a year or a day filled in: kept as written
    "PREFER_DAY_OF_MONTH": "first",
    # the "now" dateparser fills missing parts from (the date is then refused above) and
    # compares a two-digit year with (only to move it under another PREFER_DATES_FROM): fixed,
    # instead of the clock it reads otherwise
    "RELATIVE_BASE": datetime(2000, 1, 1),
}


_ALL_LANGUAGES = tuple(lang.code for lang in LANGUAGES)
_GMT_OFFSET = re.compile(r"[(\[]?\b(?:GMT|UTC)\s?([+-])(\d{1,2}):?(\d{2})?[)\]]?")


_JA_WEEKDAY = re.compile(r"(日)\s*[(（]?[月火水木金土日]曜日?[)）]?")
_RFC5322_DATE = re.compile(
    r"^(?:[A-Z][a-z]{2},\s*)?\d{1,2}\s+[A-Z][a-z]{2}\s+\d{2,4}\s+\d{1,2}:\d{2}(?::\d{2})?\s*(?:[+-]\d{4}|[A-Z]{1,5})?(?:\s*\(.*\))?$"
)


@lru_cache(maxsize=1)
def _dateparser() -> ModuleType:
    import dateparser  # loads its language data: only when a forward needs a date read
    import dateparser.timezone_parser

    module: ModuleType = dateparser  # untyped: its functions return Any
    return module


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
        bare = (value[: zone.start()] + " " + value[zone.end() :]).strip() if zone else value
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
        return parsed.astimezone(UTC).isoformat()
    return parsed.isoformat()


def _read_date(value: str, languages: tuple[str, ...]) -> datetime | None:
    try:
        parsed: datetime | None = _dateparser().parse(value, languages=list(languages), settings=_DATEPARSER_SETTINGS)
    except Exception:  # dateparser raises on odd input (overflow, bad offsets)
        return None
    return parsed


def strip_prefixes(subject: str) -> str:
    """A subject without its leading forward and reply prefixes (`Fwd: Re: WG: x` -> `x`)."""
    while True:
        m = _PREFIX_RE.match(subject)
        if not m or m.end() == 0:
            return subject.strip()
        subject = subject[m.end() :]


def is_forward_subject(subject: str) -> bool:
    return _FORWARD_PREFIX_RE.match(subject) is not None
