"""Voice notes' rows (core.voice, table `voice_notes` in storage/case_tables.py)."""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.voice import VoiceClip, VoiceNote, VoicePurpose
from storage.case_tables import voice_notes

_v = voice_notes.c


def _note(row: Any) -> VoiceNote:
    return VoiceNote(row.id, row.person_id, VoicePurpose(row.purpose),
                     VoiceClip(row.file, row.duration, row.mime, row.size), row.created_at,
                     case_id=row.case_id, order_id=row.order_id)


class SqlVoiceNotes:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, note: VoiceNote) -> None:
        result = await self.conn.execute(voice_notes.insert().values(
            case_id=note.case_id, order_id=note.order_id, person_id=note.person_id, purpose=note.purpose.value,
            duration=note.clip.duration, mime=note.clip.mime, size=note.clip.size, file=note.clip.file,
            created_at=note.created_at))
        note.id = result.inserted_primary_key[0]

    async def of_cases(self, case_ids: Sequence[int]) -> dict[int, list[VoiceNote]]:
        found: dict[int, list[VoiceNote]] = {}
        if not case_ids:
            return found
        for row in await self.conn.execute(select(voice_notes).where(_v.case_id.in_(list(case_ids)))
                                           .order_by(_v.id)):
            found.setdefault(row.case_id, []).append(_note(row))
        return found

    async def of_person(self, person_id: int) -> list[VoiceNote]:
        return [_note(r) for r in await self.conn.execute(
            select(voice_notes).where(_v.person_id == person_id).order_by(_v.id))]

    async def _erase(self, condition: Any) -> list[str]:
        files = {r.file for r in await self.conn.execute(select(_v.file).where(condition))}
        await self.conn.execute(delete(voice_notes).where(condition))
        if not files:
            return []
        still = {r.file for r in await self.conn.execute(select(_v.file).where(_v.file.in_(files)))}
        return sorted(files - still)

    async def erase_of_person(self, person_id: int) -> list[str]:
        """Their voice notes' rows; the names of the files no other row names (to remove once committed)."""
        return await self._erase(_v.person_id == person_id)

    async def erase_of_case(self, case_id: int) -> list[str]:
        return await self._erase(_v.case_id == case_id)
