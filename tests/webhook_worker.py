"""`redgrid webhook` as a process of its own, for tests/test_webhook_workers.py: the settings come from
the environment; it prints `ready` (tests/proc.py) once it serves and has set the webhook."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from redgrid import commands  # noqa: E402
from redgrid.settings import load_settings  # noqa: E402


if __name__ == "__main__":
    import logging

    settings = load_settings()
    logging.basicConfig(level=settings.log_level)
    asyncio.run(commands.webhook(settings, on_ready=lambda url: print("ready", flush=True)))
