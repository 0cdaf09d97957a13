"""The command-line manual, generated from the Click commands themselves: docs/cli.md (every
command and sub-command with its usage line, help text and options) and one man page per
command (crmlog.1, crmlog-ingest.1, crmlog-users-add.1, ... written by click-man).

    python -m crmlog.cli.manual --markdown docs/cli.md --man man/

Run it after adding or changing a command or an option and commit what it writes;
tests/test_manual.py fails while the committed files differ from what it generates. The output
depends on the commands alone: no date, no terminal width, the commands in the order `--help`
lists them. click-man is a development dependency (the `test` and `dev` extras): only the man
pages need it, and it is imported when they are generated."""

from __future__ import annotations

import argparse
import copy
import importlib.metadata
import inspect
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import click

from .app import main

PROGRAM = "crmlog"
REGENERATE = "python -m crmlog.cli.manual --markdown docs/cli.md --man man/"
_NO_DATE = "@NO-DATE@"  # handed to click-man as the date, then taken out of the .TH line


def walk(root: click.Command = main, name: str = PROGRAM) -> Iterator[click.Context]:
    """Every command that `--help` shows, the root first, then depth first in `--help`'s
    order; each in a context whose parent is its group's, so that `ctx.command_path` is the
    whole command line (`crmlog users add`). A lazily loaded command is loaded through the
    group's own list_commands/get_command. `ctx.command` is a copy of the command: its help
    without the part after Click's `\\f`, and, for a group, `commands` holding exactly the
    visible sub-commands in that order (what click-man reads)."""
    yield from _walk(root, name, None)


def _walk(command: click.Command, name: str, parent: click.Context | None) -> Iterator[click.Context]:
    shown = copy.copy(command)
    shown.help = help_text(command)
    ctx = click.Context(shown, info_name=name, parent=parent)
    children: list[tuple[str, click.Command]] = []
    if isinstance(command, click.Group):
        for sub_name in command.list_commands(ctx):
            sub = command.get_command(ctx, sub_name)
            if sub is not None and not sub.hidden:
                children.append((sub_name, sub))
        assert isinstance(shown, click.Group)
        shown.commands = dict(children)
    yield ctx
    for sub_name, sub in children:
        yield from _walk(sub, sub_name, ctx)


def help_text(command: click.Command) -> str:
    """The help as `--help` shows it: dedented, without what follows `\\f`."""
    return inspect.cleandoc(command.help or "").partition("\f")[0].strip()


def usage(ctx: click.Context) -> str:
    """The usage line, never wrapped to a terminal's width."""
    return " ".join([ctx.command_path, *ctx.command.collect_usage_pieces(ctx)])


def options(ctx: click.Context) -> list[tuple[str, str]]:
    """(switches with metavar, help with Click's [default: ...] and the like) per visible
    option, in declaration order."""
    out = []
    for param in ctx.command.params:
        record = param.get_help_record(ctx) if isinstance(param, click.Option) else None
        if record is not None:
            out.append(record)
    return out


def anchor(ctx: click.Context) -> str:
    """The heading's anchor as GitHub and most Markdown renderers make it."""
    return ctx.command_path.lower().replace(" ", "-")


# ---------------------------------------------------------------- Markdown


def _prose(text: str) -> str:
    """Help text as Markdown that reads as `--help` prints it: what Markdown would take for
    emphasis, HTML or an escape is escaped, except inside `code` spans."""
    pieces = text.split("`")
    if len(pieces) % 2 == 0:  # an odd backtick: no code spans
        pieces = [text]
    for i in range(0, len(pieces), 2):
        pieces[i] = "".join("\\" + c if c in "\\*_<>" else c for c in pieces[i])
    return "`".join(pieces)


def _cell(text: str, code: bool = False) -> str:
    """One table cell: one line, its pipes escaped (inside a code span too, as tables need)."""
    text = " ".join(text.split())
    return (f"`{text}`" if code else _prose(text)).replace("|", "\\|")


def _paragraphs(text: str) -> list[str]:
    """Click's paragraphs as Markdown: one line each, except a paragraph marked `\\b`, whose
    lines Click prints as written: a text block."""
    out = []
    for block in text.split("\n\n"):
        lines = [line.rstrip() for line in block.strip("\n").splitlines()]
        if not lines:
            continue
        if lines[0].strip() == "\b":
            out.append("```text\n" + "\n".join(lines[1:]) + "\n```")
        else:
            out.append(_prose(" ".join(line.strip() for line in lines)))
    return out


def markdown(root: click.Command = main, name: str = PROGRAM) -> str:
    """docs/cli.md."""
    contexts = list(walk(root, name))
    parts = [
        f"# `{name}` command-line reference",
        f"<!-- Generated from the commands by `{REGENERATE}`: do not edit by hand. -->",
        "Every command takes `-h` / `--help`, which prints the same text. The options of the "
        f"root command (`--config`, `--db`, `--debug`) come before the command: `{name} --db crm.json users list`. "
        "The rules cited in brackets (LIFE-6, SESSION, ...) are described in [rules.md](rules.md); "
        "shell completion is in [completion.md](completion.md).",
        "\n".join(
            f"{'  ' * (len(ctx.command_path.split()) - 1)}- [{ctx.command_path}](#{anchor(ctx)})" for ctx in contexts
        ),
    ]
    for ctx in contexts:
        command = ctx.command
        parts.append(f"## {ctx.command_path}")
        parts.append(f"```text\n{usage(ctx)}\n```")
        parts.extend(_paragraphs(command.help or ""))
        if command.deprecated:
            parts.append("*Deprecated.*")
        opts = options(ctx)
        if opts:
            rows = "\n".join(f"| {_cell(switches, code=True)} | {_cell(text)} |" for switches, text in opts)
            parts.append(f"Options:\n\n| option | description |\n|---|---|\n{rows}")
        if isinstance(command, click.Group) and command.commands:
            rows = "\n".join(
                f"| [`{sub_name}`](#{anchor(ctx)}-{sub_name.lower()}) | {_cell(sub.get_short_help_str(limit=200))} |"
                for sub_name, sub in command.commands.items()
            )
            parts.append(f"Commands:\n\n| command | what it does |\n|---|---|\n{rows}")
    return "\n\n".join(parts) + "\n"


# ---------------------------------------------------------------- man pages


def version() -> str:
    try:
        return importlib.metadata.version(PROGRAM)
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that is not installed
        return ""


def _groff(text: str | None) -> str | None:
    """Help text as groff reads it literally (click-man copies it as it is): a backslash is
    `\\e`, a line that starts with a dot or a quote is not taken for a request, and a
    paragraph marked with Click's `\\b` keeps its lines (no-fill)."""
    if not text:
        return text
    out = []
    for block in text.split("\n\n"):
        lines = block.replace("\\", "\\e").split("\n")
        lines = ["\\&" + line if line.startswith((".", "'")) else line for line in lines]
        if lines[0].strip() == "\b":
            lines = [".nf", *lines[1:], ".fi"]
        out.append("\n".join(lines))
    return "\n\n".join(out)


def _for_groff(ctx: click.Context) -> click.Context:
    """The context with copies of its command, options and sub-commands whose help texts are
    escaped for groff."""

    def escaped(command: click.Command) -> click.Command:
        out = copy.copy(command)
        # the short help (NAME, COMMANDS) made by Click itself: its first sentence, where
        # click-man would cut it at 45 characters with a helper that Click deprecates
        out.help, out.short_help = _groff(command.help), _groff(command.get_short_help_str(limit=120))
        return out

    command = escaped(ctx.command)
    command.params = []
    for original in ctx.command.params:
        param = copy.copy(original)
        if isinstance(param, click.Option):
            param.help = _groff(param.help)
        command.params.append(param)
    if isinstance(command, click.Group):
        command.commands = {sub_name: escaped(sub) for sub_name, sub in command.commands.items()}
    return click.Context(command, info_name=ctx.info_name, parent=ctx.parent)


def man_pages(root: click.Command = main, name: str = PROGRAM) -> dict[str, str]:
    """File name -> groff text, one page per command in click-man's style and naming
    (`crmlog-users-add.1`), with no date in the .TH line."""
    from click_man.core import generate_man_page

    pages = {}
    for ctx in walk(root, name):
        page = generate_man_page(_for_groff(ctx), version=version(), date=_NO_DATE)
        assert isinstance(page, str) and page.count(f'"{_NO_DATE}"') == 1, "click-man changed its .TH line"
        page = page.replace(f'"{_NO_DATE}"', '""')
        # click-man refers to a sub-command's page as `crmlog users-add(1)`: the page is crmlog-users-add
        page_name = ctx.command_path.replace(" ", "-")
        page = page.replace(f"\\fB{ctx.command_path}-", f"\\fB{page_name}-")
        pages[page_name + ".1"] = page
    return pages


# ---------------------------------------------------------------- writing


def write_markdown(path: Path, root: click.Command = main) -> bool:
    """Write docs/cli.md; True if it changed."""
    text = markdown(root)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True


def write_man_pages(directory: Path, root: click.Command = main) -> list[str]:
    """Write the man pages into `directory` and remove the pages of commands that are gone
    (`crmlog*.1` files only); the names of the files written or removed."""
    pages = man_pages(root)
    directory.mkdir(parents=True, exist_ok=True)
    changed = []
    for file_name, text in pages.items():
        path = directory / file_name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(file_name)
    for path in sorted(directory.glob(f"{PROGRAM}*.1")):
        if path.name not in pages:
            path.unlink()
            changed.append(path.name)
    return changed


def stale(markdown_path: Path | None, man_dir: Path | None, root: click.Command = main) -> list[str]:
    """The files that differ from what would be generated (missing, changed or left over)."""
    out = []
    if markdown_path is not None:
        if not markdown_path.is_file() or markdown_path.read_text(encoding="utf-8") != markdown(root):
            out.append(str(markdown_path))
    if man_dir is not None:
        pages = man_pages(root)
        for file_name, text in pages.items():
            path = man_dir / file_name
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                out.append(str(path))
        out += [str(p) for p in sorted(man_dir.glob(f"{PROGRAM}*.1")) if p.name not in pages]
    return out


def run(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m crmlog.cli.manual",
        description="Generate crmlog's command-line reference (Markdown) and man pages from the Click commands.",
    )
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="write the Markdown reference here")
    parser.add_argument("--man", type=Path, metavar="DIR", help="write one man page per command into this directory")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file is out of date")
    args = parser.parse_args(argv)
    if args.markdown is None and args.man is None:
        parser.error("give --markdown FILE, --man DIR or both")
    if args.check:
        out_of_date = stale(args.markdown, args.man)
        for path in out_of_date:
            sys.stderr.write(f"out of date: {path}\n")
        if out_of_date:
            sys.stderr.write(f"run: {REGENERATE}\n")
        return 1 if out_of_date else 0
    if args.markdown is not None and write_markdown(args.markdown):
        sys.stdout.write(f"wrote {args.markdown}\n")
    if args.man is not None:
        for file_name in write_man_pages(args.man):
            sys.stdout.write(f"updated {args.man / file_name}\n")
    return 0


if __name__ == "__main__":
    sys.exit(run())
