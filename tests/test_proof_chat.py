"""Proof on the spot ("现场确认", issue #20) in the chat, through the real Dispatcher (tests/botkit.py):
the grid member resolves with a one-tap location near the building, far away, or skips it with a
reason; a location at the wrong step is not used; staff see what lacks proof on /desk."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from aiogram.fsm.storage.base import StorageKey

from bot.handlers.cases import act
from core import cases_services
from core.cases import Actor, CaseState, Category, PhotoKind, PhotoRef
from core.onboarding import roles_of
from core.people import Role, RoleGrant
from redgrid.bootstrap import report_policy
from tests.test_privacy_limits_chat import chat, person_of, registered, with_role  # noqa: F401 (fixture)

BEIJING = (39.9042, 116.4074)


def near_3(metres: float) -> tuple[float, float]:
    """A point `metres` north of 3号楼 (32.7056, 116.7108)."""
    return 32.7056 + math.degrees(metres / 6_371_008.8), 116.7108


async def grid_member(chat, name: str = "李网格员", *, location_agreed: bool = True):
    li = chat.person(name)
    world = chat.world
    person = await with_role(chat, li, RoleGrant(None, 0, Role.GRID_MEMBER, community_id=world.communities["东城社区"].id,
                                                 grid_id=world.grids["粮食局第一网格"].id))
    if location_agreed:
        async with chat.db.uow() as uow:
            await uow.people.update(replace(person, location_agreed_at=chat.clock.now()))
            await uow.commit()
    return li, person


async def case_in_progress(chat, reporter, handler, seq: int = 1) -> str:
    """A case at 3号楼, reported by `reporter` and accepted by its grid member `handler`."""
    async with chat.db.uow() as uow:
        by = Actor(reporter.id, await roles_of(uow, reporter))
        case = await cases_services.report_problem(
            uow, report_policy(chat.settings), by, chat.world.buildings["3号楼"].id, Category.LIGHTS,
            [PhotoRef(f"{seq:064d}", PhotoKind.BEFORE)], "楼道灯坏了", chat.clock.now())
        assert case.handler_id == handler.id
        await cases_services.accept_case(uow, Actor(handler.id, await roles_of(uow, handler)), case.number,
                                         chat.clock.now())
        await uow.commit()
    return case.number


async def at_note_step(chat, li, number: str, sha: str = "f" * 64) -> None:
    """Press ✅ resolve and have the after-photo in the dialog (botkit downloads nothing: the photo goes
    into the dialog's data as the photo step would put it)."""
    await li.presses_data(act("resolve", number).pack())
    await li.sees("请发送处理后的照片")
    key = StorageKey(bot_id=chat.bot.id, chat_id=li.id, user_id=li.id)
    data = await chat.dp.fsm.storage.get_data(key)
    await chat.dp.fsm.storage.set_data(key, {**data, "after": {"sha256": sha, "width": 800, "height": 600,
                                                               "dhash": None}, "count": 1})


async def case_now(chat, number: str):
    async with chat.db.uow() as uow:
        return await uow.cases.by_number(number)


async def test_resolved_with_a_location_near_the_building_says_on_the_spot_on_the_card_and_in_my(chat):
    wang, wang_person = await registered(chat, "王阿姨")
    li, li_person = await grid_member(chat, location_agreed=False)
    number = await case_in_progress(chat, wang_person, li_person)
    await at_note_step(chat, li, number)
    await li.sends_text("换了新灯泡")
    await li.sees("最后一步")
    assert (await case_now(chat, number)).state == CaseState.IN_PROGRESS   # nothing resolved before the proof
    await li.sends_location(*near_3(40))
    await li.sees("同意")                    # a precise location is asked for once (PIPL), then sent again
    await li.presses("✅ 同意使用位置")
    await li.sends_location(*near_3(40))
    done = await li.sees("已提交")
    assert "现场确认（距楼栋 40 米）" in done.text
    case = await case_now(chat, number)
    assert case.state == CaseState.RESOLVED and case.on_site is True and round(case.proof_distance_m) == 40
    async with chat.db.uow() as uow:
        resolved = [e for e in await uow.events.of("case", number) if e.kind == "resolved"][-1]
    assert resolved.after["on_site"] is True and resolved.after["distance_m"] == 40
    assert not {"lat", "lon", "latitude", "longitude"} & set(resolved.after)   # the verdict, not the position
    await wang.sends_text("/my")
    mine = await wang.sees("您反映的问题")
    assert any(number in b and "现场确认" in b for b in mine.buttons)
    # the card and the story say it too
    from texts import Translator
    from texts.cases import card_words, case_history
    tr = Translator("zh")
    assert "现场确认" in card_words(case, tr, chat.settings.tz, chat.clock.now())["subtitle_lines"]
    async with chat.db.uow() as uow:
        story = await case_history(uow, case, tr, chat.settings.tz, chat.clock.now())
    assert "现场确认（40 米）" in story


async def test_resolved_far_away_is_resolved_and_flagged_on_the_desk(chat):
    wang, wang_person = await registered(chat, "王阿姨")
    li, li_person = await grid_member(chat)
    chen = chat.person("陈书记")
    await with_role(chat, chen, RoleGrant(None, 0, Role.STAFF, community_id=chat.world.communities["东城社区"].id))
    number = await case_in_progress(chat, wang_person, li_person)
    await chen.sends_text("/desk")
    await chen.sees("没有")                   # nothing waits for the desk yet
    await at_note_step(chat, li, number)
    await li.sends_text("换了新灯泡")
    await li.sends_location(*BEIJING)        # a location from another city
    done = await li.sees("已提交")
    assert "未现场确认" in done.text
    case = await case_now(chat, number)
    assert case.state == CaseState.RESOLVED and case.on_site is False and case.proof_distance_m > 700_000
    await chen.sends_text("/desk")
    desk = await chen.sees("待分派")
    assert any(number in b and "未现场确认" in b for b in desk.buttons)
    await wang.sends_text("/my")                # the resident is not shown the flag
    mine = await wang.sees("您反映的问题")
    assert not any("现场确认" in b for b in mine.buttons)


async def test_skipped_with_a_reason_button_or_words_is_resolved_and_flagged(chat):
    wang, wang_person = await registered(chat, "王阿姨")
    li, li_person = await grid_member(chat)
    first = await case_in_progress(chat, wang_person, li_person, seq=1)
    second = await case_in_progress(chat, wang_person, li_person, seq=2)
    await at_note_step(chat, li, first, sha="e" * 64)
    await li.sends_text("换了新灯泡")
    await li.presses("手机定位没打开")
    done = await li.sees("已提交")
    assert "未现场确认：手机定位没打开" in done.text
    case = await case_now(chat, first)
    assert case.state == CaseState.RESOLVED and case.on_site is False and case.proof_reason == "location_off"
    await at_note_step(chat, li, second, sha="d" * 64)
    await li.sends_text("清理了")
    await li.sends_text("手机没电了")           # typed at the location step: the reason
    await li.sees("未现场确认：手机没电了")
    case = await case_now(chat, second)
    assert case.on_site is False and case.proof_reason == "other" and case.proof_words == "手机没电了"
    assert case.resolution_note == "清理了"


async def test_a_location_at_the_wrong_step_is_not_used_and_a_stale_reason_is_refused(chat):
    wang, wang_person = await registered(chat, "王阿姨")
    li, li_person = await grid_member(chat)
    number = await case_in_progress(chat, wang_person, li_person)
    await li.presses_data(act("resolve", number).pack())
    await li.sends_location(*near_3(10))     # before the photo
    await li.sees("请先发送处理后的照片")
    await at_note_step(chat, li, number)
    await li.sends_location(*near_3(10))     # before the note
    await li.sees("请先用一句话说明")
    assert (await case_now(chat, number)).state == CaseState.IN_PROGRESS
    await li.sends_text("换了新灯泡")          # the dialog goes on as before
    await li.sends_location(*near_3(10))
    await li.sees("现场确认")
    assert (await case_now(chat, number)).on_site is True
    answer = await li.presses_data(act("proofwhy", number, "already_left").pack())   # stale: nothing changes
    assert answer.show_alert
    assert (await case_now(chat, number)).proof_reason is None
