"""SEC-5 through the real CLI as a process: text from a message or a configuration is shown
as written, never read as markup, and never passes a control character on to the terminal;
`--json` keeps it exactly. Each view runs twice: in a pipe and on a pseudo-terminal."""

from __future__ import annotations

import base64
import json
import re
import unicodedata
import urllib.parse

import pytest
from conftest import Cli, eml, make_maildir
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from crmlog.cli import main

OURS = "anna@ourco.example"
RICK = "rick@acme.example"

MARKUP_SUBJECT = "Q1 notes [/] final"
EXT_SUBJECT = "[ext] Pricing"
LINK_SUBJECT = "see [link=https://evil.example]the offer[/link] [bold]now"
MARKUP_NAME = "Rick [red]Sanchez[/red]"
# ESC colour, an OSC 8 hyperlink, BEL, backspace, a bare CR and a right-to-left override
CONTROL_SUBJECT = (
    "pay \x1b[31mnow\x1b[0m \x1b]8;;https://evil.example\x1b\\here\x1b]8;;\x1b\\ \x07\x08x\rover \u202etxt.exe"
)
CONTROL_NAME = "Rick \x1b[2J\u202eSanchez\x07"
CONTROL_FILENAME = "invoice\x1b]8;;https://evil.example\x07\u202efdp.exe"

RICH_STYLE = re.compile(r"\x1b\[[0-9;]*m")  # rich's own colours and bold


def unsafe(ch: str) -> bool:
    """What SEC-5 keeps from a terminal, by Unicode's own categories (the README's words,
    written out here apart from the code under test): controls (Cc), format characters (Cf)
    but the zero-width joiner and non-joiner, line and paragraph separators, surrogates."""
    category = unicodedata.category(ch)
    return category in ("Cc", "Zl", "Zp", "Cs") or (category == "Cf" and ch not in "\u200c\u200d")


def raw_controls(out: str) -> list[str]:
    """The characters of `out` a terminal would act on, but for the line feed and tab."""
    return [ch for ch in out if unsafe(ch) and ch not in "\n\t"]


def escaped(text: str) -> str:
    """How SEC-5 shows `text` on one line: `\\xNN`, `\\uNNNN`, `\\UNNNNNNNN`."""

    def one(ch: str) -> str:
        code = ord(ch)
        if not unsafe(ch):
            return ch
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"

    return "".join(map(one, text))


def terminal_text(raw: str) -> str:
    """What a terminal shows, for assertions: rich's own styles removed, the terminal's
    CR LF line ends made LF. A control character still in it came from the data."""
    return RICH_STYLE.sub("", raw).replace("\r\n", "\n")


def raw_message(subject: str, to: str, *, message_id: str, filename: str | None = None) -> bytes:
    """A BCC'd message with header values written raw (8-bit), as a hostile sender can; the
    subject as an RFC 2047 encoded word (a bare CR would end a raw header line)."""
    encoded = "=?utf-8?b?" + base64.b64encode(subject.encode()).decode() + "?="
    head = (
        f"From: Anna <{OURS}>\r\nTo: {to}\r\nBcc: log@crm.example.com\r\nSubject: {encoded}\r\n"
        f"Date: Mon, 01 Jun 2026 09:00:00 +0000\r\nMessage-ID: <{message_id}>\r\nMIME-Version: 1.0\r\n"
    )
    if filename is None:
        return (head + "Content-Type: text/plain; charset=utf-8\r\n\r\nHello [b]there[/b]\r\n").encode()
    return (
        head + "Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nsee attached\r\n--XX\r\n"
        f'Content-Type: application/pdf\r\nContent-Disposition: attachment; filename="{filename}"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--XX--\r\n"
    ).encode()


@pytest.fixture
def hostile(team):
    """A CRM with e-mails whose subjects, contact names and file names carry markup and
    terminal control."""
    box = make_maildir(
        team.tmp / "Maildir",
        {
            "": [
                ("1.a:2,S", raw_message(MARKUP_SUBJECT, f'"{MARKUP_NAME}" <{RICK}>', message_id="m1@ourco.example")),
                ("2.a:2,S", raw_message(EXT_SUBJECT, RICK, message_id="m2@ourco.example")),
                ("3.a:2,S", raw_message(LINK_SUBJECT, RICK, message_id="m3@ourco.example")),
                (
                    "4.a:2,S",
                    raw_message(
                        CONTROL_SUBJECT,
                        f'"{CONTROL_NAME}" <zoe@acme.example>',
                        message_id="m4@ourco.example",
                        filename=CONTROL_FILENAME,
                    ),
                ),
            ]
        },
    )
    result = team.process("ingest", box, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["logged"] == 4
    return team


VIEWS = [
    ("emails", "list"),
    ("emails", "show", "m1@ourco.example"),
    ("emails", "show", "m4@ourco.example"),
    ("contacts", "list"),
    ("contacts", "show", RICK),
    ("contacts", "show", "zoe@acme.example"),
    ("companies", "show", "acme.example"),
    ("attribution", "explain", "m4@ourco.example"),
]


def test_sec_5_json_and_the_store_keep_the_exact_text(hostile):
    emails = {e["message_id"]: e for e in hostile.json("emails", "list")}
    assert emails["m1@ourco.example"]["subject"] == MARKUP_SUBJECT
    assert emails["m4@ourco.example"]["subject"] == CONTROL_SUBJECT
    assert [a["filename"] for a in emails["m4@ourco.example"]["attachments"]] == [CONTROL_FILENAME]
    names = {c["email"]: c["name"] for c in hostile.json("contacts", "list")}
    assert names == {RICK: MARKUP_NAME, "zoe@acme.example": CONTROL_NAME}


def shown_by(cli, view, where: str) -> tuple[int, str, str]:
    """Run a view as a process with stdout and stderr in a pipe or on a (wide) terminal: its
    exit status, what it showed (rich's styles removed), and the raw bytes as text."""
    if where == "pipe":
        result = cli.process(*view)
        return result.returncode, result.stdout + result.stderr, result.stdout + result.stderr
    status, raw = cli.terminal(*view, columns=400)
    return status, terminal_text(raw), raw


@pytest.mark.parametrize("where", ["pipe", "terminal"])
def test_sec_5_markup_in_mail_text_is_shown_as_written(hostile, where):
    """`Q1 notes [/] final` made four views exit 1 with a MarkupError; `[ext]` vanished; a
    `[red]` name printed red; a `[link=...]` became a terminal hyperlink."""
    expected = {
        ("emails", "list"): [MARKUP_SUBJECT, EXT_SUBJECT, LINK_SUBJECT],
        ("emails", "show", "m1@ourco.example"): [MARKUP_SUBJECT, "Hello [b]there[/b]"],
        ("contacts", "list"): [MARKUP_NAME],
        ("contacts", "show", RICK): [MARKUP_NAME, MARKUP_SUBJECT, EXT_SUBJECT, LINK_SUBJECT],
        ("companies", "show", "acme.example"): [MARKUP_SUBJECT, EXT_SUBJECT, LINK_SUBJECT],
    }
    for view in VIEWS:
        status, out, raw = shown_by(hostile, view, where)
        assert status == 0, (view, out)
        assert "Traceback" not in out and "MarkupError" not in out
        assert "\x1b[31m" not in raw and "\x1b]8;" not in raw, (view, raw)  # no red, no hyperlink
        for text in expected.get(view, []):
            assert text in out, (view, text, out)


@pytest.mark.parametrize("where", ["pipe", "terminal"])
def test_sec_5_control_characters_are_shown_escaped(hostile, where):
    """ESC sequences, OSC 8, BEL, backspace, CR and U+202E in a subject, a name and an
    attachment's file name reach no terminal and no pipe as they are."""
    expected = {
        ("emails", "list"): [CONTROL_SUBJECT],
        ("emails", "show", "m4@ourco.example"): [CONTROL_SUBJECT, CONTROL_FILENAME],
        ("contacts", "list"): [CONTROL_NAME],
        ("contacts", "show", "zoe@acme.example"): [CONTROL_NAME, CONTROL_SUBJECT],
    }
    for view in VIEWS:
        status, out, raw = shown_by(hostile, view, where)
        assert status == 0, (view, out)
        assert not raw_controls(out), (view, raw_controls(out), out)
        for text in expected.get(view, []):
            assert escaped(text) in out, (view, escaped(text), out)
        # nor did the data's own colour sequences pass as rich's (stripped above)
        assert "\x1b[31mnow" not in raw and "\x1b[2J" not in raw, (view, raw)


def test_sec_5_json_escapes_what_a_terminal_would_act_on_and_keeps_the_text(hostile):
    """`--json` on a terminal: JSON itself escapes C0 controls only; DEL, C1 controls, the
    bidi controls and the line separators leave as \\u escapes, which read back exactly."""
    raw = hostile.process("emails", "show", "m4@ourco.example", "--json").stdout
    assert not raw_controls(raw)
    assert "\\u202e" in raw and "\\u001b" in raw
    assert json.loads(raw)["subject"] == CONTROL_SUBJECT
    assert json.loads(hostile.process("contacts", "list", "--json").stdout)[1]["name"] == CONTROL_NAME


def test_sec_5_clicks_own_errors_show_what_was_typed_escaped(hostile):
    """A file name a mail client saved from an attachment, given to `forwards parse`, came
    back raw in Click's `Invalid value` and `unexpected extra argument` messages."""
    named = hostile.tmp / "invoice\x1b]8;;evil.example\x07\u202efdp.eml"  # a file name: no slashes
    result = hostile.process("forwards", "parse", named)
    assert result.returncode == 2
    assert not raw_controls(result.stderr)
    assert escaped(str(named)) in result.stderr
    named.write_bytes(b"From: a@b.example\n\nx\n")
    result = hostile.process("forwards", "parse", named, named)
    assert result.returncode == 2 and "Got unexpected extra argument" in result.stderr
    assert not raw_controls(result.stderr) and "\\u202efdp.eml" in result.stderr


def test_sec_5_error_messages_show_text_as_written(hostile):
    """The error handler itself crashed on markup; a bracketed word in an error vanished."""
    result = hostile.process("emails", "show", "no[/]such@x")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "crmlog: no logged e-mail with id or Message-ID no[/]such@x\n"
    result = hostile.process("contacts", "show", "[red]x\x1b[2J@acme.example")
    assert result.returncode == 1
    assert result.stderr == "crmlog: no contact with e-mail [red]x\\x1b[2J@acme.example\n"
    status, raw = hostile.terminal("emails", "show", "[bold]gone[/bold]")
    assert status == 1 and "[bold]gone[/bold]" in terminal_text(raw)


def test_sec_5_config_errors_keep_their_bracketed_words(cli):
    """`unknown key 'forwrd' in ` ended there; `unknown section  (known: ...)` lost its name."""
    cli.write_config('[addresses]\nbcc = ["log@crm.example.com"]\nforwrd = ["fwd@crm.example.com"]\n')
    result = cli.process("ingest", cli.tmp)
    assert result.returncode == 78
    assert result.stderr.endswith("unknown key 'forwrd' in [addresses]\n"), result.stderr
    cli.write_config('[adresses]\nbcc = ["log@crm.example.com"]\n')
    result = cli.process("ingest", cli.tmp)
    assert result.returncode == 78
    assert "unknown section [adresses] (known: addresses, contacts, limits, notices, security)" in result.stderr
    status, raw = cli.terminal("ingest", cli.tmp)
    assert status == 78 and "unknown section [adresses] (known:" in terminal_text(raw)
    cli.write_config('[addresses]\nbcc = ["log@crm.example.com"]\n"x\\u001b]8;;http://evil\\u0007" = 1\n')
    result = cli.process("ingest", cli.tmp)
    assert result.returncode == 78 and "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert "unknown key 'x\\x1b]8;;http://evil\\x07' in [addresses]" in result.stderr


def test_sec_5_progress_display_shows_the_folder_as_text(team):
    """The progress display on a terminal names the folder it reads: brackets as written
    (`[Gmail]`), control characters escaped."""
    folder = "[Gmail]\x1b]8;;evil.example\x07 [bold]Sent"  # a file name: no slashes
    box = make_maildir(team.tmp / "Mail", {f".{folder}": [("1.a:2,S", raw_message("hi", RICK, message_id="p@x"))]})
    status, raw = team.terminal("ingest", box, columns=400)
    out = terminal_text(raw)
    assert status == 0, out
    assert "\x1b]8;" not in raw and "\x07" not in raw
    assert f"reading {box}/.[Gmail]\\x1b]8;;evil.example\\x07 [bold]Sent " in out.replace("\r", "\n")


# ------------------------------------------------------------------ any text at all

# Characters the property leans on, beside arbitrary ones: markup, escapes, and every kind of
# terminal control SEC-5 names.
NASTY = [
    *list("[]/\\=:@\"'"),
    "[/]",
    "[red]",
    "[link=https://x]",
    "\x1b",
    "\x1b[31m",
    "\x1b]8;;",
    "\x07",
    "\x08",
    "\r",
    "\n",
    "\t",
    "\x00",
    "\x7f",
    "\x9b",
    "\u202e",
    "\u2066",
    "\u2028",
]
ANY = st.text(st.characters(codec="utf-8"), max_size=6) | st.sampled_from(NASTY)
ATEXT = st.sampled_from(list("abcxyz019!#$%&'*=?^_`{|}~-[]/\\\"@ ()<>,;:."))


def _text(*, raw_header: bool = False) -> st.SearchStrategy[str]:
    """Arbitrary text, not empty, no white space at either end (header values are stripped);
    for a raw header value (a name) no CR, LF or NUL, which end the line."""
    text = st.lists(ANY, min_size=1, max_size=6).map("".join)
    text = text.filter(lambda t: t.strip() == t and t != "")
    if raw_header:
        text = text.filter(lambda t: not re.search(r"[\r\n\x00]", t))
    return text


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ew(value: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(value.encode()).decode() + "?="


def _property_message(subject: str, name: str, local: str, kept: str, dropped: str) -> bytes:
    """A BCC'd message from anna to a contact whose name and address are the drawn text,
    with a small attachment kept and a big one dropped (both named by the drawn text, RFC
    2231, so that any character survives the trip)."""

    def part(filename: str, size: int) -> str:
        return (
            "--XX\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Disposition: attachment; filename*=utf-8''{urllib.parse.quote(filename, safe='')}\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(b"x" * size).decode() + "\r\n"
        )

    return (
        f"From: Anna <{OURS}>\r\nTo: {_quoted(name)} <{_quoted(local)}@acme.example>\r\n"
        f"Bcc: log@crm.example.com\r\nSubject: {_ew(subject)}\r\nDate: Mon, 01 Jun 2026 09:00:00 +0000\r\n"
        "Message-ID: <prop@ourco.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
        "--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n"
        + part(kept, 10)
        + part(dropped, 200)
        + "--XX--\r\n"
    ).encode()


PROPERTY_EXAMPLES = 200
PROPERTY_VIEWS = [
    ("users", "list"),
    ("team-inboxes", "list"),
    ("deals", "list"),
    ("contacts", "list"),
    ("contacts", "show", None),
    ("companies", "list"),
    ("companies", "show", "acme.example"),
    ("emails", "list"),
    ("emails", "show", "1"),
    ("rejections",),
    ("notices",),
    ("attribution",),
    ("attribution", "explain", "prop@ourco.example"),
]


@hsettings(max_examples=PROPERTY_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    subject=_text(),
    name=_text(raw_header=True),
    local=st.lists(ATEXT, min_size=1, max_size=8).map("".join),
    kept=_text(),
    dropped=_text(),
    user_name=_text(),
    deal=_text(),
)
def test_sec_5_property_every_view_shows_any_text_literally(
    tmp_path_factory, subject, name, local, kept, dropped, user_name, deal
):
    """Whatever a message or a command line brings, in subjects, names, addresses and file
    names: every view exits 0, `--json` gives the exact text back, and the human output, in a
    pipe and on a terminal, shows it literally, control characters escaped."""
    cli = Cli(tmp_path_factory.mktemp("prop"))
    cli.write_config('[addresses]\nbcc = ["log@crm.example.com"]\n[limits]\nmax_attachment_bytes = 100\n')
    cli("users", "add", OURS, f"--name={user_name}", "--inbox", OURS)
    email = json.loads(
        cli(
            "ingest",
            make_maildir(
                cli.tmp / "M",
                {
                    "": [
                        ("1.a:2,S", _property_message(subject, name, local, kept, dropped)),
                        (
                            "2.a:2,S",
                            eml(
                                frm=f"{_quoted(local)}@stranger.example",
                                to=RICK,
                                bcc="log@crm.example.com",
                                subject="x",
                                message_id="<stranger@x>",
                            ),
                        ),
                    ]
                },
            ),
            "--json",
        ).stdout
    )
    assert (email["logged"], email["rejected"], email["notices"]) == (1, 1, 1), email
    (contact,) = cli.json("contacts", "list")
    cli("deals", "add", "--contact", contact["email"], "--", deal)

    # --json and the store keep the text as the parser read it (canonically equivalent, NFC,
    # as the header decoder gives it; a raw name's white-space controls read as spaces)
    (logged,) = cli.json("emails", "list")
    assert logged["subject"] == nfc(subject)
    assert [a["filename"] for a in logged["attachments"]] == [nfc(kept), nfc(dropped)]
    assert contact["name"] and contact["email"].endswith("@acme.example")
    # ... and exactly what came on the command line
    assert cli.json("users", "list")[0]["name"] == user_name and cli.json("deals", "list")[0]["name"] == deal
    (rejected,) = cli.json("rejections")
    (notice,) = cli.json("notices")
    expected = {
        ("users", "list"): [user_name],
        ("deals", "list"): [deal, contact["email"]],
        ("contacts", "list"): [contact["name"], contact["email"]],
        ("contacts", "show"): [contact["name"], contact["email"], logged["subject"], deal],
        ("companies", "show"): [contact["email"], logged["subject"]],
        ("emails", "list"): [logged["subject"], contact["email"]],
        ("emails", "show"): [logged["subject"], contact["email"], *(a["filename"] for a in logged["attachments"])],
        ("rejections",): [rejected["sender"], rejected["reason"]],
        ("notices",): [notice["detail"]],
    }
    for terminal in (False, True):
        env = {"TTY_COMPATIBLE": "1", "COLUMNS": "20000"} if terminal else {"TTY_COMPATIBLE": "0"}
        for view in PROPERTY_VIEWS:
            args = [a if a is not None else contact["email"] for a in view]
            result = cli.runner.invoke(main, ["--config", str(cli.config), "--db", str(cli.db), *args], env=env)
            assert result.exit_code == 0, (view, result.output, result.exception)
            out = terminal_text(result.stdout) if terminal else result.stdout
            assert not raw_controls(out), (view, out)
            assert out.startswith("# ") or terminal, out  # a piped listing starts with its title
            for text in expected.get(tuple(view[:2]) if len(view) > 1 else view, []):
                assert escaped(text) in out, (terminal, view, escaped(text), out)
            json_out = cli.runner.invoke(
                main, ["--config", str(cli.config), "--db", str(cli.db), *args, "--json"], env=env
            )
            assert not [ch for ch in json_out.stdout if unsafe(ch) and ch != "\n"], (view, json_out.stdout)
