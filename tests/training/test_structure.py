"""The training package's imports go one way: no circles, nothing below imports the Trainer."""

from __future__ import annotations

import ast
from pathlib import Path

import autoencoders.training

PACKAGE = Path(autoencoders.training.__file__).parent
PREFIX = "autoencoders.training."


def _imports(path: Path) -> set[str]:
    """Sibling modules ``path`` imports, at module level, in functions or under TYPE_CHECKING."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith(PREFIX):
                found.add(node.module[len(PREFIX) :].split(".")[0])
            elif node.module == "autoencoders.training":
                found.update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(PREFIX):
                    found.add(alias.name[len(PREFIX) :].split(".")[0])
    return found


def _graph() -> dict[str, set[str]]:
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    return {m: _imports(PACKAGE / f"{m}.py") & modules for m in modules}


def test_no_import_circles() -> None:
    graph = _graph()
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            assert state.get(nxt) != 1, "import circle: " + " -> ".join([*path, node, nxt])
            if nxt not in state:
                visit(nxt, [*path, node])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])


def test_only_the_package_imports_the_trainer() -> None:
    graph = _graph()
    assert [m for m, deps in graph.items() if "trainer" in deps] == []
    assert not any(PREFIX + "trainer" in (PACKAGE / f"{m}.py").read_text() for m in graph)


def test_files_stay_small() -> None:
    sizes = {p.name: len(p.read_text().splitlines()) for p in PACKAGE.glob("*.py")}
    assert max(sizes.values()) < 500, sizes
