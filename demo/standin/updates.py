"""Getting updates (Telegram's section of that name): the queue of updates, getUpdates (one long
poll at a time: a newer one ends the older with 409), setWebhook, deleteWebhook, getWebhookInfo,
and the worker that pushes updates to the webhook in order and runs a method given in its reply."""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from typing import Any

import aiohttp

from demo.standin.base import StandInState
from demo.standin.model import ApiError, Call, Upload, WebhookConfig, bad, json_dumps, now

log = logging.getLogger(__name__)

# Update kinds Telegram leaves out when allowed_updates is empty or never given.
_NOT_DEFAULT_UPDATES = {"chat_member", "message_reaction", "message_reaction_count"}
_SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")


class UpdatesMixin(StandInState):
    """The update queue, long polling and webhook delivery."""

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        return list(self._updates)

    @property
    def long_polling(self) -> bool:
        """A getUpdates call is waiting for updates now."""
        return self._poll_owner is not None

    def _enqueue(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        self._last_update_id += 1
        update = {"update_id": self._last_update_id, kind: payload}
        self._updates.append(update)
        self._changed.notify()
        return update

    @staticmethod
    def _allowed(update: dict[str, Any], allowed: list[str] | None) -> bool:
        kind = next(k for k in update if k != "update_id")
        if not allowed:
            return kind not in _NOT_DEFAULT_UPDATES
        return kind in allowed

    def _drop_unwanted(self, allowed: list[str] | None) -> None:
        # Updates of kinds the bot opted out of are never delivered, as on Telegram.
        kept = [u for u in self._updates if self._allowed(u, allowed)]
        if len(kept) != len(self._updates):
            self._updates = deque(kept)

    async def _m_getupdates(self, call: Call) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is "
                                "active; use deleteWebhook to delete the webhook first")
        offset = call.integer("offset", 0) or 0
        limit = min(max(call.integer("limit", 100) or 100, 1), 100)
        timeout = max(call.integer("timeout", 0) or 0, 0)
        allowed = call.json("allowed_updates")
        if allowed is not None:
            self._allowed_updates = list(allowed)
        # A positive offset confirms everything before it; a negative one keeps the tail.
        if offset > 0:
            while self._updates and self._updates[0]["update_id"] < offset:
                self._updates.popleft()
        elif offset < 0:
            while len(self._updates) > -offset:
                self._updates.popleft()
        # Only one long poll at a time: a newer request ends an older one, as on Telegram.
        owner = object()
        self._poll_owner = owner
        self._changed.notify()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._poll_owner is not owner:
                raise ApiError(409, "Conflict: terminated by other getUpdates request; make "
                                    "sure that only one bot instance is running")
            if self.webhook is not None:
                return []
            self._drop_unwanted(self._allowed_updates)
            ready = list(self._updates)[:limit]
            remaining = deadline - loop.time()
            if ready or remaining <= 0 or self._closing:
                if self._poll_owner is owner:
                    self._poll_owner = None
                return ready
            await self._changed.wait(remaining)

    async def _m_setwebhook(self, call: Call) -> bool:
        url = call.text("url", "") or ""
        if not url:
            await self._remove_webhook(call.flag("drop_pending_updates"))
            return True
        if not url.startswith(("http://", "https://")):
            raise bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = call.text("secret_token")
        if secret is not None and not _SECRET_TOKEN_RE.fullmatch(secret):
            raise bad("secret token contains unallowed characters")
        allowed = call.json("allowed_updates")
        if allowed is not None:
            self._allowed_updates = list(allowed)
        if call.flag("drop_pending_updates"):
            self._updates.clear()
        self.webhook = WebhookConfig(
            url=url, token=call.token, secret_token=secret,
            max_connections=call.integer("max_connections", 40) or 40,
            allowed_updates=self._allowed_updates, ip_address=call.text("ip_address"),
        )
        self._poll_owner = None  # a long poll in progress ends (returns nothing)
        self._changed.notify()
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.create_task(self._webhook_worker())
        return True

    async def _m_deletewebhook(self, call: Call) -> bool:
        await self._remove_webhook(call.flag("drop_pending_updates"))
        return True

    async def _m_getwebhookinfo(self, call: Call) -> dict[str, Any]:
        hook = self.webhook
        if hook is None:
            return {"url": "", "has_custom_certificate": False,
                    "pending_update_count": len(self._updates)}
        info: dict[str, Any] = {"url": hook.url, "has_custom_certificate": False,
                                "pending_update_count": len(self._updates),
                                "max_connections": hook.max_connections}
        if hook.allowed_updates:
            info["allowed_updates"] = hook.allowed_updates
        if hook.ip_address:
            info["ip_address"] = hook.ip_address
        if hook.last_error_date:
            info["last_error_date"] = hook.last_error_date
            info["last_error_message"] = hook.last_error_message
        return info

    async def _remove_webhook(self, drop_pending: bool) -> None:
        self.webhook = None
        if drop_pending:
            self._updates.clear()
        self._changed.notify()
        await self._stop_webhook_worker()

    async def _stop_webhook_worker(self) -> None:
        task, self._webhook_task = self._webhook_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def _webhook_worker(self) -> None:
        """Push pending updates to the webhook as Telegram does: the updates of one chat one at a time
        and in order (the next only once the previous is answered with 2xx), different chats at once,
        up to the webhook's max_connections; a failure is retried after a pause."""
        in_flight: dict[Any, asyncio.Task[None]] = {}
        async with aiohttp.ClientSession() as session:
            try:
                while self.webhook is not None and not self._closing:
                    hook = self.webhook
                    self._drop_unwanted(hook.allowed_updates)
                    started = False
                    for update in list(self._updates):
                        if len(in_flight) >= hook.max_connections:
                            break
                        key = _queue_of(update)
                        if key in in_flight:
                            continue  # this chat has one in flight: its next waits, in order
                        in_flight[key] = asyncio.create_task(self._push(session, hook, update, key, in_flight))
                        started = True
                    if not started:
                        await self._changed.wait(1.0)
            finally:
                for task in in_flight.values():
                    task.cancel()

    async def _push(self, session: aiohttp.ClientSession, hook: WebhookConfig, update: dict[str, Any], key: Any,
                    in_flight: dict[Any, Any]) -> None:
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        error: str
        try:
            try:
                async with session.post(
                    hook.url, data=json_dumps(update).encode(), headers=headers,
                    timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
                ) as response:
                    if 200 <= response.status < 300:
                        for n, pending in enumerate(self._updates):
                            if pending is update:
                                del self._updates[n]
                                break
                        self.webhook_deliveries += 1
                        await self._run_webhook_reply(hook.token, response)
                        return
                    error = f"Wrong response from the webhook: {response.status} {response.reason}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = f"Connection failed: {type(exc).__name__}"
            hook.last_error_date = now()
            hook.last_error_message = error
            log.info("webhook delivery failed: %s", error)
            await asyncio.sleep(self.webhook_retry_delay)
        finally:
            in_flight.pop(key, None)
            self._changed.notify()

    async def _run_webhook_reply(self, token: str, response: aiohttp.ClientResponse) -> None:
        """A webhook may answer with a method call; Telegram runs it, so do we."""
        params: dict[str, Any]
        files: dict[str, Upload] = {}
        if response.content_type == "application/json":
            try:
                body = await response.json()
            except (ValueError, aiohttp.ContentTypeError):
                return
            if not isinstance(body, dict):
                return
            params = body
        elif response.content_type.startswith("multipart/"):
            params, files = await read_multipart(response)
        else:
            return
        method = params.pop("method", None)
        if not method:
            return
        try:
            await self.call(token, str(method), params, files)
        except ApiError as error:
            log.warning("method %s from webhook reply failed: %s", method, error.description)


def _queue_of(update: dict[str, Any]) -> Any:
    """Which queue an update waits in: its chat's (or its sender's), as Telegram's webhook keeps them."""
    body = next((v for k, v in update.items() if k != "update_id"), {})
    if isinstance(body, dict):
        chat = body.get("chat") or (body.get("message") or {}).get("chat")
        if isinstance(chat, dict) and "id" in chat:
            return ("chat", chat["id"])
        sender = body.get("from") or body.get("user")
        if isinstance(sender, dict) and "id" in sender:
            return ("user", sender["id"])
    return ("update", update["update_id"])


async def read_multipart(
    response: aiohttp.ClientResponse,
) -> tuple[dict[str, Any], dict[str, Upload]]:
    """Parameters of a multipart webhook reply (aiogram answers with a method this way)."""
    params: dict[str, Any] = {}
    files: dict[str, Upload] = {}
    reader = aiohttp.MultipartReader(response.headers, response.content)
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
            continue
        data = bytes(await part.read())
        if part.filename:
            files[part.name] = Upload(part.filename, data, part.headers.get("Content-Type"))
        else:
            params[part.name] = data.decode("utf-8", "replace")
    return params, files
