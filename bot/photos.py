"""Taking a photo from a chat message into the photo store, refusing what is not a usable photo."""

from __future__ import annotations

from aiogram import Bot
from aiogram.types import Message

from core.cases import PhotoKind, PhotoRef
from media.photos import MAX_BYTES, NotAPhoto, PhotoStore, PhotoTooLarge


async def receive_photo(message: Message, bot: Bot, store: PhotoStore, kind: PhotoKind) -> PhotoRef:
    """The photo (or picture sent as a file) in `message`, normalised and stored.

    Sizes are checked before downloading, so a huge file costs nothing.
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
    data = await bot.download(item.file_id)
    saved = await store.save(data.read())
    return PhotoRef(saved.sha256, kind, saved.width, saved.height, saved.dhash)
