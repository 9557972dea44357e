"""Imports point one way: the import-linter contracts in pyproject.toml hold, and no import
cycle exists between modules or between bot/'s subpackages, so a new one fails `make test`."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
from importlinter import configuration
from importlinter.application.use_cases import lint_imports

configuration.configure()  # what import-linter's own entry points do first

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "handlers", "nlp", "playbooks", "db")


def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def cycles(edges: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected groups of two or more nodes (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(edges.get(target, ())))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        found.append(frozenset(group))
    return found


def test_cycles_finds_a_loop_and_leaves_a_chain_alone():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [frozenset("abc")]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_the_import_contracts_in_pyproject_hold(capsys):
    kept = lint_imports(str(ROOT / "pyproject.toml"), cache_dir=None, no_logo=True)
    assert kept, capsys.readouterr().out


def test_no_import_cycle_between_modules():
    imports = graph()
    edges = {m: set(imports.find_modules_directly_imported_by(m)) for m in imports.modules}
    assert [sorted(cycle) for cycle in cycles(edges)] == []


def test_no_import_cycle_between_bot_subpackages_and_flat_modules():
    imports = graph()
    parts = sorted(imports.find_children("bot"))
    edges = {
        part: {
            other
            for other in parts
            if other != part
            and imports.direct_import_exists(importer=part, imported=other, as_packages=True)
        }
        for part in parts
    }
    assert cycles(edges) == []


def test_every_part_of_bot_says_what_it_owns_in_a_one_line_docstring():
    bot = ROOT / "bot"
    parts = [*bot.glob("*.py"), *bot.glob("*/__init__.py")]
    unsaid = []
    for path in sorted(parts):
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        first = docstring.splitlines()[0] if docstring else ""
        if not first.rstrip().endswith((".", ".)")) or len(first) > 100:
            unsaid.append(f"{path.relative_to(ROOT)}: {first!r}")
    assert unsaid == []
