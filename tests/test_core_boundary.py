"""core/ is the domain: plain Python that a second channel (WeChat, a web dashboard) reuses as is.

It never imports a chat framework, a database library or the layers built on top of it; those
depend on core, never the other way round. Read from the source (every `import`, also inside
functions), so an import that only runs on some path is caught too.
"""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "core"

FRAMEWORKS = {"aiogram", "sqlalchemy", "alembic", "asyncpg", "aiosqlite", "aiohttp", "apscheduler", "redis",
              "pydantic_settings"}
OUTER_LAYERS = {"bot", "storage", "scheduler", "redgrid", "demo", "media"}


def imported_modules(source: str) -> list[tuple[int, str]]:
    """(line, module) of every absolute import in `source`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def forbidden_imports(source: str) -> list[tuple[int, str]]:
    return [(line, module) for line, module in imported_modules(source)
            if module.split(".")[0] in FRAMEWORKS | OUTER_LAYERS]


def test_the_check_sees_imports_at_the_top_and_inside_functions():
    source = ("import aiogram.types\nfrom sqlalchemy.ext.asyncio import AsyncConnection\n"
              "def f():\n    from storage.uow import Database\n    import datetime\n")
    assert forbidden_imports(source) == [(1, "aiogram.types"), (2, "sqlalchemy.ext.asyncio"),
                                         (4, "storage.uow")]


def test_core_imports_no_framework_and_no_outer_layer():
    files = sorted(CORE.rglob("*.py"))
    assert len(files) > 10  # the walk found core/
    offending = [f"{path.relative_to(CORE.parent)}:{line} imports {module}"
                 for path in files for line, module in forbidden_imports(path.read_text(encoding="utf-8"))]
    assert offending == []
