"""Taking a photo from a chat message into the photo store, refusing what is not a usable photo."""

from __future__ import annotations

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import Message

from texts import Translator
from core.cases import PhotoKind, PhotoRef
from core.errors import DomainError
from media.photos import MAX_BYTES, NotAPhoto, PhotoStore, PhotoTooLarge


async def receive_photo(message: Message, bot: Bot, store: PhotoStore, kind: PhotoKind) -> PhotoRef:
    """The photo (or picture sent as a file) in `message`, normalised and stored.

    Sizes are checked before downloading, so a huge file costs nothing. Telegram does not always
    tell a file's size; the Bot API then refuses to hand over one over 20 MB ("file is too big"),
    which is the same refusal in the person's words.
    """
    if message.photo:
        item = message.photo[-1]  # the largest size Telegram made
    elif message.document is not None:
        item = message.document
        if item.mime_type and not item.mime_type.startswith("image/"):
            raise NotAPhoto()
    else:
        raise NotAPhoto()
    if item.file_size and item.file_size > MAX_BYTES:
        raise PhotoTooLarge(max_mb=MAX_BYTES // (1024 * 1024))
    try:
        data = await bot.download(item.file_id)
    except TelegramBadRequest as refused:
        if "file is too big" in refused.message.lower():
            raise PhotoTooLarge(max_mb=MAX_BYTES // (1024 * 1024)) from refused
        raise
    saved = await store.save(data.read())
    return PhotoRef(saved.sha256, kind, saved.width, saved.height, saved.dhash)


async def photo_or_say_why(message: Message, bot: Bot, store: PhotoStore, kind: PhotoKind,
                           tr: Translator) -> PhotoRef | None:
    """The photo in `message`, or None after telling the sender, politely and in their language, why it
    cannot be used (not a picture, too large, broken); the dialog then stays where it is."""
    try:
        return await receive_photo(message, bot, store, kind)
    except DomainError as problem:
        await message.answer(tr(problem.key, **problem.params))
        return None


def photo_data(photo: PhotoRef) -> dict:
    """A photo as dialog data (JSON, so Redis can keep an unfinished dialog)."""
    return {"sha256": photo.sha256, "width": photo.width, "height": photo.height, "dhash": photo.dhash}


def photo_from_data(data: dict, kind: PhotoKind) -> PhotoRef:
    return PhotoRef(data["sha256"], kind, data.get("width"), data.get("height"), data.get("dhash"))
