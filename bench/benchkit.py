"""What the benchmarks share: a private PostgreSQL database made afresh, and where results are written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import text

from storage.engine import make_engine

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PG_ADMIN = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def pg_url(name: str) -> str:
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


async def fresh_pg_database(name: str) -> str:
    """Drop and create the benchmark's own PostgreSQL database (never the tests' `test`); its URL."""
    admin = make_engine(PG_ADMIN)
    async with admin.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return pg_url(name)


def write_result(stem: str, database: str, result: dict[str, Any]) -> Path:
    """bench/results/<stem>.json for SQLite, <stem>_<database>.json otherwise."""
    path = RESULTS / (f"{stem}.json" if database == "sqlite" else f"{stem}_{database}.json")
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    return path
