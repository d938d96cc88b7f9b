"""Taking a voice note from a chat message into the voice store, refusing one too long or too big."""

from __future__ import annotations

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import Message

from texts import Translator
from core.errors import DomainError
from core.voice import DEFAULT_MAX_BYTES, VoiceBroken, VoiceClip, check_clip
from media.voice import VoiceStore


async def receive_voice(message: Message, bot: Bot, store: VoiceStore, max_bytes: int) -> VoiceClip:
    """The voice note in `message`, downloaded at once (Telegram keeps a file_id's bytes only for a
    while) and kept as sent. Length and size are checked before downloading."""
    voice = message.voice
    if voice is None:
        raise VoiceBroken()
    check_clip(voice.duration, voice.file_size, max_bytes)
    try:
        data = (await bot.download(voice.file_id)).read()
    except TelegramBadRequest as refused:
        raise VoiceBroken() from refused
    check_clip(voice.duration, len(data), max_bytes)
    name, mime = await store.save(data)
    return VoiceClip(name, int(voice.duration or 0), voice.mime_type or mime, len(data))


async def voice_or_say_why(message: Message, bot: Bot, settings, tr: Translator) -> VoiceClip | None:
    """The voice note in `message`, or None after telling the sender politely why not (the dialog stays
    where it was, nothing in it lost)."""
    max_bytes = int(getattr(settings, "voice_max_bytes", DEFAULT_MAX_BYTES))
    try:
        return await receive_voice(message, bot, VoiceStore(settings.data_dir), max_bytes)
    except DomainError as problem:
        await message.answer(tr(problem.key, **problem.params))
        return None
