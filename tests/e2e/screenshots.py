"""The browser tests' pictures: each is checked not to be blank and, with REDGRID_SCREENSHOT_DIR set, kept
there — which is how the README's pictures in docs/ are made."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any


def keep(shot: Path) -> None:
    if os.environ.get("REDGRID_SCREENSHOT_DIR"):
        shutil.copy(shot, Path(os.environ["REDGRID_SCREENSHOT_DIR"]) / shot.name)


async def screenshot(page: Any, folder: Path, name: str, **options: Any) -> Path:
    """Take the page's picture as `name` in `folder`; a blank page (a few KB) fails the test."""
    shot = folder / name
    await page.screenshot(path=str(shot), **options)
    assert shot.stat().st_size > 20_000, f"{name} looks blank ({shot.stat().st_size} bytes)"
    keep(shot)
    return shot
