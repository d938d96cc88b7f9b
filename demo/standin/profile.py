"""The bot's own profile: getMe, logOut, close, setMyName/getMyName,
setMyDescription/getMyDescription, setMyShortDescription/getMyShortDescription."""

from __future__ import annotations

from typing import Any

from demo.standin.base import StandInState
from demo.standin.model import Call


class ProfileMixin(StandInState):
    """What the bot says about itself."""

    async def _m_getme(self, call: Call) -> dict[str, Any]:
        return {**self.bot_user, "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False, "can_connect_to_business": False,
                "has_main_web_app": False}

    async def _m_logout(self, call: Call) -> bool:
        return True

    async def _m_close(self, call: Call) -> bool:
        return True

    async def _m_setmydescription(self, call: Call) -> bool:
        self._bot_texts["description"] = call.text("description", "") or ""
        return True

    async def _m_getmydescription(self, call: Call) -> dict[str, Any]:
        return {"description": self._bot_texts.get("description", "")}

    async def _m_setmyshortdescription(self, call: Call) -> bool:
        self._bot_texts["short_description"] = call.text("short_description", "") or ""
        return True

    async def _m_getmyshortdescription(self, call: Call) -> dict[str, Any]:
        return {"short_description": self._bot_texts.get("short_description", "")}

    async def _m_setmyname(self, call: Call) -> bool:
        if call.text("name"):
            self.bot_first_name = call.text("name") or self.bot_first_name
        return True

    async def _m_getmyname(self, call: Call) -> dict[str, Any]:
        return {"name": self.bot_first_name}
