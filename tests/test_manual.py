"""The user's documentation stays true to the commands: docs/cli.md and man/*.1 are what the
generator (crmlog/cli/manual.py) makes of the commands as they are now, every command is in
both, and shell completion (docs/completion.md) works for the installed `crmlog`."""

from __future__ import annotations

import difflib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from crmlog.cli import main, manual

ROOT = Path(__file__).resolve().parent.parent
CLI_MD = ROOT / "docs" / "cli.md"
MAN_DIR = ROOT / "man"
HOW = f"the commands changed: run `{manual.REGENERATE}` and commit docs/cli.md and man/"


def command_paths(group: click.Group = main, prefix: str = "crmlog") -> list[str]:
    """Every visible command and sub-command, found the way `--help` finds them (the root
    group loads its commands lazily), independently of the generator."""
    ctx = click.Context(group)
    out = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        out.append(f"{prefix} {name}")
        if isinstance(command, click.Group):
            out += command_paths(command, f"{prefix} {name}")
    return out


def diff(committed: str, generated: str, name: str) -> str:
    lines = list(
        difflib.unified_diff(
            committed.splitlines(), generated.splitlines(), f"{name} (committed)", f"{name} (generated)", lineterm=""
        )
    )
    shown = "\n".join(lines[:60]) + (f"\n... {len(lines) - 60} more diff lines" if len(lines) > 60 else "")
    return f"{HOW}\n{shown}"


def test_the_walk_finds_every_command():
    paths = [ctx.command_path for ctx in manual.walk()]
    assert paths == ["crmlog", *command_paths()]
    assert {"crmlog ingest", "crmlog users", "crmlog users add"} <= set(paths)
    assert len(paths) == len(set(paths))


def test_docs_cli_md_is_what_the_generator_makes():
    committed = CLI_MD.read_text(encoding="utf-8") if CLI_MD.is_file() else ""
    generated = manual.markdown()
    if committed != generated:
        pytest.fail(diff(committed, generated, "docs/cli.md"), pytrace=False)


def test_every_command_has_a_section_in_docs_cli_md():
    text = CLI_MD.read_text(encoding="utf-8")
    missing = [path for path in ["crmlog", *command_paths()] if f"\n## {path}\n" not in text]
    assert missing == [], f"{HOW}\nno section for: {', '.join(missing)}"
    for path in ("crmlog ingest", "crmlog users add"):
        assert f"\n## {path}\n" in text and f"\n{path} [OPTIONS]" in text


def test_the_markdown_shows_options_with_their_help():
    text = manual.markdown()
    ingest = main.get_command(click.Context(main), "ingest")
    assert ingest is not None
    reprocess = next(p for p in ingest.params if isinstance(p, click.Option) and p.name == "reprocess")
    assert reprocess.help and f"| `--reprocess` | {manual._cell(reprocess.help)} |" in text
    assert "`--seat [full\\|read-only]`" in text  # a pipe in a table cell is escaped, in code too
    assert "Traceback" not in text and "\f" not in text


def test_the_man_pages_are_what_the_generator_makes():
    pytest.importorskip("click_man", reason="click-man is in the test and dev extras: pip install -e '.[dev]'")
    generated = manual.man_pages()
    committed = {path.name: path.read_text(encoding="utf-8") for path in sorted(MAN_DIR.glob("crmlog*.1"))}
    missing = sorted(set(generated) - set(committed))
    extra = sorted(set(committed) - set(generated))
    assert not missing and not extra, f"{HOW}\nmissing in man/: {missing}\nno such command any more: {extra}"
    changed = [name for name in generated if generated[name] != committed[name]]
    if changed:
        first = changed[0]
        pytest.fail(
            f"out of date: {', '.join(changed)}\n" + diff(committed[first], generated[first], f"man/{first}"),
            pytrace=False,
        )


def test_one_man_page_per_command_without_a_date():
    pytest.importorskip("click_man", reason="click-man is in the test and dev extras: pip install -e '.[dev]'")
    pages = manual.man_pages()
    assert set(pages) == {path.replace(" ", "-") + ".1" for path in ["crmlog", *command_paths()]}
    assert {"crmlog.1", "crmlog-ingest.1", "crmlog-users-add.1"} <= set(pages)
    for name, page in pages.items():
        title = page.splitlines()[0]
        assert title.startswith('.TH "CRMLOG') and ' "1" "" ' in title, (name, title)
    assert "\\fB\\-\\-reprocess\\fP" in pages["crmlog-ingest.1"]
    assert "crmlog\\-users\\-add" in pages["crmlog-users-add.1"]
    assert "See \\fBcrmlog-users-add(1)\\fP" in pages["crmlog-users.1"]  # the page's own name


def test_help_text_cannot_break_the_markup():
    @click.group()
    def tool() -> None:
        """Top."""

    @tool.command()
    @click.option("--pattern", help="A glob like *.eml, or <ADDR>; a backslash \\x1b stays.")
    def run(pattern: str) -> None:
        """Runs.

        .starts with a dot, 'and a quote; a `code_span` | with a pipe.

        \b
          one
          two

        \f
        Not shown."""

    text = manual.markdown(tool, "tool")
    assert "## tool run\n" in text and "Not shown" not in text
    assert "A glob like \\*.eml, or \\<ADDR\\>; a backslash \\\\x1b stays." in text
    assert ".starts with a dot, 'and a quote; a `code_span` | with a pipe." in text
    assert "```text\n  one\n  two\n```" in text
    pytest.importorskip("click_man", reason="click-man is in the test and dev extras")
    page = manual.man_pages(tool, "tool")["tool-run.1"]
    assert "\\&.starts with a dot" in page and "\\ex1b" in page and "Not shown" not in page
    assert ".nf\n  one\n  two\n.fi" in page and "\b" not in page


def test_the_check_mode_reports_what_is_out_of_date(tmp_path, capsys):
    pytest.importorskip("click_man", reason="click-man is in the test and dev extras")
    md, man = tmp_path / "cli.md", tmp_path / "man"
    assert manual.run(["--markdown", str(md), "--man", str(man)]) == 0
    assert manual.run(["--check", "--markdown", str(md), "--man", str(man)]) == 0
    (man / "crmlog-gone.1").write_text("old\n")
    md.write_text("old\n")
    capsys.readouterr()
    assert manual.run(["--check", "--markdown", str(md), "--man", str(man)]) == 1
    err = capsys.readouterr().err
    assert "cli.md" in err and "crmlog-gone.1" in err and manual.REGENERATE in err
    manual.run(["--markdown", str(md), "--man", str(man)])  # a regenerate removes the page of a command gone
    assert not (man / "crmlog-gone.1").exists()


def crmlog_executable() -> str:
    found = shutil.which("crmlog", path=str(Path(sys.executable).parent)) or shutil.which("crmlog")
    if found is None:
        pytest.skip("no installed crmlog script (pip install -e .)")
    return found


@pytest.mark.parametrize("shell, marker", [("bash", "complete -o nosort -F"), ("zsh", "compdef"), ("fish", "complete")])
def test_shell_completion_scripts(shell, marker):
    """docs/completion.md: `_CRMLOG_COMPLETE=<shell>_source crmlog` prints a completion script."""
    env = {**os.environ, "_CRMLOG_COMPLETE": f"{shell}_source"}
    done = subprocess.run([crmlog_executable()], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert marker in done.stdout and "_CRMLOG_COMPLETE" in done.stdout
    assert "crmlog" in done.stdout


def test_bash_completion_completes_commands_and_options(tmp_path):
    """docs/completion.md's bash set-up for real: the script, sourced in bash, completes a
    command and an option as the user types them."""
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash on this machine")
    executable = crmlog_executable()
    env = {**os.environ, "_CRMLOG_COMPLETE": "bash_source"}
    script = subprocess.run([executable], env=env, capture_output=True, text=True, timeout=60, check=True).stdout
    (tmp_path / "crmlog-complete.bash").write_text(script)
    typed = [("crmlog inges", 1), ("crmlog ingest --repro", 2)]
    lines = ["source ./crmlog-complete.bash", "complete -p crmlog"]
    for words, cword in typed:
        lines += [
            f"COMP_WORDS=({words}); COMP_CWORD={cword}; COMPREPLY=()",
            "_crmlog_completion crmlog",
            'echo "${COMPREPLY[*]}"',
        ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("_CRMLOG")}
    env["PATH"] = f"{Path(executable).parent}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        [bash, "--norc", "--noprofile", "-c", "\n".join(lines)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["complete -o nosort -F _crmlog_completion crmlog", "ingest", "--reprocess"]


RULES_MD = ROOT / "docs" / "rules.md"
RULE_ID = re.compile(r"\b(?:ADDR|ATTR|PERM|BCC|FWD|COMP|LIFE|LIM|ONCE|REJ|SEC)-(?:\d+f?|T)\b|\bSESSION\b")


def headings(text: str) -> set[str]:
    """The anchors GitHub makes of a Markdown file's headings."""
    out = set()
    for line in text.splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            out.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return out


def test_every_rule_has_its_own_heading_in_docs_rules_md():
    """docs/rules.md#bcc-2 works for each rule, those listed and every one the code cites."""
    text = RULES_MD.read_text(encoding="utf-8")
    listed = ["ADDR-1", "ATTR-T", "ATTR-6", "SESSION", "PERM-2", "BCC-5", "FWD-7", "COMP-1", "LIFE-8"]
    listed += ["LIM-3", "ONCE-1", "ONCE-1f", "ONCE-4", "REJ-2", "SEC-5"]
    cited = {m.group(0) for path in (ROOT / "crmlog").rglob("*.py") for m in RULE_ID.finditer(path.read_text())}
    missing = sorted(rule for rule in {*listed, *cited} if f"\n### {rule}\n" not in text)
    assert missing == [], f"docs/rules.md has no heading for {missing}"


def test_every_rejection_code_and_notice_kind_is_explained():
    from crmlog.model import Code

    text = RULES_MD.read_text(encoding="utf-8")
    missing = [code.value for code in Code if f"| `{code.value}` |" not in text]
    missing += [kind for kind in ("delivery-error", "unknown-deal") if f"| `{kind}` |" not in text]
    assert missing == [], f"add a row to the table of docs/rules.md#rejection-codes-and-notices for {missing}"


@pytest.mark.parametrize("name", ["rules.md", "completion.md", "cli.md"])
def test_the_links_within_the_docs_lead_somewhere(name):
    docs = ROOT / "docs"
    text = (docs / name).read_text(encoding="utf-8")
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith(("http://", "https://")):
            continue
        file_name, _, fragment = target.partition("#")
        linked = (docs / file_name) if file_name else docs / name
        if not linked.is_file() or (fragment and fragment not in headings(linked.read_text(encoding="utf-8"))):
            broken.append(target)
    assert broken == []
