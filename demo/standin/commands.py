"""The command menu: setMyCommands, getMyCommands, deleteMyCommands per scope and language, the
menu a user's client would show (`commands_for`, resolved as Telegram does), and the menu button
(setChatMenuButton, getChatMenuButton)."""

from __future__ import annotations

import re
from typing import Any

from demo.standin.chats import ChatsMixin
from demo.standin.model import Call, bad

_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")


class CommandsMixin(ChatsMixin):
    """Commands per scope and the menu button."""

    async def _m_setmycommands(self, call: Call) -> bool:
        commands = call.json("commands", "commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad("commands must be a list of at most 100 items")
        for command in commands:
            if not _COMMAND_RE.fullmatch(str(command.get("command", ""))):
                raise bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise bad("BOT_COMMAND_DESCRIPTION_INVALID")
        key = scope_key(call.json("scope", "scope"), call.text("language_code", "") or "")
        self._commands[key] = [{"command": c["command"], "description": c["description"]}
                               for c in commands]
        return True

    async def _m_getmycommands(self, call: Call) -> list[dict[str, Any]]:
        key = scope_key(call.json("scope", "scope"), call.text("language_code", "") or "")
        return self._commands.get(key, [])

    async def _m_deletemycommands(self, call: Call) -> bool:
        key = scope_key(call.json("scope", "scope"), call.text("language_code", "") or "")
        self._commands.pop(key, None)
        return True

    def commands(self, scope: dict[str, Any] | None = None,
                 language_code: str = "") -> list[dict[str, Any]] | None:
        """Commands stored by setMyCommands for exactly this scope (None if never set)."""
        return self._commands.get(scope_key(scope, language_code))

    def commands_for(self, user_id: int, language_code: str = "") -> list[dict[str, Any]]:
        """The command menu a user's client would show, resolved like Telegram does."""
        scopes = [{"type": "chat", "chat_id": user_id}, {"type": "all_private_chats"},
                  {"type": "default"}]
        for scope in scopes:
            for lang in ([language_code, ""] if language_code else [""]):
                found = self._commands.get(scope_key(scope, lang))
                if found:
                    return found
        return []

    async def _m_setchatmenubutton(self, call: Call) -> bool:
        button = call.json("menu_button", "menu button") or {"type": "default"}
        if call.has("chat_id"):
            self._chat_for_send(call).menu_button = button
        else:
            self._default_menu_button = button
        return True

    async def _m_getchatmenubutton(self, call: Call) -> dict[str, Any]:
        return self.menu_button(call.integer("chat_id"))

    def menu_button(self, chat_id: int | None = None) -> dict[str, Any]:
        chat = self._chats.get(chat_id) if chat_id is not None else None
        return (chat.menu_button if chat and chat.menu_button else self._default_menu_button)


def scope_key(scope: dict[str, Any] | None,
              language_code: str) -> tuple[str, int | None, int | None, str]:
    scope = scope or {}
    chat_id = scope.get("chat_id")
    user_id = scope.get("user_id")
    return (scope.get("type", "default"),
            int(chat_id) if chat_id is not None else None,
            int(user_id) if user_id is not None else None,
            language_code or "")
