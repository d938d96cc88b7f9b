"""Files: uploads stored as Telegram stores them (a photo as PhotoSizes, a 320 px thumbnail and the
original), a message's media fields from an upload or a file_id, getFile (refused above 20 MB, as
Telegram's cloud API does), the download route getFile's path points to, and probing a picture as
Telegram would (`photo_problem`)."""

from __future__ import annotations

import functools
import io
import mimetypes
import secrets
from typing import Any

from aiohttp import web
from PIL import Image, UnidentifiedImageError

from demo.standin.base import StandInState
from demo.standin.model import ApiError, Call, StoredFile, Upload, bad

MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024  # getFile refuses bigger files ("file is too big"), as Telegram's cloud API
THUMBNAIL_SIDE = 320  # Telegram's "m" size; the original is kept as the largest size


class FilesMixin(StandInState):
    """Stored files, getFile and file downloads."""

    def file(self, file_id: str) -> StoredFile | None:
        return self.files.get(file_id)

    def file_bytes(self, file_id: str) -> bytes:
        return self.files[file_id].data

    def _new_file_ids(self, prefix: str) -> tuple[str, str]:
        self._file_counter += 1
        file_id = f"{prefix}{self._file_counter:06d}{secrets.token_urlsafe(18)}"
        return file_id, f"AQAD{self._file_counter:04d}{secrets.token_urlsafe(6)}"

    def _store_file(self, data: bytes, kind: str, *, file_name: str | None = None,
                    mime_type: str | None = None, width: int | None = None,
                    height: int | None = None, extension: str | None = None) -> StoredFile:
        if len(data) > MAX_UPLOAD_BYTES:
            raise ApiError(413, "Request Entity Too Large")
        prefix = {"photo": "AgACAgUAAxkB", "document": "BQACAgUAAxkB",
                  "video": "BAACAgUAAxkB", "audio": "CQACAgUAAxkB",
                  "voice": "AwACAgUAAxkB"}.get(kind, "BQACAgUAAxkB")
        file_id, unique_id = self._new_file_ids(prefix)
        if mime_type in (None, "", "application/octet-stream") and file_name:
            mime_type = mimetypes.guess_type(file_name)[0] or mime_type
        if extension is None:
            extension = (file_name.rsplit(".", 1)[-1].lower()
                         if file_name and "." in file_name else "bin")
        folder = {"photo": "photos", "document": "documents", "video": "videos",
                  "audio": "music", "voice": "voice"}.get(kind, "documents")
        stored = StoredFile(file_id, unique_id, f"{folder}/file_{self._file_counter}.{extension}",
                            data, kind, mime_type, file_name, width, height)
        self.files[file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _store_photo(self, data: bytes) -> list[dict[str, Any]]:
        """Store a picture as Telegram does: PhotoSizes from small to the original."""
        width, height, fmt, thumbnail = probe_photo(data)
        extension = "jpg" if fmt == "jpeg" else fmt
        files = []
        if thumbnail is not None:
            files.append(self._store_file(thumbnail[0], "photo", mime_type="image/jpeg",
                                          width=thumbnail[1][0], height=thumbnail[1][1],
                                          extension="jpg"))
        files.append(self._store_file(data, "photo", mime_type=f"image/{fmt}", width=width,
                                      height=height, extension=extension))
        sizes = [{"file_id": f.file_id, "file_unique_id": f.file_unique_id,
                  "file_size": f.size, "width": f.width, "height": f.height} for f in files]
        for f in files:
            f.photo_sizes = sizes
        return sizes

    def _media(self, value: Upload | str | None, kind: str) -> dict[str, Any]:
        """Message fields for one photo/document/video/audio, from an upload or file_id."""
        if value is None:
            raise bad(f"there is no {kind} in the request")
        if isinstance(value, Upload):
            if kind == "photo":
                return {"photo": self._store_photo(value.data)}
            mime = value.content_type
            stored = self._store_file(value.data, kind, file_name=value.filename or kind,
                                      mime_type=mime)
        else:
            if value.startswith(("http://", "https://")):
                raise bad("failed to get HTTP URL content")
            stored = self.files.get(value)
            if stored is None:
                raise bad("wrong file identifier/HTTP URL specified")
            if stored.kind != kind and not (kind == "document" and stored.kind != "photo"):
                raise bad(f"can't use file of type {stored.kind.capitalize()} as "
                          f"{kind.capitalize()}")
            if kind == "photo":
                return {"photo": stored.photo_sizes or []}
        if kind == "document":
            return {"document": document_json(stored)}
        body = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                "file_size": stored.size, "duration": 0}
        if stored.mime_type:
            body["mime_type"] = stored.mime_type
        if kind == "video":
            body.update(width=stored.width or 0, height=stored.height or 0)
        if stored.file_name:
            body["file_name"] = stored.file_name
        return {kind: body}

    def _store_voice(self, data: bytes, duration: int, mime_type: str | None = None) -> dict[str, Any]:
        """A voice note as Telegram keeps one (`voice/file_N.oga`), and its Voice object."""
        stored = self._store_file(data, "voice", mime_type=mime_type or "audio/ogg", extension="oga")
        stored.duration = max(0, int(duration))
        return voice_json(stored)

    async def _m_getfile(self, call: Call) -> dict[str, Any]:
        stored = self.files.get(call.text("file_id", "") or "")
        if stored is None:
            raise bad("invalid file_id")
        if stored.size > MAX_DOWNLOAD_BYTES:
            raise bad("file is too big")
        return stored.to_file()

    async def _handle_file(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        if self.token is not None and token != self.token:
            return web.json_response({"ok": False, "error_code": 401,
                                      "description": "Unauthorized"}, status=401)
        stored = self._files_by_path.get(request.match_info["file_path"])
        if stored is not None:
            return web.Response(body=stored.data,
                                content_type=stored.mime_type or "application/octet-stream")
        return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"},
                                 status=404)


def probe_photo(data: bytes) -> tuple[int, int, str, tuple[bytes, tuple[int, int]] | None]:
    """(width, height, format, thumbnail) of a picture Telegram would accept as a photo."""
    return _probe_photo_once(bytes(data))


# Decoding and thumbnailing is Telegram's work, done on its servers. The stand-in runs in the bot's
# process, so the same picture sent again (the update benchmark sends a pool of 32) is not done
# again: it would count ~0.7 ms per update against whichever bot is being measured.
@functools.lru_cache(maxsize=64)
def _probe_photo_once(data: bytes) -> tuple[int, int, str, tuple[bytes, tuple[int, int]] | None]:
    if len(data) > MAX_PHOTO_BYTES:
        raise ApiError(413, "Request Entity Too Large")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            width, height = image.size
            fmt = (image.format or "JPEG").lower()
            thumbnail = None
            if max(width, height) > THUMBNAIL_SIDE:
                small = image.convert("RGB")
                small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
                buffer = io.BytesIO()
                small.save(buffer, "JPEG", quality=80)
                thumbnail = (buffer.getvalue(), small.size)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise bad("IMAGE_PROCESS_FAILED") from None
    if width + height > 10000 or max(width, height) > 20 * min(width, height):
        raise bad("PHOTO_INVALID_DIMENSIONS")
    return width, height, fmt, thumbnail


def photo_problem(data: bytes) -> str | None:
    """Why Telegram would refuse `data` as a photo (None when it is a fine picture)."""
    try:
        probe_photo(data)
    except ApiError as error:
        return error.description
    return None


def document_json(stored: StoredFile) -> dict[str, Any]:
    document: dict[str, Any] = {"file_id": stored.file_id,
                                "file_unique_id": stored.file_unique_id,
                                "file_size": stored.size}
    if stored.file_name:
        document["file_name"] = stored.file_name
    if stored.mime_type:
        document["mime_type"] = stored.mime_type
    return document


def voice_json(stored: StoredFile) -> dict[str, Any]:
    return {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id, "duration": stored.duration,
            "mime_type": stored.mime_type or "audio/ogg", "file_size": stored.size}
