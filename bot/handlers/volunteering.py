"""Party-member volunteering in the chat: "群众点单、社区派单、党员接单", hours and points.

Residents order a service with /ask; staff turn new orders into posts (/orders, /newpost) and
approve party members (/members); party members claim posts (/tasks), check in and out
(/mytasks); staff or the ordering resident confirm with stars; everyone sees their points
(/points) and staff record the points shop (/redeem). Staff keep the community's theme-day
activities (/themes: list, ➕ add, 🗑 retire), from which the scheduler makes the 28th's posts.

Every button carries only a number (an order, a post, a person) and every press goes through a
core service, which checks who may act — a forged or stale press is refused politely there.
"""

from __future__ import annotations

from datetime import datetime

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.callbacks import Theme, Vol
from bot.keyboards import button, column, roster_button, rows_of, star_rows
from bot.scenes.ask import SCENES as ASK_SCENES, start_ask
from bot.scenes.post import SCENES as POST_SCENES, PostTitle
from bot.scenes.theme import SCENES as THEME_SCENES, ThemeTitle, theme_card
from bot.scenes.volunteer import SCENES as DUTY_SCENES, CheckIn, CheckOut, JoinParty, Reason, Redeem
from bot.texts import Translator, moment_text
from core import points_services, theme_day_services
from core.volunteering import attendance_services, orders_services, posts_services, registration_services
from core.cases import Actor
from core.people import Person, Role, Roles
from core.ports import UnitOfWork
from core.theme_day import ThemeDayTemplate
from core.volunteering.attendance import hours_served
from core.volunteering.common import ClaimState, PostFull, PostState
from core.volunteering.posts import Post
from bot.config import Settings

HISTORY_LINES = 5


# ---- who is who ----------------------------------------------------------------------------------

def member_communities(roles: Roles) -> list[int]:
    return sorted({g.community_id for g in roles.grants if g.role == Role.PARTY_MEMBER and g.community_id})


def my_communities(roles: Roles) -> list[int]:
    """Every community the person belongs to in some role (points are kept per community)."""
    return sorted({g.community_id for g in roles.grants if g.community_id})


# ---- how things read -----------------------------------------------------------------------------

def when(moment: datetime, settings: Settings, tr: Translator, now: datetime) -> str:
    return moment_text(tr.lang, moment, settings.tz, now)


def hours_of(post: Post) -> str:
    hours = post.length.total_seconds() / 3600
    return str(int(hours)) if hours.is_integer() else f"{hours:.1f}"


def post_text(post: Post, tr: Translator, settings: Settings, now: datetime, *, show_place: bool) -> str:
    """A post as members read it; a post made from a resident's order hides the place (the
    resident's home, PIPL) until the member holds a place on it."""
    place = post.place if show_place or post.order_number is None else tr("post.place_after_claim")
    text = tr("post.card", title=post.title, when=when(post.starts_at, settings, tr, now), hours=hours_of(post),
              place=place, taken=post.places_taken, capacity=post.capacity, points=post.points_per_person,
              number=post.number)
    if post.template_id is not None:
        text = tr("post.theme_day") + " " + text
    if post.state == PostState.FULL:
        text += "\n" + tr("post.is_full")
    return text


# ---- buttons -------------------------------------------------------------------------------------

def registration_buttons(person_id: int, community_id: int, tr: Translator) -> InlineKeyboardMarkup:
    """✅ / ✖ on a "双报到" request; the community rides along (`arg`) so the press needs no search."""
    def press(label: str, action: str):
        return button(tr(label), Vol(action=action, person=person_id, arg=str(community_id) if community_id else ""))

    return InlineKeyboardMarkup(inline_keyboard=[[press("vol.btn.approve", "reg_ok"),
                                                  press("vol.btn.decline", "reg_no")]])


def order_buttons(number: str, tr: Translator) -> InlineKeyboardMarkup:
    return column([(tr("vol.btn.make_post"), Vol(action="dispatch", ref=number)),
                   (tr("vol.btn.decline_order"), Vol(action="odecline", ref=number))])


def claim_button(post: Post | str, tr: Translator, full: bool = False) -> InlineKeyboardMarkup:
    number = post if isinstance(post, str) else post.number
    if not isinstance(post, str) and post.state == PostState.FULL:
        full = True
    if full:
        return column([(tr("vol.btn.waitlist"), Vol(action="wait", ref=number))])
    return column([(tr("vol.btn.claim"), Vol(action="claim", ref=number))])


def star_buttons(post_number: str, person_id: int, tr: Translator) -> InlineKeyboardMarkup:
    return star_rows(lambda r: Vol(action="rate", ref=post_number, person=person_id, arg=str(r)))


def my_claim_buttons(state: ClaimState, number: str, tr: Translator) -> InlineKeyboardMarkup | None:
    if state == ClaimState.CLAIMED:
        return column([(tr("vol.btn.check_in"), Vol(action="checkin", ref=number)),
                       (tr("vol.btn.withdraw"), Vol(action="withdraw", ref=number))])
    if state == ClaimState.WAITLISTED:
        return column([(tr("vol.btn.leave_waitlist"), Vol(action="withdraw", ref=number))])
    if state == ClaimState.CHECKED_IN:
        return column([(tr("vol.btn.check_out"), Vol(action="checkout", ref=number))])
    return None


async def _done(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Acknowledge the press, drop the old buttons so they cannot be pressed twice, say what happened."""
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        await query.message.answer(text, reply_markup=markup)


# ---- registration ("双报到") ----------------------------------------------------------------------

async def join_party(message: Message, scenes, uow: UnitOfWork, person: Person, roles: Roles, tr: Translator) -> None:
    if member_communities(roles):
        community = await uow.places.community(member_communities(roles)[0])
        await message.answer(tr("party.already_member", community=community.name if community else ""))
        return
    if any(g.role == Role.PARTY_MEMBER for g in roles.pending):
        await message.answer(tr("party.registration_pending"))
        return
    home = next((g.community_id for g in roles.grants if g.role == Role.RESIDENT and g.community_id), 0)
    await scenes.enter(JoinParty, community=home)


async def pending_members(message: Message, uow: UnitOfWork, person: Person, roles: Roles, tr: Translator) -> None:
    waiting = await registration_services.pending_members(uow, Actor.of(person, roles))
    for community, who, grant in waiting:
        await message.answer(tr("party.pending_line", name=who.display_name, work_unit=grant.work_unit or "—"),
                             reply_markup=registration_buttons(who.id, community, tr))
    if not waiting:
        await message.answer(tr("party.none_pending"))


async def on_registration(query: CallbackQuery, callback_data: Vol, scenes, uow: UnitOfWork, person: Person,
                          roles: Roles, tr: Translator, now) -> None:
    if callback_data.arg and not callback_data.arg.isdigit():
        await query.answer(tr("error.stale_button"), show_alert=True)
        return
    community, who = await registration_services.registration_to_decide(
        uow, Actor.of(person, roles), callback_data.person, int(callback_data.arg) if callback_data.arg else None)
    if callback_data.action == "reg_ok":
        await registration_services.approve_registration(uow, Actor.of(person, roles), callback_data.person, community,
                                                         now)
        await _done(query, tr("party.approved_done", name=who.display_name if who else ""))
        return
    await query.answer()
    await query.message.edit_reply_markup(reply_markup=None)
    await scenes.enter(Reason, what="registration", ref=who.display_name if who else "",
                       person_id=callback_data.person, community=community)


# ---- orders: the staff desk ----------------------------------------------------------------------

async def order_desk(message: Message, uow: UnitOfWork, person: Person, roles: Roles, tr: Translator,
                     settings: Settings, now) -> None:
    orders = await orders_services.order_desk(uow, Actor.of(person, roles))
    if not orders:
        await message.answer(tr("order.none"))
        return
    await message.answer(tr("order.desk_title", count=len(orders)))
    for order in orders:
        await message.answer(tr("order.card", order=order.number, kind=tr(f"service.{order.kind.value}"),
                                words=order.description or tr("report.no_words"), when=order.preferred_time,
                                place=order.place, at=when(order.created_at, settings, tr, now)),
                             reply_markup=order_buttons(order.number, tr))


async def on_order(query: CallbackQuery, callback_data: Vol, scenes, uow: UnitOfWork, person: Person, roles: Roles,
                   tr: Translator) -> None:
    order = await orders_services.order_to_decide(uow, Actor.of(person, roles), callback_data.ref)
    await query.answer()
    await query.message.edit_reply_markup(reply_markup=None)
    if callback_data.action == "dispatch":
        await scenes.enter(PostTitle, community=order.community_id, order=order.number,
                           title=tr(f"service_title.{order.kind.value}"), place=order.place)
    else:
        await scenes.enter(Reason, what="order", ref=order.number)


async def new_post(message: Message, scenes, uow: UnitOfWork, person: Person, roles: Roles, tr: Translator) -> None:
    communities = await posts_services.post_communities(uow, Actor.of(person, roles))
    if len(communities) == 1:
        await scenes.enter(PostTitle, community=communities[0])
        return
    names = [(await uow.places.community(c), c) for c in communities]
    await message.answer(tr("post.pick_community"), reply_markup=column(
        [(place.name, Vol(action="newpost", person=c)) for place, c in names if place]))


async def on_new_post_community(query: CallbackQuery, callback_data: Vol, scenes, uow: UnitOfWork, person: Person,
                                roles: Roles) -> None:
    await posts_services.post_communities(uow, Actor.of(person, roles), callback_data.person)
    await query.answer()
    await query.message.edit_reply_markup(reply_markup=None)
    await scenes.enter(PostTitle, community=callback_data.person)


# ---- posts: party members claim ------------------------------------------------------------------

async def tasks(message: Message, uow: UnitOfWork, roles: Roles, tr: Translator, settings: Settings, now) -> None:
    communities = member_communities(roles)
    if not communities:
        pending = any(g.role == Role.PARTY_MEMBER for g in roles.pending)
        await message.answer(tr("party.registration_pending" if pending else "tasks.members_only"))
        return
    posts = [p for c in communities for p in await posts_services.open_posts(uow, c, now)]
    if not posts:
        await message.answer(tr("tasks.none"))
        return
    await message.answer(tr("tasks.title", count=len(posts)))
    for post in posts:
        await message.answer(post_text(post, tr, settings, now, show_place=False), reply_markup=claim_button(post, tr))


async def on_claim(query: CallbackQuery, callback_data: Vol, uow: UnitOfWork, person: Person, roles: Roles,
                   tr: Translator, settings: Settings, volunteer_policy, now) -> None:
    number = callback_data.ref
    try:
        claim = await posts_services.claim_post(uow, volunteer_policy, Actor.of(person, roles), number, now,
                                                waitlist=callback_data.action == "wait")
    except PostFull:
        # the last place went to someone else (perhaps in the same instant): offer the waitlist
        await uow.rollback()
        await query.answer(tr("post.full"), show_alert=True)
        await query.message.answer(tr("post.full_offer", post=number), reply_markup=claim_button(number, tr, True))
        return
    post = await posts_services.post_by_number(uow, number)
    if claim.state == ClaimState.WAITLISTED:
        await _done(query, tr("post.waitlisted", title=post.title, post=number))
        return
    await _done(query, tr("post.claimed", title=post.title) + "\n\n" + post_text(post, tr, settings, now, show_place=True),
                my_claim_buttons(claim.state, number, tr))


async def my_tasks(message: Message, uow: UnitOfWork, person: Person, tr: Translator, settings: Settings,
                   now) -> None:
    claims = await posts_services.my_claims(uow, person.id, now)
    if not claims:
        await message.answer(tr("mytasks.none"))
        return
    await message.answer(tr("mytasks.title"))
    for claim, post in claims:
        text = post_text(post, tr, settings, now, show_place=claim.holds_place) + "\n" + tr(f"claim.{claim.state.value}")
        await message.answer(text, reply_markup=my_claim_buttons(claim.state, post.number, tr))


async def on_tasks_button(query: CallbackQuery, uow: UnitOfWork, roles: Roles, tr: Translator,
                          settings: Settings, now) -> None:
    await query.answer()
    await tasks(query.message, uow, roles, tr, settings, now)


async def on_my_tasks_button(query: CallbackQuery, uow: UnitOfWork, person: Person, tr: Translator,
                             settings: Settings, now) -> None:
    await query.answer()
    await my_tasks(query.message, uow, person, tr, settings, now)


async def on_withdraw(query: CallbackQuery, callback_data: Vol, uow: UnitOfWork, person: Person, roles: Roles,
                      tr: Translator, volunteer_policy, now) -> None:
    await posts_services.withdraw_claim(uow, volunteer_policy, Actor.of(person, roles), callback_data.ref, now)
    await _done(query, tr("post.withdrawn", post=callback_data.ref))


async def on_duty(query: CallbackQuery, callback_data: Vol, scenes, uow: UnitOfWork, person: Person, roles: Roles,
                  now) -> None:
    """Check in or out: core decides at the press (one's own claim, the right state, check-in's time
    window), so nobody is asked for a photo that would then be refused."""
    checking_in = callback_data.action == "checkin"
    may = attendance_services.may_check_in if checking_in else attendance_services.may_check_out
    await may(uow, Actor.of(person, roles), callback_data.ref, now)
    await query.answer()
    await query.message.edit_reply_markup(reply_markup=None)
    await scenes.enter(CheckIn if checking_in else CheckOut, post=callback_data.ref)


# ---- confirming, no-shows and suspensions (staff; the ordering resident confirms too) -------------

async def on_rate(query: CallbackQuery, callback_data: Vol, uow: UnitOfWork, person: Person, roles: Roles,
                  tr: Translator, volunteer_policy, now) -> None:
    if callback_data.arg not in {"1", "2", "3", "4", "5"}:
        await query.answer(tr("error.stale_button"), show_alert=True)
        return
    await attendance_services.confirm_service(uow, volunteer_policy, Actor.of(person, roles), callback_data.ref,
                                              callback_data.person, now, rating=int(callback_data.arg))
    who = await uow.people.get(callback_data.person)
    await _done(query, tr("post.confirmed_done", name=who.display_name if who else "", rating=callback_data.arg,
                          post=callback_data.ref))


async def on_no_show(query: CallbackQuery, callback_data: Vol, uow: UnitOfWork, person: Person, roles: Roles,
                     tr: Translator, volunteer_policy, now) -> None:
    standing = await attendance_services.mark_no_show(uow, volunteer_policy, Actor.of(person, roles), callback_data.ref,
                                                      callback_data.person, now)
    who = await uow.people.get(callback_data.person)
    name = who.display_name if who else ""
    if standing.suspended:
        await _done(query, tr("post.no_show_suspended", name=name, count=standing.no_shows), column(
            [(tr("vol.btn.lift"), Vol(action="lift", person=callback_data.person, arg=str(standing.community_id)))]))
    else:
        await _done(query, tr("post.no_show_done", name=name, count=standing.no_shows))


async def on_lift(query: CallbackQuery, callback_data: Vol, uow: UnitOfWork, person: Person, roles: Roles,
                  tr: Translator, now) -> None:
    if not callback_data.arg.isdigit():
        await query.answer(tr("error.stale_button"), show_alert=True)
        return
    await attendance_services.lift_suspension(uow, Actor.of(person, roles), callback_data.person, int(callback_data.arg),
                                              now)
    who = await uow.people.get(callback_data.person)
    await _done(query, tr("post.suspension_lifted_done", name=who.display_name if who else ""))


async def staff_posts(message: Message, uow: UnitOfWork, person: Person, roles: Roles, tr: Translator, settings: Settings,
                      now) -> None:
    """/posts: the community's posts that started but still wait for staff (a no-show to mark, a
    service to confirm), then its coming posts; each with its roster."""
    unsettled, posts = await posts_services.staff_posts(uow, Actor.of(person, roles), now)
    if unsettled:
        await message.answer(tr("posts.unsettled_title", count=len(unsettled)))
        for post in unsettled:
            await message.answer(post_text(post, tr, settings, now, show_place=True),
                                 reply_markup=roster_button(post.number, tr))
        if posts:
            await message.answer(tr("posts.coming_title", count=len(posts)))
    if not posts:
        if not unsettled:
            await message.answer(tr("posts.none"))
        return
    for post in posts:
        await message.answer(post_text(post, tr, settings, now, show_place=True), reply_markup=roster_button(post.number, tr))


async def on_roster(query: CallbackQuery, callback_data: Vol, uow: UnitOfWork, person: Person, roles: Roles,
                    tr: Translator, settings: Settings, now) -> None:
    shown = await posts_services.roster(uow, Actor.of(person, roles), callback_data.ref)
    post, claims, names = shown.post, shown.claims, shown.names
    await query.answer()
    lines, rows = [tr("roster.title", title=post.title, post=post.number)], []
    for claim in claims:
        name = names[claim.person_id]
        lines.append(tr("roster.line", name=name, state=tr(f"state.{claim.state.value}")))
        if claim.state == ClaimState.CLAIMED:
            rows.append((tr("vol.btn.no_show", name=name), Vol(action="noshow", ref=post.number, person=claim.person_id)))
        elif claim.state == ClaimState.CHECKED_IN and now >= post.ends_at:   # forgot to check out
            rows.append((tr("vol.btn.check_out_for", name=name), Vol(action="outfor", ref=post.number,
                                                                     person=claim.person_id)))
        elif claim.state == ClaimState.CHECKED_OUT:
            rows.append((tr("vol.btn.confirm", name=name), Vol(action="confirm", ref=post.number,
                                                               person=claim.person_id)))
    if not claims:
        lines.append(tr("roster.empty"))
    await query.message.answer("\n".join(lines), reply_markup=column(rows) if rows else None)


async def on_check_out_for(query: CallbackQuery, callback_data: Vol, uow: UnitOfWork, person: Person, roles: Roles,
                           tr: Translator, now) -> None:
    """Staff check out a member who forgot to, after the post ended (the core checks who and when);
    the hours run to the post's end. Then ⭐ confirm, as for any checked-out member."""
    claim = await attendance_services.check_out_for(uow, Actor.of(person, roles), callback_data.ref, callback_data.person,
                                                    now)
    post = await posts_services.post_by_number(uow, callback_data.ref)
    who = await uow.people.get(callback_data.person)
    name = who.display_name if who else ""
    hours = round(hours_served(claim, post).total_seconds() / 3600, 1)
    await _done(query, tr("post.checked_out_for_done", name=name, hours=hours, post=post.number), column(
        [(tr("vol.btn.confirm", name=name), Vol(action="confirm", ref=post.number, person=callback_data.person))]))


async def on_confirm(query: CallbackQuery, callback_data: Vol, tr: Translator) -> None:
    """Staff pressed "confirm" on a roster line: ask for the stars (the press itself changes nothing)."""
    await query.answer()
    await query.message.answer(tr("post.rate"), reply_markup=star_buttons(callback_data.ref, callback_data.person, tr))


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


# ---- theme-day activities (主题党日 templates) ---------------------------------------------------

def theme_text(template: ThemeDayTemplate, tr: Translator) -> str:
    return theme_card(tr, title=template.title, activity=template.activity.value, place=template.place,
                      capacity=template.capacity, points=template.points_per_person,
                      hours=template.duration.total_seconds() / 3600,
                      workday_starts=template.workday_starts.strftime("%H:%M") if template.workday_starts else None,
                      rest_day_starts=template.rest_day_starts.strftime("%H:%M"))


async def show_themes(message: Message, uow: UnitOfWork, by: Actor, community_id: int, tr: Translator) -> None:
    """The community's active activities, each with 🗑, then ➕ to add one."""
    community, templates = await theme_day_services.theme_desk(uow, by, community_id)
    name = community.name if community else ""
    if templates:
        await message.answer(tr("theme.list_title", community=name, count=len(templates)))
    else:
        await message.answer(tr("theme.none", community=name))
    for template in templates:
        await message.answer(theme_text(template, tr),
                             reply_markup=column([(tr("theme.btn.retire"), Theme(action="retire", ref=template.id))]))
    await message.answer(tr("theme.add_hint"), reply_markup=column([(tr("theme.btn.add"),
                                                                    Theme(action="add", ref=community_id))]))


async def themes(message: Message, uow: UnitOfWork, person: Person, roles: Roles, tr: Translator) -> None:
    communities = await theme_day_services.template_communities(uow, Actor.of(person, roles))
    if len(communities) == 1:
        await show_themes(message, uow, Actor.of(person, roles), communities[0], tr)
        return
    names = [(await uow.places.community(c), c) for c in communities]
    await message.answer(tr("theme.pick_community"), reply_markup=column(
        [(place.name, Theme(action="list", ref=c)) for place, c in names if place]))


async def on_theme_list(query: CallbackQuery, callback_data: Theme, uow: UnitOfWork, person: Person, roles: Roles,
                        tr: Translator) -> None:
    by = Actor.of(person, roles)
    theme_day_services.may_define_template(by, callback_data.ref)  # refused before the press is answered
    await query.answer()
    await show_themes(query.message, uow, by, callback_data.ref, tr)


async def on_theme_add(query: CallbackQuery, callback_data: Theme, scenes, person: Person, roles: Roles) -> None:
    theme_day_services.may_define_template(Actor.of(person, roles), callback_data.ref)
    await query.answer()
    await scenes.enter(ThemeTitle, community=callback_data.ref)


async def on_theme_retire(query: CallbackQuery, callback_data: Theme, uow: UnitOfWork, person: Person, roles: Roles,
                          tr: Translator) -> None:
    """🗑 asks first (the press changes nothing); ✅ retires through core, which checks who may."""
    template = await theme_day_services.template_to_retire(uow, Actor.of(person, roles), callback_data.ref)
    if not template.active:
        await query.answer(tr("theme.already_retired", title=template.title), show_alert=True)
        return
    await query.answer()
    await query.message.answer(tr("theme.ask_retire", title=template.title), reply_markup=rows_of([[
        (tr("theme.btn.retire_yes"), Theme(action="retire_yes", ref=template.id)),
        (tr("theme.btn.keep"), Theme(action="keep", ref=template.id))]]))


async def on_theme_retire_yes(query: CallbackQuery, callback_data: Theme, uow: UnitOfWork, person: Person,
                              roles: Roles, tr: Translator, now) -> None:
    template = await theme_day_services.retire_template(uow, Actor.of(person, roles), callback_data.ref, now)
    await _done(query, tr("theme.retired", title=template.title))


async def on_theme_keep(query: CallbackQuery, tr: Translator) -> None:
    await query.answer()
    await query.message.edit_text(tr("theme.kept"), reply_markup=None)


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
