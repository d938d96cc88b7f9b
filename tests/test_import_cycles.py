"""No import cycles between our modules, the layers import only downwards, and no module imports
another's private (`_name`) helpers.

The graph is read from the source (the AST), not from a running interpreter: an import inside a
function counts as much as one at the top, since a function-level import that only dodges a cycle
still ties the two modules together. Layers, bottom up:

    core                      the domain: imports nothing of ours but core
    texts                     what we say, one catalog per language, and how domain things read (a case's
                              story, a post's card), shared by every channel: it reads core's types
    media, storage            pictures; tables and the unit of work (core's ports)
    scheduler                 the jobs of the clock and the delivery worker
    bot                       the Telegram channel (renders what delivery sends); of storage only
                              the middleware that opens an update's unit of work and the inbox
    wechat                    the WeChat channel (Official Account + WeCom); never imports bot/
    dashboard                 the web dashboard for staff and Open311 (aiohttp); never imports bot/ or wechat/
    demo                      the Bot API stand-in, the web chat, the seeded demo people
    redgrid                   the composition root: settings, wiring, the command line

Only redgrid/ builds things from settings; no package below it imports `redgrid`. core/ imports no
chat framework and no database library either (FRAMEWORKS): a second channel reuses it as is.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "texts", "media", "storage", "bot", "wechat", "dashboard", "scheduler", "demo", "redgrid")

# What each package may import of ours (besides itself).
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "texts": {"core"},
    "media": {"core"},
    "storage": {"core"},
    "bot": {"core", "texts", "media", "storage", "scheduler"},
    "scheduler": {"core", "media", "storage"},
    "wechat": {"core", "texts", "media", "storage", "scheduler"},
    "dashboard": {"core", "texts", "media", "storage", "scheduler"},
    "demo": {"core", "texts", "media", "storage", "bot", "wechat", "dashboard", "scheduler"},
    "redgrid": {"core", "texts", "media", "storage", "bot", "wechat", "dashboard", "scheduler", "demo"},
}
# What core/ never imports, even inside a function: it is the domain, in plain Python.
FRAMEWORKS = {"aiogram", "sqlalchemy", "alembic", "asyncpg", "aiosqlite", "aiohttp", "apscheduler", "redis",
              "pydantic_settings"}
# Handlers and scenes get their unit of work from bot/middlewares.py; only these touch storage.
STORAGE_IN_BOT = {"bot.middlewares", "bot.inbox"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:  # Alembic's scripts, loaded by file, not imported
                continue
            found[_module_name(path)] = path
    return found


def _imported_names(tree: ast.AST, module: str, is_package: bool) -> list[tuple[str, int]]:
    """Every name an import statement anywhere in the module asks for, absolute, with its line."""
    names: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            names.append((prefix, node.lineno))
            names += [(f"{prefix}.{alias.name}", node.lineno) for alias in node.names]
    return names


def import_graph() -> dict[str, dict[str, int]]:
    """module -> {imported module of ours: line of the first import}."""
    modules = project_modules()
    graph: dict[str, dict[str, int]] = {}
    for module, path in modules.items():
        edges: dict[str, int] = {}
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for name, line in _imported_names(tree, module, path.name == "__init__.py"):
            if name in modules and name != module:
                edges.setdefault(name, line)
        # `from a.b import c` where c is a module: the edge to a.b (its __init__) is only real if
        # a.b is a module of its own, which `name in modules` already decided above.
        graph[module] = edges
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_one_cycle(graph, sorted(component)) for component in components]


def _one_cycle(graph: dict[str, dict[str, int]], component: list[str]) -> list[str]:
    """A shortest path from the component's first module back to itself, to name in the failure."""
    members = set(component)
    start = component[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in graph[node]:
                if target == start:
                    return paths[node] + [start]
                if target in members and target not in paths:
                    paths[target] = paths[node] + [target]
                    following.append(target)
        frontier = following
    return component


def _describe(graph: dict[str, dict[str, int]], cycle: list[str]) -> str:
    return " -> ".join(f"{a} (line {graph[a][b]})" for a, b in zip(cycle, cycle[1:])) + f" -> {cycle[-1]}"


def test_the_graph_sees_function_level_imports():
    graph = import_graph()
    assert "redgrid.commands" in graph["redgrid.cli"]  # `from redgrid import commands` inside main()
    assert "bot.handlers" in graph and graph["bot.handlers"], "bot/handlers/__init__.py imports its routers"


def test_no_import_cycles():
    graph = import_graph()
    found = [_describe(graph, cycle) for cycle in cycles(graph)]
    assert not found, "import cycles:\n" + "\n".join(found)


def test_layers_import_only_downwards():
    graph = import_graph()
    wrong = []
    for module, targets in sorted(graph.items()):
        package = module.split(".")[0]
        for target, line in targets.items():
            other = target.split(".")[0]
            if other != package and other not in ALLOWED[package]:
                wrong.append(f"{module} (line {line}) imports {target}: {package}/ may import "
                             f"{', '.join(sorted(ALLOWED[package])) or 'nothing of ours'}")
            elif package == "bot" and other == "storage" and module not in STORAGE_IN_BOT:
                wrong.append(f"{module} (line {line}) imports {target}: in bot/ only "
                             f"{', '.join(sorted(STORAGE_IN_BOT))} import storage")
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def framework_imports(package: str = "core") -> list[str]:
    """Every import of a FRAMEWORKS module in `package`, at the top or inside a function."""
    found = []
    for module, path in project_modules().items():
        if module.split(".")[0] != package:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        lines = {(line, name.split(".")[0]) for name, line in _imported_names(tree, module, path.name == "__init__.py")}
        found += [f"{module} (line {line}) imports {name}" for line, name in sorted(lines) if name in FRAMEWORKS]
    return found


def test_core_imports_no_framework():
    assert len([m for m in project_modules() if m.startswith("core.")]) > 10  # the walk found core/
    found = framework_imports("core")
    assert not found, "core/ importing a framework:\n" + "\n".join(found)
    assert any("imports aiogram" in line for line in framework_imports("bot"))  # the check sees them


def test_the_checker_finds_a_cycle():
    graph = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}, "d": {"a": 4}}
    assert cycles(graph) == [["a", "b", "c", "a"]]
    assert _describe(graph, ["a", "b", "c", "a"]) == "a (line 1) -> b (line 2) -> c (line 3) -> a"


def private_imports() -> list[str]:
    """`from our.module import _name` anywhere in our packages: a module reaching into another's
    private helpers. Only a package's `__init__` may re-export a private name of its own modules."""
    found = []
    for module, path in project_modules().items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
                continue
            if node.module.split(".")[0] not in PACKAGES:
                continue
            if is_package and node.module.startswith(module + "."):
                continue
            found += [f"{module} (line {node.lineno}) imports {node.module}.{alias.name}"
                      for alias in node.names if alias.name.startswith("_")]
    return found


def test_no_module_imports_another_modules_private_helpers():
    """What modules share is a public, named part of the module it belongs to (#15)."""
    found = private_imports()
    assert not found, "private names imported across modules (make them public):\n" + "\n".join(found)
