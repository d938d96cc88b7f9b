"""Every notification kind core sends (core.notifications.KINDS) reads on WeChat, in Chinese and in
English, with the numbered answers the reader may give and the three-photo card of a fix."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from core.notifications import CASE_KINDS, KINDS, Notification
from core.people import Person
from tests.test_wechat_conversation import MONDAY, code_for, kit, register, report_lights  # noqa: F401 (fixture)

PAYLOADS = {  # what each service puts beside the case number (core/cases_services.py)
    "case.confirmed": {"rating": 4}, "case.reopened": {"comment": "还是坏的", "reason": "partly"},
    "case.supporter_not_fixed": {"comment": "", "reason": "came_back", "by": 0},
    "case.forwarded": {"to_kind": "department", "department": "城管局"}, "case.escalated": {"department": "城管局"},
    "case.escalated_to_you": {"escalated_by": 0}, "case.claimed": {"by": 0, "department": "城管局"},
    "case.claimed_for_resident": {"department": "城管局"},
    "case.rejected": {"reason": "", "closure_reason": "not_a_problem"}, "case.merged": {"into": "DC-2026-000009"},
    "case.auto_closed": {"days": 3}, "case.auto_closed_for_resident": {"days": 3, "reopen_days": 7},
}
OTHER = {"person": 1, "community": "东城社区", "name": "张三", "work_unit": "供电公司", "order": "DC-FW-2026-000001",
         "kind": "carrying", "description": "", "preferred_time": "周末", "post": "DC-GW-2026-000001",
         "title": "政策宣讲", "starts_at": "2026-12-28T01:00:00+00:00", "capacity": 5, "points": 10, "balance": 30,
         "names": "李四", "place": "社区中心", "hours": 2, "no_shows": 2, "reason": "人手不够", "item": "毛巾",
         "case": "DC-2026-000001", "month": 12, "day": 28, "posts": "政策宣讲", "places": 5, "people": 4,
         "services": 2, "theme_days": 1, "unsettled": 0, "text": "明天停水", "total": 10, "sent": 9, "failed": 1,
         "skipped": 0, "seconds": 12}


@pytest.fixture
async def resolved(kit):
    """DC-2026-000001 reported by 王阿姨 on WeChat, accepted and resolved (with photos) by 李网格 on WeCom."""
    wang = kit.resident("o-wang")
    await register(kit, wang)
    number = await report_lights(kit, wang)
    li = kit.staff_member("LiWangGe")
    await li.sends_text(f"绑定 {await code_for(kit, 'chen', 'li')}")
    for step in ("1", "2"):
        await li.sends_text(step)
    await li.sends_photo(7)
    await li.sends_text("换了新灯泡")
    kit.wang = await kit.person_of(wang)
    kit.number = number
    return kit


async def _render(kit, kind: str, payload: dict, person: Person):
    async with kit.db.uow() as uow:
        return await kit.renderer.render(uow, Notification(person.id, kind, payload), person)


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_every_kind_has_a_wechat_rendering(resolved, lang):
    kit = resolved
    reader = Person(kit.wang.id, kit.wang.display_name, language=lang)
    said = {}
    for kind in KINDS:
        payload = {"case": kit.number, **PAYLOADS.get(kind, {})} if kind in CASE_KINDS else dict(OTHER)
        for key in ("by", "escalated_by"):
            if key in payload:
                payload[key] = kit.world.people["li"].id
        replies = await _render(kit, kind, payload, reader)
        texts = [r.text for r in replies if r.text]
        assert texts and all(t.strip() for t in texts), kind
        assert not re.search(r"\{[a-z_]+\}", texts[-1]), (kind, texts[-1])  # every placeholder filled
        said[kind] = texts[-1]
    if lang == "en":  # the words of the world (names, places, what people typed) stay as they are
        known = ("东城社区", "粮食局小区", "政策宣讲", "三楼楼道灯坏了", "换了新灯泡", "城管局", "李网格", "明天停水",
                 "供电公司", "人手不够", "社区中心", "王阿姨", "还是坏的", "主题党日", "3号楼", "张三", "李四", "周末", "毛巾", "微信用户")  # a WeChat name as the reporter chose it
        chinese = {k: t for k, t in said.items()
                   if re.search(r"[\u4e00-\u9fff]{2,}", re.sub("|".join(known), "", t))}
        assert chinese == {}, "an English reader got Chinese words: " + repr(chinese)
    # Telegram's commands become what WeChat understands
    assert "/tasks" not in said["party.registration_approved"]


async def test_a_fix_comes_with_its_card_and_the_numbered_answers_only_its_reporter_may_give(resolved):
    kit = resolved
    replies = await _render(kit, "case.resolved", {"case": kit.number}, kit.wang)
    assert replies[0].image[:2] == b"\xff\xd8"
    assert "1. 👍 已解决\n2. 👎 没解决" in replies[-1].text
    english = await _render(kit, "case.resolved", {"case": kit.number}, Person(kit.wang.id, "w", language="en"))
    assert "1. 👍 Fixed" in english[-1].text
    # someone else told of the same case gets no answers to give (core would refuse them)
    chen = kit.world.people["chen"]
    replies = await _render(kit, "case.resolved", {"case": kit.number}, chen)
    assert "1. 👍" not in replies[-1].text
    # once answered, the same notification offers nothing any more
    wang = kit.resident("o-wang")
    await wang.sends_text("1")
    await wang.sends_text("4")
    replies = await _render(kit, "case.resolved", {"case": kit.number}, kit.wang)
    assert "1. 👍" not in replies[-1].text


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_the_telegram_renderer_words_every_kind_too(resolved, lang, tmp_path):
    from bot.rendering.notifications import NotificationRenderer
    from core.people import Identity
    from redgrid.settings import Settings

    kit = resolved
    render = NotificationRenderer(Settings(_env_file=None, data_dir=tmp_path), kit.photos, kit.clock)
    reader = Person(kit.wang.id, kit.wang.display_name, language=lang)
    missing = []
    for kind in KINDS:
        payload = {"case": kit.number, **PAYLOADS.get(kind, {})} if kind in CASE_KINDS else dict(OTHER)
        async with kit.db.uow() as uow:
            out = await render(uow, Notification(reader.id, kind, payload), reader,
                               Identity(1, reader.id, "telegram", "1", "1"))
        if out is None or not out.text.strip():
            missing.append(kind)
    assert missing == []
