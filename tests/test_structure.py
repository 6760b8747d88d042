"""The package's structure rules, checked from the source: the layers stay composable.

* no import circle between modules of ``src/autoencoders`` (module-level, function-local and
  ``TYPE_CHECKING`` imports all count; the implicit import of a parent package does not);
* no module takes an underscore name from another module of the library, by import or by
  attribute (``plots._records``): shared private helpers live in underscore modules made for
  them, such as ``autoencoders/_utils.py``;
* every import goes down the layers of :data:`LAYERS` (the table of docs/internals.rst);
* no file over 600 lines, and every file of the command line (``cli/``) under 400: the
  command line only parses, calls ``runs`` and prints;
* no module raises a bare built-in ``ValueError`` or ``TypeError``: every refusal is an
  :class:`autoencoders.errors.AutoencodersError` (still a ValueError or TypeError), as the
  README promises.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "autoencoders"
MAX_LINES = 600
MAX_CLI_LINES = 400
CLI = PACKAGE / "cli"

#: The parts of the package, lowest first; a part imports only from parts on a lower layer
#: (and from itself). The same table is on the documentation's Architecture page.
LAYERS: list[set[str]] = [
    {"errors", "_version"},
    {"registry", "_utils", "_inputs"},
    {"blocks", "data"},
    {"model", "losses", "noise"},
    {"zoo", "io", "metrics", "analytic"},
    {"training"},
    {"plots"},
    {"report"},
    {"runs"},
    {"cli"},
    {"__init__", "__main__"},
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _absolute(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not _is_package(module):
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str) -> list[tuple[str, str | None, int]]:
    """``(imported module, imported name or None, line)`` for every import in ``module``."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found: list[tuple[str, str | None, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, None, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(module, node)
            for a in node.names:
                sub = f"{target}.{a.name}"
                if sub in MODULES:  # ``from pkg import submodule``
                    found.append((sub, None, node.lineno))
                else:
                    found.append((target, a.name, node.lineno))
    return [(m, n, line) for m, n, line in found if m in MODULES and m != module]


GRAPH = {m: sorted({t for t, _, _ in _imports(m)}) for m in MODULES}


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in GRAPH:
        if v not in index:
            visit(v)
    return out


def test_the_module_graph_is_read() -> None:
    # guards the checks below against reading nothing
    assert "autoencoders.model" in GRAPH["autoencoders.io"]
    assert "autoencoders.registry" in GRAPH["autoencoders.zoo.factory"]
    assert len(MODULES) > 20


def test_no_import_circles() -> None:
    cycles = _cycles()
    described = [
        " <-> ".join(c)
        + ": "
        + "; ".join(f"{m} imports {', '.join(set(GRAPH[m]) & set(c))}" for m in c)
        for c in cycles
    ]
    assert not cycles, "import circles:\n" + "\n".join(described)


def _part(module: str) -> str:
    """``autoencoders.training.trainer`` -> ``training``; the package itself -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_part_has_a_layer() -> None:
    placed = set().union(*LAYERS)
    missing = sorted({_part(m) for m in MODULES} - placed)
    assert not missing, f"parts of the package with no layer in LAYERS: {missing}"


def test_imports_go_down_the_layers() -> None:
    layer = {part: i for i, parts in enumerate(LAYERS) for part in parts}
    bad = [
        f"{m} (layer {layer[_part(m)]}) imports {t} (layer {layer[_part(t)]})"
        for m, targets in GRAPH.items()
        for t in targets
        if _part(m) != _part(t) and layer[_part(t)] >= layer[_part(m)]
    ]
    assert not bad, "imports that do not go down the layers:\n" + "\n".join(bad)


def _private_uses(module: str) -> list[str]:
    bad = [
        f"{module}:{line} imports {name} from {target}"
        for target, name, line in _imports(module)
        if name and name.startswith("_") and not name.startswith("__")
    ]
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    aliases: dict[str, str] = {}  # local name -> library module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name in MODULES and a.asname:
                    aliases[a.asname] = a.name
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(module, node)
            for a in node.names:
                if f"{target}.{a.name}" in MODULES:
                    aliases[a.asname or a.name] = f"{target}.{a.name}"
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and aliases[node.value.id] != module
        ):
            bad.append(f"{module}:{node.lineno} uses {node.value.id}.{node.attr}")
    return bad


def test_no_module_takes_private_names_from_another() -> None:
    bad = [b for m in MODULES for b in _private_uses(m)]
    assert not bad, "private names used across modules:\n" + "\n".join(bad)


def _is_cli(path: Path) -> bool:
    """A file of the command line: ``cli.py``, or any module of the ``cli/`` package."""
    return path == PACKAGE / "cli.py" or CLI in path.parents


def test_the_cli_size_rule_applies() -> None:
    # guards the check below against a renamed command line that no rule would cover
    assert [p for p in PACKAGE.rglob("*.py") if _is_cli(p)]


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.relative_to(PACKAGE).as_posix()
)
def test_files_stay_small(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    shown = path.relative_to(SRC)
    if _is_cli(path):
        assert lines < MAX_CLI_LINES, f"{shown} has {lines} lines; cli files stay under 400"
    else:
        assert lines <= MAX_LINES, f"{shown} has {lines} lines; at most 600"


#: Built-in exceptions the library refuses its inputs with only through a subclass in
#: ``autoencoders.errors`` (the others, KeyError, IndexError, ImportError, keep their protocol).
BUILTIN_REFUSALS = {"ValueError", "TypeError"}


def _bare_refusals(source: str, where: str) -> list[str]:
    bad: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Name):
            if node.exc.id in BUILTIN_REFUSALS:
                bad.append((node.lineno, f"{where}:{node.lineno} raises {node.exc.id}"))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in BUILTIN_REFUSALS  # raised here, or made to be raised elsewhere
        ):
            bad.append((node.lineno, f"{where}:{node.lineno} makes {node.func.id}(...)"))
    return [text for _, text in sorted(bad)]


def test_every_refusal_is_a_library_error() -> None:
    bad = [
        b
        for p in sorted(PACKAGE.rglob("*.py"))
        for b in _bare_refusals(p.read_text(encoding="utf-8"), str(p.relative_to(SRC)))
    ]
    assert not bad, "raise InvalidValueError / InvalidTypeError instead:\n" + "\n".join(bad)


def test_the_refusal_rule_sees_both_spellings() -> None:
    # guards the check above against a rule that would pass anything
    source = (
        "def f(x):\n    if x:\n        raise ValueError('no')\n    raise TypeError\n"
        "def g():\n    return TypeError('made here, raised by the caller')\n"
        "def h(x):\n    return isinstance(x, ValueError)\n"
    )
    assert _bare_refusals(source, "probe") == [
        "probe:3 makes ValueError(...)",
        "probe:4 raises TypeError",
        "probe:6 makes TypeError(...)",
    ]
