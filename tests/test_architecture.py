"""The code's layering: data flows one way, so no module imports a higher layer, and no two modules
import each other (directly or around a circle). Imports inside functions count too."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "diffcomp"

# Lowest first; a module may import its own layer and the ones below.
LAYERS = [
    ("config", "files", "ownership", "results", "logging_setup", "checkpointing", "progress"),
    ("data",),
    ("model",),
    ("diffusion",),
    ("eval", "analysis", "theory"),
    ("localscores",),
    ("train", "runs"),
    ("report",),
    ("sweeps",),
    ("tasks",),
    ("api", "cli", "run", "aggregate", "status", "__init__"),
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """Every ``diffcomp.*`` module a file imports, at the top or inside functions
    (``from diffcomp.x import y`` imports the module ``diffcomp.x.y`` when y is one, else ``diffcomp.x``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("diffcomp")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("diffcomp"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in modules else node.module)
    return found


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in imports_of(path, set(files)) if m in files and m != name} for name, path in files.items()}


def top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_module_belongs_to_a_layer():
    assert {top(m) for m in graph()} <= set(RANK), sorted({top(m) for m in graph()} - set(RANK))


def test_no_module_imports_a_higher_layer():
    upward = [f"{a} -> {b}" for a, targets in graph().items() for b in targets if RANK[top(b)] > RANK[top(a)]]
    assert not upward, upward


def test_the_import_graph_has_no_circle():
    edges, state, circles = graph(), {}, []

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                circles.append(" -> ".join([*path[path.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert not circles, circles
