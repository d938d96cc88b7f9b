"""The HTTP face: the aiohttp app and its routes (`/bot<token>/<method>` and the file downloads of
files.py), starting and stopping the server, and reading a request's parameters (query string,
form, multipart or JSON body)."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from demo.standin.files import MAX_UPLOAD_BYTES, FilesMixin
from demo.standin.limits import LimitsMixin
from demo.standin.model import ApiError, Upload, bad, json_dumps
from demo.standin.updates import UpdatesMixin

log = logging.getLogger(__name__)


class ServerMixin(UpdatesMixin, FilesMixin, LimitsMixin):
    """Serving the Bot API over HTTP."""

    def _new_app(self) -> web.Application:
        """The aiohttp app: the Bot API route and the download route getFile's path points to."""
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{file_path:.+}", self._handle_file)
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve the API on host:port (0 picks a free port); returns the base URL."""
        self._closing = False
        self._runner = web.AppRunner(self.app, shutdown_timeout=2.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_port = self._runner.addresses[0][1]
        self.base_url = f"http://{host}:{bound_port}"
        return self.base_url

    async def stop(self) -> None:
        self._closing = True
        self._changed.notify()
        await self._stop_webhook_worker()
        for sub in list(self._subscriptions):
            sub.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _on_shutdown(self, app: web.Application) -> None:
        # Long polls would otherwise hold the shutdown for their whole timeout.
        self._closing = True
        self._changed.notify()

    async def _handle_api(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        method = request.match_info["method"].lower()
        try:
            if self.token is not None and token != self.token:
                raise ApiError(401, "Unauthorized")
            if method not in self._methods:
                raise ApiError(404, "Not Found")
            self._injected_fault(method)
            params, files = await read_request(request)
            result = await self.call(token, method, params, files)
            return web.json_response({"ok": True, "result": result}, dumps=json_dumps)
        except ApiError as error:
            return web.json_response(error.payload(), status=error.code, dumps=json_dumps)
        except Exception:  # a stand-in bug: answer like Telegram's 500 and keep serving
            log.exception("stand-in failed on %s", method)
            error = ApiError(500, "Internal Server Error: the stand-in failed, see its log")
            return web.json_response(error.payload(), status=500, dumps=json_dumps)


async def read_request(request: web.Request) -> tuple[dict[str, Any], dict[str, Upload]]:
    """Parameters from the query string and a form, multipart or JSON body."""
    params: dict[str, Any] = dict(request.query)
    files: dict[str, Upload] = {}
    if request.method != "POST" or not request.can_read_body:
        return params, files
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise bad("can't parse JSON request body") from None
        if isinstance(body, dict):
            params.update(body)
        return params, files
    form = await request.post()
    for key, value in form.items():
        if isinstance(value, web.FileField):
            files[key] = Upload(value.filename, value.file.read(), value.content_type)
        elif isinstance(value, (bytes, bytearray)):
            params[key] = bytes(value).decode("utf-8", "replace")
        else:
            params[key] = value
    return params, files
