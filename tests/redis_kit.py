"""Redis for the tests that need it: reachable (else skip with the reason, or fail in CI), and a
key prefix of the test's own, removed afterwards, so runs side by side never meet."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator

from tests.conftest import service_missing

REDIS_URL = os.environ.get("REDGRID_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


async def redis_or_skip() -> None:
    import redis.asyncio as redis

    client = redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:
        service_missing(f"Redis at {REDIS_URL}", exc)
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix unique to this test run; every key under it is deleted at the end."""
    import redis.asyncio as redis

    await redis_or_skip()
    prefix = f"redgrid-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        yield prefix
    finally:
        client = redis.from_url(REDIS_URL)
        try:
            keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
            if keys:
                await client.delete(*keys)
        finally:
            await client.aclose()


async def keys_under(prefix: str) -> list[str]:
    import redis.asyncio as redis

    client = redis.from_url(REDIS_URL)
    try:
        return sorted([key.decode() async for key in client.scan_iter(match=f"{prefix}:*")])
    finally:
        await client.aclose()
