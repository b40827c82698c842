"""The package's import graph: no import cycles between modules, and the library never imports the
command-line layer (``satori_jax.cli``); only ``__main__.py`` shims and the CLIs themselves do.

Static (``ast``): every absolute ``satori_jax...`` import counts, including those inside functions;
``__main__.py`` files and imports under ``if __name__ == "__main__":`` do not. ``import a.b.c`` and
``from a.b import c`` are edges to the module ``a.b.c`` when it is one, else to ``a.b``; a package's
``__init__`` is the module named after the package.
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "satori_jax"

# Known offenders (none at present), each with a comment naming the change that removes it.
ALLOWED_CLI_IMPORTS: set[str] = set()
ALLOWED_CYCLE_MODULES: set[str] = set()


def _modules() -> dict[str, Path]:
    mods = {}
    for path in PKG.rglob("*.py"):
        if path.name == "__main__.py":
            continue
        parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def _is_main_guard(node: ast.AST) -> bool:
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    names = {n.id for n in ast.walk(node.test) if isinstance(n, ast.Name)}
    consts = {n.value for n in ast.walk(node.test) if isinstance(n, ast.Constant)}
    return "__name__" in names and "__main__" in consts


def _is_type_checking(node: ast.AST) -> bool:
    """``if TYPE_CHECKING:`` (imports for annotations only, never run)."""
    return isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imported_names(tree: ast.AST) -> list[str]:
    """Dotted names of absolute ``satori_jax`` imports (``a.b`` for ``from a import b`` too)."""
    out: list[str] = []

    def visit(node: ast.AST) -> None:
        if _is_main_guard(node) or _is_type_checking(node):
            for child in node.orelse:  # the else branch of a main guard still runs on import
                visit(child)
            return
        if isinstance(node, ast.Import):
            out.extend(a.name for a in node.names if a.name.split(".")[0] == "satori_jax")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] == "satori_jax":
                out.extend(f"{node.module}.{a.name}" for a in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return out


def _resolve(name: str, mods: dict[str, Path]) -> str | None:
    parts = name.split(".")
    while parts:
        cand = ".".join(parts)
        if cand in mods:
            return cand
        parts.pop()
    return None


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for mod, path in mods.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        targets = {_resolve(n, mods) for n in _imported_names(tree)}
        graph[mod] = {t for t in targets if t is not None and t != mod}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    comps: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return comps


def test_graph_sees_the_package():
    graph = _graph()
    expected = {"satori_jax.train", "satori_jax.runs", "satori_jax.cli.train", "satori_jax.checkpoints"}
    assert expected <= set(graph)
    assert "satori_jax.checkpoints" in graph["satori_jax.train"]
    assert "satori_jax.train" in graph["satori_jax.cli.train"]  # imports inside functions count


def test_no_import_cycles():
    comps = [c for c in _cycles(_graph()) if not set(c) <= ALLOWED_CYCLE_MODULES]
    assert not comps, "import cycles: " + "; ".join(" <-> ".join(c) for c in comps)


def test_library_does_not_import_the_cli():
    graph = _graph()
    bad = sorted(
        f"{mod} imports {dep}"
        for mod, deps in graph.items()
        if not (mod == "satori_jax.cli" or mod.startswith("satori_jax.cli."))
        for dep in deps
        if (dep == "satori_jax.cli" or dep.startswith("satori_jax.cli.")) and mod not in ALLOWED_CLI_IMPORTS
    )
    assert not bad, "; ".join(bad)


def test_runs_does_not_import_the_trainer():
    graph = _graph()
    assert "satori_jax.train" not in graph["satori_jax.runs"]
    assert "satori_jax.train" not in graph["satori_jax.checkpoints"]


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    tree = ast.parse(
        "import satori_jax.x\n"
        "def f():\n    from satori_jax.y import z\n"
        "if __name__ == '__main__':\n    from satori_jax.cli import w\n"
    )
    assert _imported_names(tree) == ["satori_jax.x", "satori_jax.y.z"]


def test_no_module_over_600_lines():
    """The layout rule of issue 18: a module that grows past 600 lines is split by concept."""
    long = {str(p.relative_to(PKG.parent)): n for p in PKG.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 600}
    assert long == {}, long
