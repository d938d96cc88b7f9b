"""A web chat on top of the Bot API stand-in: play residents and grid staff in a browser.

The page (demo/static/) lists the personas on the left; picking one shows that person's
private chat with the bot like a phone messenger. Everything a person does goes through
the stand-in's simulation API, so the bot receives the same updates as from Telegram.
Changes reach the page live over Server-Sent Events (GET /api/events).

Run the demo servers alone (the bot then connects to the printed API base URL):

    python -m demo.webchat --port 8080 --api-port 8081
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web

from demo.standin import BotApiStandIn, ChatEvent, StoredMessage, Subscription, photo_problem

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
SAMPLE_VOICE = Path(__file__).resolve().parent.parent / "samples" / "voice_sample.ogg"  # samples/make_voice.py
MAX_ALBUM = 10  # Telegram puts at most ten pictures in one album
KEEPALIVE_SECONDS = 15.0

# Hefei, a plausible centre for an Anhui community; callers pass their own.
DEFAULT_MAP_CENTER = (31.8206, 117.2272)
# The bot speaks the community's time ("截止 18:00"): the page shows times in it, whatever the
# browser's own zone.
DEFAULT_TIME_ZONE = "Asia/Shanghai"
# Pressing a button the bot has already removed: Telegram's client would no longer show it; the
# page may (it missed an update), so it says so politely and redraws the chat.
STALE_BUTTON = "这个按钮已失效，请使用最新消息里的按钮。"

# user ids -> what each person is now ("居民"), for those whose label changed since the start
RoleLabels = Callable[[list[int]], Awaitable[dict[int, str]]]

EXAMPLE_PERSONAS = [
    {"user_id": 1001, "name": "王阿姨", "role_label": "居民", "language_code": "zh-hans"},
    {"user_id": 1002, "name": "李网格员", "role_label": "网格员", "language_code": "zh-hans"},
    {"user_id": 1003, "name": "张党员", "role_label": "党员志愿者", "language_code": "zh-hans"},
    {"user_id": 1004, "name": "赵书记", "role_label": "社区书记", "language_code": "zh-hans"},
]


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


class WebChat:
    """The web chat application.

    personas: dicts {user_id, name, role_label, language_code}; each becomes a user of the
        stand-in (added if missing).
    map_center / map_span: the location picker shows centre ± span degrees.
    map_points: optional landmarks drawn on the picker, dicts {label, latitude, longitude}.
    role_labels: optional; asked for the personas' current labels whenever the page lists them,
        so a newcomer's "新用户（未登记）" becomes "居民" once the bot has registered them.
    time_zone: the zone the page shows times in (the bot's).
    """

    def __init__(
        self,
        standin: BotApiStandIn,
        personas: list[dict[str, Any]],
        *,
        title: str = "红网格 · 社区服务演示",
        map_center: tuple[float, float] = DEFAULT_MAP_CENTER,
        map_span: float = 0.01,
        map_points: list[dict[str, Any]] | None = None,
        role_labels: RoleLabels | None = None,
        time_zone: str = DEFAULT_TIME_ZONE,
        door_sheet: Callable[[], Awaitable[bytes]] | None = None,
    ) -> None:
        self.standin = standin
        self.title = title
        self.map_center = map_center
        self.map_span = map_span
        self.map_points = list(map_points or [])
        self.role_labels = role_labels
        self.time_zone = time_zone
        self.door_sheet = door_sheet   # GET /door-codes.pdf: the community's door cards (门牌二维码 PDF)
        self._door_pdf: bytes | None = None
        self.personas = [self._persona(p) for p in personas]
        self._streams: set[Subscription] = set()
        self._runner: web.AppRunner | None = None
        self.url: str | None = None

        self.app = web.Application(client_max_size=60 * 1024 * 1024)
        routes = self.app.router
        routes.add_get("/", self._index)
        routes.add_static("/static/", STATIC_DIR)
        routes.add_get("/door-codes.pdf", self._door_codes)
        routes.add_get("/api/config", self._config)
        routes.add_get("/api/personas", self._personas)
        routes.add_get("/api/events", self._events)
        routes.add_get("/api/files/{file_id}", self._file)
        routes.add_get("/api/chats/{user_id}/messages", self._messages)
        routes.add_get("/api/chats/{user_id}/commands", self._commands)
        routes.add_post("/api/chats/{user_id}/text", self._send_text)
        routes.add_post("/api/chats/{user_id}/files", self._send_files)
        routes.add_post("/api/chats/{user_id}/photo", self._send_photos)
        routes.add_post("/api/chats/{user_id}/document", self._send_documents)
        routes.add_post("/api/chats/{user_id}/location", self._send_location)
        routes.add_post("/api/chats/{user_id}/voice", self._send_voice)
        routes.add_post("/api/chats/{user_id}/contact", self._send_contact)
        routes.add_post("/api/chats/{user_id}/press", self._press)
        routes.add_post("/api/chats/{user_id}/block", self._block)
        self.app.on_shutdown.append(self._close_streams)

    def _persona(self, raw: dict[str, Any]) -> dict[str, Any]:
        persona = {
            "user_id": int(raw["user_id"]),
            "name": str(raw["name"]),
            "role_label": str(raw.get("role_label", "")),
            "language_code": raw.get("language_code") or "zh-hans",
        }
        if self.standin.get_user(persona["user_id"]) is None:
            self.standin.add_user(persona["user_id"], persona["name"],
                                  language_code=persona["language_code"])
        return persona

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 8080) -> str:
        """Serve the page on host:port (0 picks a free port); returns its URL."""
        self._runner = web.AppRunner(self.app, shutdown_timeout=2.0, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self.url = f"http://{host}:{self._runner.addresses[0][1]}/"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _close_streams(self, app: web.Application) -> None:
        # Open event streams would otherwise keep the server from shutting down.
        for stream in list(self._streams):
            stream.close()

    # ------------------------------------------------------------------ views

    def message_view(self, message: StoredMessage) -> dict[str, Any]:
        """What the page needs to draw one message."""
        data = message.data
        view: dict[str, Any] = {
            "message_id": message.message_id,
            "chat_id": message.chat_id,
            "seq": message.seq,  # lets the page keep the newest of crossing updates
            "from_bot": message.from_bot,
            "date": data.get("date"),
            "edited": message.edits > 0,
            "deleted": message.deleted,
            "media_group_id": data.get("media_group_id"),
            "text": data.get("text"),
            "entities": data.get("entities", []),
            "caption": data.get("caption"),
            "caption_entities": data.get("caption_entities", []),
            "inline_keyboard": message.inline_keyboard,
        }
        if "photo" in data:
            largest = data["photo"][-1]
            view["photo"] = {"file_id": largest["file_id"], "width": largest["width"],
                             "height": largest["height"],
                             "url": f"api/files/{largest['file_id']}"}
        for key in ("document", "video", "audio"):
            if key in data:
                media = data[key]
                view["document"] = {"file_id": media["file_id"],
                                    "file_name": media.get("file_name") or key,
                                    "mime_type": media.get("mime_type"),
                                    "file_size": media.get("file_size"),
                                    "url": f"api/files/{media['file_id']}"}
        if "voice" in data:
            voice = data["voice"]
            view["voice"] = {"file_id": voice["file_id"], "duration": voice.get("duration", 0),
                             "mime_type": voice.get("mime_type"), "url": f"api/files/{voice['file_id']}"}
        for key in ("location", "contact"):
            if key in data:
                view[key] = data[key]
        if "reply_to_message" in data:
            quoted = data["reply_to_message"]
            view["reply_to"] = {"message_id": quoted.get("message_id"),
                                "text": quoted.get("text") or quoted.get("caption") or ""}
        if "forward_origin" in data:
            sender = data["forward_origin"].get("sender_user", {})
            view["forwarded_from"] = sender.get("first_name", "")
        return view

    def _chat_state(self, user_id: int) -> dict[str, Any]:
        user = self.standin.get_user(user_id)
        return {
            "user_id": user_id,
            "messages": [self.message_view(m) for m in self.standin.messages(user_id)],
            "reply_keyboard": self.standin.reply_keyboard(user_id),
            "commands": self._menu(user_id),
            "blocked": bool(user and user.blocked),
        }

    def _menu(self, user_id: int) -> list[dict[str, Any]]:
        user = self.standin.get_user(user_id)
        return self.standin.commands_for(user_id, (user.language_code or "") if user else "")

    async def _current_labels(self) -> dict[int, str]:
        if self.role_labels is None:
            return {}
        try:
            return await self.role_labels([p["user_id"] for p in self.personas])
        except Exception:  # the list still shows, with the labels it started with
            log.exception("could not read the personas' current roles")
            return {}

    def _event_view(self, event: ChatEvent) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": event.kind, "chat_id": event.chat_id, "seq": event.seq}
        if event.message is not None:
            body["message"] = self.message_view(event.message)
        if event.answer is not None:
            answer = event.answer
            body["answer"] = {"text": answer.text, "show_alert": answer.show_alert,
                              "url": answer.url, "message_id": answer.message_id}
        if event.action is not None:
            body["action"] = event.action
        if event.kind == "keyboard":
            body["reply_keyboard"] = self.standin.reply_keyboard(event.chat_id)
        return body

    # ------------------------------------------------------------------ page and reading

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    async def _door_codes(self, request: web.Request) -> web.Response:
        """The sheet of door QR codes, drawn once (a few seconds: the CJK font is embedded)."""
        if self.door_sheet is None:
            raise web.HTTPNotFound(text="no door codes in this web chat")
        if self._door_pdf is None:
            self._door_pdf = await self.door_sheet()
        return web.Response(body=self._door_pdf, content_type="application/pdf",
                            headers={"Content-Disposition": 'inline; filename="door-codes.pdf"'})

    async def _config(self, request: web.Request) -> web.Response:
        return web.json_response({
            "title": self.title,
            "bot": {"name": self.standin.bot_first_name, "username": self.standin.bot_username},
            "personas": self.personas,
            "map": {"center": list(self.map_center), "span": self.map_span,
                    "points": self.map_points},
            "time_zone": self.time_zone,
            "door_sheet": self.door_sheet is not None,
        }, dumps=_dumps)

    async def _personas(self, request: web.Request) -> web.Response:
        labels = await self._current_labels()
        listed = []
        for persona in self.personas:
            messages = self.standin.messages(persona["user_id"])
            last = messages[-1] if messages else None
            label = labels.get(persona["user_id"]) or persona["role_label"]
            listed.append({**persona, "role_label": label, "last_text": _preview(last),
                           "count": len(messages)})
        return web.json_response(listed, dumps=_dumps)

    async def _messages(self, request: web.Request) -> web.Response:
        return web.json_response(self._chat_state(self._user_id(request)), dumps=_dumps)

    async def _commands(self, request: web.Request) -> web.Response:
        """The ☰ menu as the bot last set it for this person (it changes when they register)."""
        return web.json_response({"commands": self._menu(self._user_id(request))}, dumps=_dumps)

    async def _file(self, request: web.Request) -> web.Response:
        stored = self.standin.file(request.match_info["file_id"])
        if stored is None:
            raise web.HTTPNotFound(text="文件不存在")
        headers = {"Cache-Control": "max-age=3600"}
        if stored.file_name:
            headers["Content-Disposition"] = f"inline; filename*=UTF-8''{_quote(stored.file_name)}"
        return web.Response(body=stored.data,
                            content_type=stored.mime_type or "application/octet-stream",
                            headers=headers)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        """Server-Sent Events: every ChatEvent of every chat, as JSON."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                               "Cache-Control": "no-cache",
                                               "X-Accel-Buffering": "no"})
        await response.prepare(request)
        stream = self.standin.subscribe()
        self._streams.add(stream)
        try:
            await response.write(b"retry: 1000\nevent: ready\ndata: {}\n\n")
            while True:
                event = await stream.get(timeout=KEEPALIVE_SECONDS)
                if event is None:
                    if stream.closed:
                        break
                    await response.write(b": keepalive\n\n")
                    continue
                payload = _dumps(self._event_view(event))
                await response.write(f"data: {payload}\n\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            stream.close()
            self._streams.discard(stream)
        return response

    # ------------------------------------------------------------------ acting as a person

    def _user_id(self, request: web.Request) -> int:
        try:
            user_id = int(request.match_info["user_id"])
        except ValueError:
            raise web.HTTPNotFound(text="没有这个人") from None
        if self.standin.get_user(user_id) is None:
            raise web.HTTPNotFound(text="没有这个人")
        return user_id

    @staticmethod
    async def _json(request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise _client_error("请求格式不对") from None
        if not isinstance(body, dict):
            raise _client_error("请求格式不对")
        return body

    @staticmethod
    async def _uploads(
        request: web.Request,
    ) -> tuple[list[tuple[str, bytes, str | None]], str | None]:
        """Uploaded files ("file" fields, in order) and an optional caption."""
        files: list[tuple[str, bytes, str | None]] = []
        caption = None
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if part.name == "caption" and not part.filename:
                caption = (await part.text()).strip() or None
            elif part.filename:
                files.append((part.filename, bytes(await part.read()),
                              part.headers.get("Content-Type")))
        if not files:
            raise _client_error("没有收到文件")
        return files, caption

    async def _send_text(self, request: web.Request) -> web.Response:
        user_id = self._user_id(request)
        text = str((await self._json(request)).get("text", ""))
        if not text.strip():
            raise _client_error("消息不能为空")
        sent = self.standin.user_sends_text(user_id, text)
        return web.json_response({"sent": [sent["message_id"]]})

    def _send_pictures(self, user_id: int, pictures: list[bytes], caption: str | None) -> list[int]:
        sent: list[int] = []
        for start in range(0, len(pictures), MAX_ALBUM):
            chunk = pictures[start:start + MAX_ALBUM]
            chunk_caption = caption if start == 0 else None
            if len(chunk) == 1:
                photo = self.standin.user_sends_photo(user_id, chunk[0], chunk_caption)
                sent.append(photo["message_id"])
            else:
                sent += [m["message_id"] for m in
                         self.standin.user_sends_album(user_id, chunk, chunk_caption)]
        return sent

    async def _send_files(self, request: web.Request) -> web.Response:
        """Pictures go as a photo (several as one album); anything else as a document."""
        user_id = self._user_id(request)
        files, caption = await self._uploads(request)
        is_picture = [photo_problem(data) is None for _, data, _ in files]
        pictures = [f[1] for f, ok in zip(files, is_picture) if ok]
        others = [f for f, ok in zip(files, is_picture) if not ok]
        sent = self._send_pictures(user_id, pictures, caption) if pictures else []
        for index, (name, data, mime) in enumerate(others):
            first = not pictures and index == 0
            sent.append(self.standin.user_sends_document(
                user_id, data, name, mime, caption if first else None)["message_id"])
        return web.json_response({"sent": sent})

    async def _send_photos(self, request: web.Request) -> web.Response:
        user_id = self._user_id(request)
        files, caption = await self._uploads(request)
        for name, data, _ in files:
            problem = photo_problem(data)
            if problem:
                raise _client_error(f"{name} 不是可发送的图片（{problem}）")
        sent = self._send_pictures(user_id, [data for _, data, _ in files], caption)
        return web.json_response({"sent": sent})

    async def _send_documents(self, request: web.Request) -> web.Response:
        user_id = self._user_id(request)
        files, caption = await self._uploads(request)
        sent = [self.standin.user_sends_document(user_id, data, name, mime,
                                                 caption if i == 0 else None)["message_id"]
                for i, (name, data, mime) in enumerate(files)]
        return web.json_response({"sent": sent})

    async def _send_voice(self, request: web.Request) -> web.Response:
        """A voice note: a recording from the page's microphone button (multipart "file" and "duration"
        in seconds), or without a body the sample shipped in samples/voice_sample.ogg (3 s)."""
        user_id = self._user_id(request)
        if request.content_type.startswith("multipart/"):
            data, duration = b"", 0
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if part.name == "duration":
                    try:
                        duration = max(0, round(float(await part.text())))
                    except ValueError:
                        raise _client_error("录音时长不对") from None
                elif part.filename:
                    data = bytes(await part.read())
            if not data:
                raise _client_error("没有收到录音")
        else:
            data, duration = SAMPLE_VOICE.read_bytes(), 3
        sent = self.standin.user_sends_voice(user_id, data, duration)
        return web.json_response({"sent": [sent["message_id"]]})

    async def _send_location(self, request: web.Request) -> web.Response:
        user_id = self._user_id(request)
        body = await self._json(request)
        try:
            latitude, longitude = float(body["latitude"]), float(body["longitude"])
        except (KeyError, TypeError, ValueError):
            raise _client_error("请填写正确的纬度和经度") from None
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise _client_error("纬度应在 -90 到 90 之间，经度应在 -180 到 180 之间")
        sent = self.standin.user_sends_location(user_id, latitude, longitude)
        return web.json_response({"sent": [sent["message_id"]]})

    async def _send_contact(self, request: web.Request) -> web.Response:
        user_id = self._user_id(request)
        body = await self._json(request)
        sent = self.standin.user_shares_contact(user_id, body.get("phone_number") or None)
        return web.json_response({"sent": [sent["message_id"]]})

    async def _press(self, request: web.Request) -> web.Response:
        """An inline button ({message_id, data}) or a reply-keyboard button ({label})."""
        user_id = self._user_id(request)
        body = await self._json(request)
        try:
            if "label" in body:
                label = str(body["label"])
            else:
                message_id, data = int(body["message_id"]), str(body["data"])
        except (KeyError, TypeError, ValueError):
            raise _client_error("请求格式不对") from None
        try:
            if "label" in body:
                sent = self.standin.user_presses_reply_button(user_id, label)
                return web.json_response({"sent": [sent["message_id"]]})
            query_id = self.standin.user_presses_button(user_id, message_id, data)
        except ValueError as error:  # the message is gone, or no longer carries that button
            log.info("stale button in chat %s: %s", user_id, error)
            raise web.HTTPConflict(text=_dumps({"error": STALE_BUTTON, "stale": True}),
                                   content_type="application/json") from None
        return web.json_response({"query_id": query_id})

    async def _block(self, request: web.Request) -> web.Response:
        user_id = self._user_id(request)
        blocked = bool((await self._json(request)).get("blocked", True))
        self.standin.set_blocked(user_id, blocked)
        return web.json_response({"blocked": blocked})


def _client_error(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=_dumps({"error": message}), content_type="application/json")


def _quote(name: str) -> str:
    return quote(name, safe="")


def _preview(message: StoredMessage | None) -> str:
    if message is None:
        return ""
    labels = {"photo": "[图片]", "document": "[文件]", "location": "[位置]",
              "contact": "[名片]", "video": "[视频]", "audio": "[音频]"}
    text = message.text or ""
    label = labels.get(message.kind, "")
    return f"{label} {text}".strip()[:40]


# --------------------------------------------------------------------------- stand-alone demo


async def serve(
    personas: list[dict[str, Any]] | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    api_port: int = 8081,
    token: str | None = None,
) -> tuple[BotApiStandIn, WebChat]:
    """Start a stand-in and a web chat for it; returns both (stop them when done)."""
    standin = BotApiStandIn(token=token)
    api = await standin.start(host, api_port)
    webchat = WebChat(standin, personas or EXAMPLE_PERSONAS)
    url = await webchat.start(host, port)
    log.info("Bot API stand-in at %s, web chat at %s", api, url)
    return standin, webchat


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Offline Telegram stand-in with a web chat")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="web chat port")
    parser.add_argument("--api-port", type=int, default=8081, help="Bot API stand-in port")
    parser.add_argument("--personas", help="JSON file with a list of personas")
    args = parser.parse_args(argv)
    personas = json.loads(Path(args.personas).read_text("utf-8")) if args.personas else None
    logging.basicConfig(level=logging.INFO)

    async def run() -> None:
        standin, webchat = await serve(personas, host=args.host, port=args.port,
                                       api_port=args.api_port)
        print(f"Bot API base URL: {standin.base_url}")
        print(f"Web chat:         {webchat.url}")
        try:
            await asyncio.Event().wait()
        finally:
            await webchat.stop()
            await standin.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


if __name__ == "__main__":
    main()
