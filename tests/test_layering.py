"""The package's layering: each sub-package imports only from layers below (or its own), and no modules form an
import cycle. Imports inside functions count too: a lazy import is still a dependency, it only moves the cost.

Layers, lowest first (docs/concepts.md):  foundation (errors, the private helpers, resources) → config → storage →
data → imagery / models → inference / training → serve / arcgis / samples / testing → runners → cli → the
package itself (``landcover_sdk/__init__.py``, ``__main__``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import landcover_sdk

ROOT = Path(landcover_sdk.__file__).parent
PACKAGE = "landcover_sdk"

LAYERS: list[set[str]] = [
    {"errors", "_version", "_atomic", "_registry", "_util", "_redact", "_gdal", "_lru", "resources"},
    {"config"},
    {"storage"},
    {"data"},
    {"imagery", "models"},
    {"inference", "training"},
    {"serve", "arcgis", "samples", "testing"},
    {"runners"},
    {"cli"},
    {"", "__main__"},
]

#: Module cycles tolerated, each a set of modules with the reason; keep this empty unless truly needed.
ALLOWED_CYCLES: list[tuple[frozenset[str], str]] = [
]


def _modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str:
    """The module ``name`` lives in (``pkg.mod.Class`` → ``pkg.mod``)."""
    while name not in MODULES:
        name = name.rsplit(".", 1)[0]
    return name


def _typing_only(tree: ast.Module) -> set[int]:
    """The ids of the import nodes under ``if TYPE_CHECKING:`` (never run, so they make no cycle)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            out.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return out


def _imports(module: str, path: Path, *, typing: bool = True) -> Iterator[str]:
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(), str(path))
    skip = set() if typing else _typing_only(tree)
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == PACKAGE or target.startswith(PACKAGE + "."):
                for alias in node.names:  # "from . import x": x may be a module
                    yield _resolve(f"{target}.{alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                    yield _resolve(alias.name)


#: Every import, typing-only ones too (the layering holds for annotations as well).
GRAPH = {m: {t for t in _imports(m, p) if t != m} for m, p in MODULES.items()}
#: The imports that run (function-level ones too): what a cycle is made of.
RUNTIME = {m: {t for t in _imports(m, p, typing=False) if t != m} for m, p in MODULES.items()}


def _layer(module: str) -> int:
    sub = module.split(".")[1] if "." in module else ""
    for n, names in enumerate(LAYERS):
        if sub in names:
            return n
    raise AssertionError(f"{module}: sub-package {sub!r} is in no layer of tests/test_layering.py")


def test_no_module_imports_a_later_layer() -> None:
    bad = sorted(f"{m} imports {t}" for m, ts in GRAPH.items() for t in ts if _layer(t) > _layer(m))
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def _cycles() -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in RUNTIME[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for v in sorted(RUNTIME):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles() -> None:
    allowed = [c for c, _ in ALLOWED_CYCLES]
    cycles = [sorted(c) for c in _cycles() if frozenset(c) not in allowed]
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_arcgis_cli_outputs_match_the_function() -> None:
    from landcover_sdk.arcgis.function import OUTPUTS
    from landcover_sdk.cli.arcgis_cmd import OUTPUTS as CLI_OUTPUTS

    assert CLI_OUTPUTS == OUTPUTS
