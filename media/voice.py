"""Voice notes on disk (core.voice), kept as they were sent: `root/voice/<sha256>.<ogg|amr|bin>`.

Nothing is decoded or converted (Telegram's OGG/Opus plays in every Telegram client as it is); the
name is the SHA-256 of the bytes, so the same note sent twice is one file. Written to a temporary
name and renamed, readable by the bot's user only (0600): a voice is personal information.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

_NAME = re.compile(r"[0-9a-f]{64}\.(ogg|amr|bin)")
MIME = {"ogg": "audio/ogg", "amr": "audio/amr", "bin": "application/octet-stream"}


class BadVoiceName(ValueError):
    pass


def extension_of(data: bytes) -> str:
    if data.startswith(b"OggS"):
        return "ogg"
    if data.startswith(b"#!AMR"):
        return "amr"
    return "bin"


class VoiceStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.folder = self.root / "voice"

    def path(self, name: str) -> Path:
        """Where the voice note named `name` lives; anything but a stored note's name is refused."""
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise BadVoiceName(f"not a voice note's name: {name!r}")
        return self.folder / name

    async def save(self, data: bytes) -> tuple[str, str]:
        """Keep `data` as it is; (its file name, its MIME type)."""
        extension = extension_of(data)
        name = f"{hashlib.sha256(data).hexdigest()}.{extension}"
        await asyncio.to_thread(self._write, name, data)
        return name, MIME[extension]

    def _write(self, name: str, data: bytes) -> None:
        target = self.path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_file():
            os.utime(target)  # saved again: a dialog holds it, retention leaves it for now
            return
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".voice-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temp, 0o600)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    async def load(self, name: str) -> bytes:
        return await asyncio.to_thread(self.path(name).read_bytes)

    def exists(self, name: str) -> bool:
        try:
            return self.path(name).is_file()
        except BadVoiceName:
            return False

    def stored(self) -> Iterator[tuple[str, float]]:
        if not self.folder.is_dir():
            return
        for path in self.folder.iterdir():
            if _NAME.fullmatch(path.name):
                try:
                    yield path.name, path.stat().st_mtime
                except FileNotFoundError:
                    continue

    def remove_unnamed(self, in_use: set[str], modified_before: float) -> int:
        """Delete the notes no row names that were not saved since `modified_before` (a dialog still open
        may hold a newer one); the count."""
        removed = 0
        for name, modified in list(self.stored()):
            if name not in in_use and modified < modified_before:
                self.path(name).unlink(missing_ok=True)
                removed += 1
        return removed

    async def remove(self, names: Iterable[str]) -> int:
        """Delete these notes' files (a forgotten person's, an expired case's); how many were there."""
        paths = [self.path(n) for n in names]

        def unlink() -> int:
            removed = 0
            for path in paths:
                if path.is_file():
                    path.unlink(missing_ok=True)
                    removed += 1
            return removed

        return await asyncio.to_thread(unlink)
