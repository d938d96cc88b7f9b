"""Party-member volunteering in the chat: "群众点单、社区派单、党员接单", hours and points.

Residents order a service with /ask; staff turn new orders into posts (/orders, /newpost) and
approve party members (/members); party members claim posts (/tasks), check in and out
(/mytasks); staff or the ordering resident confirm with stars; everyone sees their points
(/points) and staff record the points shop (/redeem). Staff keep the community's theme-day
activities (/themes: list, ➕ add, 🗑 retire), from which the scheduler makes the 28th's posts.

Every button carries only a number (an order, a post, a person) and every press goes through a
core service, which checks who may act — a forged or stale press is refused politely there.

One module per thing a person does (as in core/volunteering/); this file only wires commands and
presses to them:

    registration.py  /join_party, /members, approve or decline       ("双报到")
    orders.py        /orders (the resident's /ask is bot/scenes/ask.py) ("群众点单")
    posts.py         /newpost, /tasks, claim, /mytasks, withdraw, /posts, the roster ("社区派单、党员接单")
    attendance.py    check in/out, confirm with stars, no-show, check out for someone, lift a suspension
    points.py        /points, /redeem
    themes.py        /themes
    common.py        whose communities, how a post reads, answering a press
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, StateFilter

from bot.callbacks import Theme, Vol
from bot.handlers.volunteering.attendance import (
    on_check_out_for, on_confirm, on_duty, on_lift, on_no_show, on_rate,
)
from bot.handlers.volunteering.orders import on_order, order_desk
from bot.handlers.volunteering.points import points, redeem
from bot.handlers.volunteering.posts import (
    my_tasks, new_post, on_claim, on_my_tasks_button, on_new_post_community, on_roster, on_tasks_button,
    on_withdraw, staff_posts, tasks,
)
from bot.handlers.volunteering.registration import join_party, on_registration, pending_members
from bot.handlers.volunteering.themes import (
    on_theme_add, on_theme_keep, on_theme_list, on_theme_retire, on_theme_retire_yes, themes,
)
from bot.scenes.ask import SCENES as ASK_SCENES, start_ask
from bot.scenes.post import SCENES as POST_SCENES
from bot.scenes.theme import SCENES as THEME_SCENES
from bot.scenes.volunteer import SCENES as DUTY_SCENES


# ---- wiring ----------------------------------------------------------------------------------------

def make_router() -> Router:
    """A fresh router each time, so every Dispatcher (tests make many) owns its own."""
    router = Router(name="volunteering")
    router.message.register(join_party, Command("join_party"), StateFilter(None))
    router.message.register(pending_members, Command("members"))
    router.message.register(start_ask, Command("ask"), StateFilter(None))
    router.message.register(order_desk, Command("orders"))
    router.message.register(new_post, Command("newpost"), StateFilter(None))
    router.message.register(staff_posts, Command("posts"))
    router.message.register(tasks, Command("tasks"))
    router.message.register(my_tasks, Command("mytasks"))
    router.message.register(points, Command("points"))
    router.message.register(redeem, Command("redeem"), StateFilter(None))
    router.message.register(themes, Command("themes"))
    router.callback_query.register(on_registration, Vol.filter(F.action.in_({"reg_ok", "reg_no"})))
    router.callback_query.register(on_order, Vol.filter(F.action.in_({"dispatch", "odecline"})))
    router.callback_query.register(on_new_post_community, Vol.filter(F.action == "newpost"))
    router.callback_query.register(on_claim, Vol.filter(F.action.in_({"claim", "wait"})))
    router.callback_query.register(on_withdraw, Vol.filter(F.action == "withdraw"))
    router.callback_query.register(on_duty, Vol.filter(F.action.in_({"checkin", "checkout"})))
    router.callback_query.register(on_my_tasks_button, Vol.filter(F.action == "mytasks"))
    router.callback_query.register(on_tasks_button, Vol.filter(F.action == "tasks"))
    router.callback_query.register(on_rate, Vol.filter(F.action == "rate"))
    router.callback_query.register(on_confirm, Vol.filter(F.action == "confirm"))
    router.callback_query.register(on_no_show, Vol.filter(F.action == "noshow"))
    router.callback_query.register(on_check_out_for, Vol.filter(F.action == "outfor"))
    router.callback_query.register(on_lift, Vol.filter(F.action == "lift"))
    router.callback_query.register(on_roster, Vol.filter(F.action == "roster"))
    router.callback_query.register(on_theme_list, Theme.filter(F.action == "list"))
    router.callback_query.register(on_theme_add, Theme.filter(F.action == "add"))
    router.callback_query.register(on_theme_retire, Theme.filter(F.action == "retire"))
    router.callback_query.register(on_theme_retire_yes, Theme.filter(F.action == "retire_yes"))
    router.callback_query.register(on_theme_keep, Theme.filter(F.action == "keep"))
    return router


SCENES = (*ASK_SCENES, *POST_SCENES, *DUTY_SCENES, *THEME_SCENES)
