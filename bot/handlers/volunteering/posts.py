"""Posts and claims ("社区派单、党员接单") in the chat: /newpost, /tasks and claiming, /mytasks and
withdrawing, the staff's /posts and a post's roster."""

from __future__ import annotations

from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.callbacks import Vol
from bot.config import Settings
from bot.handlers.volunteering.common import done, member_communities, post_text
from bot.keyboards import column, roster_button
from bot.scenes.post import PostTitle
from texts import Translator
from core.cases import Actor
from core.people import Person, Role, Roles
from core.ports import UnitOfWork
from core.volunteering import posts_services
from core.volunteering.common import ClaimState, PostFull, PostState
from core.volunteering.posts import Post


def claim_button(post: Post | str, tr: Translator, full: bool = False) -> InlineKeyboardMarkup:
    number = post if isinstance(post, str) else post.number
    if not isinstance(post, str) and post.state == PostState.FULL:
        full = True
    if full:
        return column([(tr("vol.btn.waitlist"), Vol(action="wait", ref=number))])
    return column([(tr("vol.btn.claim"), Vol(action="claim", ref=number))])


def my_claim_buttons(state: ClaimState, number: str, tr: Translator) -> InlineKeyboardMarkup | None:
    if state == ClaimState.CLAIMED:
        return column([(tr("vol.btn.check_in"), Vol(action="checkin", ref=number)),
                       (tr("vol.btn.withdraw"), Vol(action="withdraw", ref=number))])
    if state == ClaimState.WAITLISTED:
        return column([(tr("vol.btn.leave_waitlist"), Vol(action="withdraw", ref=number))])
    if state == ClaimState.CHECKED_IN:
        return column([(tr("vol.btn.check_out"), Vol(action="checkout", ref=number))])
    return None


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
        await done(query, tr("post.waitlisted", title=post.title, post=number))
        return
    await done(query, tr("post.claimed", title=post.title) + "\n\n" + post_text(post, tr, settings, now, show_place=True),
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
    await done(query, tr("post.withdrawn", post=callback_data.ref))


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
