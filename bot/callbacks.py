"""Callback data of every inline button. Buttons carry ids only; handlers re-check them,
because a button press can be stale (an old message) or forged (any client can send any data)."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class PickPage(CallbackData, prefix="pg"):
    """Paging or going back in a pick list: level is community, compound or building."""

    level: str
    parent: int = 0
    page: int = 0


class PickCommunity(CallbackData, prefix="oc"):
    community: int


class PickCompound(CallbackData, prefix="op"):
    community: int
    compound: int


class PickBuilding(CallbackData, prefix="ob"):
    community: int
    compound: int
    building: int


class NearestBuilding(CallbackData, prefix="on"):
    building: int


class ChangeHome(CallbackData, prefix="ch"):
    pass


class SetLanguage(CallbackData, prefix="lg"):
    lang: str


class InviteRole(CallbackData, prefix="ir"):
    role: str
    community: int = 0


class InviteGrid(CallbackData, prefix="ig"):
    grid: int


class Vol(CallbackData, prefix="vo"):
    """A volunteering button: what to do, on which order or post (`ref`), for whom (`person`)."""

    action: str
    ref: str = ""
    person: int = 0
    arg: str = ""


class Theme(CallbackData, prefix="th"):
    """A /themes button: list a community's activities, ➕ add one there, 🗑 retire one (ask, then do,
    or keep). `ref` is the community (list, add) or the template (retire, retire_yes, keep)."""

    action: str
    ref: int = 0


class ConsentAnswer(CallbackData, prefix="cs"):
    """Agree (1) or not (0) to notice `version`; `start` carries a deep link's payload (an invite code)
    through the notice, since nothing about a newcomer is stored before they agree."""

    yes: int
    version: int
    start: str = ""


class LocationAnswer(CallbackData, prefix="lc"):
    yes: int


class ForgetStep(CallbackData, prefix="fg"):
    """/forget's two confirmations: step "1" (go on), "2" (delete now), "x" (cancel)."""

    step: str
