"""Points ("积分") in the chat: /points (balance, history, the leaderboard) and the shop, /redeem."""

from __future__ import annotations

from aiogram.types import Message

from bot.config import Settings
from bot.handlers.volunteering.common import HISTORY_LINES, my_communities, when
from bot.scenes.volunteer import Redeem
from texts import Translator
from core import points_services
from core.cases import Actor
from core.people import Person, Roles
from core.ports import UnitOfWork


# ---- points --------------------------------------------------------------------------------------

async def points(message: Message, uow: UnitOfWork, person: Person, roles: Roles, tr: Translator,
                 settings: Settings, now) -> None:
    communities = my_communities(roles)
    if not communities:
        await message.answer(tr("points.nothing_yet"))
        return
    local = now.astimezone(settings.tz)
    for community_id in communities:
        community = await uow.places.community(community_id)
        lines = [tr("points.balance", community=community.name if community else "",
                    balance=await points_services.points_balance(uow, person.id, community_id))]
        history = await points_services.points_history(uow, person.id, community_id, limit=HISTORY_LINES)
        if history:
            lines.append(tr("points.history_title"))
            lines += [tr("points.entry", at=when(e.at, settings, tr, now), delta=f"{e.delta:+d}",
                         reason=tr(f"points.reason.{e.reason.value}"), note=e.note or "") for e in history]
        board = await points_services.leaderboard(uow, community_id, local.year, local.month)
        lines.append("")
        lines.append(tr("points.board_title", month=local.month))
        if board:
            for row in board:
                who = await uow.people.get(row.person_id)
                lines.append(tr("points.board_line", rank=row.rank, name=who.display_name if who else "—",
                                points=row.points))
        else:
            lines.append(tr("points.board_empty"))
        await message.answer("\n".join(lines))


async def redeem(message: Message, scenes, uow: UnitOfWork, person: Person, roles: Roles, tr: Translator) -> None:
    communities = await points_services.shop_communities(uow, Actor.of(person, roles))
    await scenes.enter(Redeem, community=communities[0])
