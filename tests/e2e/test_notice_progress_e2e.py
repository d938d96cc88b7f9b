"""/notice to 20 residents at one message a second (#21): the sender watches it go, edited at least
every 5 s while it sends; a second press of 📢 发送 does not say "已取消。"; the time taken is told
in seconds, not "1 分钟".

The scenario runs SPEED times faster than that: SPEED messages a second and a look at the progress
every 5 / SPEED s, so the same 20 residents take 20 / SPEED s and the progress message is expected
the same number of times, relative to its pace, as at one message a second (which is ~20 s of real
time per database)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone

import pytest

from core.clock import ManualClock
from core.people import Identity, Person, Role, RoleGrant
from core.consent import NOTICE_VERSION
from demo.app import prepare_demo_world
from redgrid.bootstrap import demo_stack
from redgrid.settings import Settings
from tests.e2e.conftest import Demo

EXTRA = range(7001, 7018)  # 17 residents more than the demo's 3: 20 in all
SPEED = 2  # sending and the progress looks, both this many times faster than 1 a second / every 5 s


@pytest.fixture
async def slow_demo(db, tmp_path):
    """The demo community with 20 residents, delivering SPEED messages a second."""
    clock = ManualClock(datetime.now(timezone.utc))  # the broadcast's start is stamped with it; its progress reads the real clock
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", page_size=8, delivery_per_second=SPEED)
    personas = await prepare_demo_world(db, clock)
    async with db.uow() as uow:
        (community,) = [c for c in await uow.places.communities() if c.code == "DC"]
        building = await uow.places.building_named(
            (await uow.places.compound_named(community.id, "东城花园")).id, "1号楼")
        for user_id in EXTRA:
            person = Person(None, f"居民{user_id}", created_at=clock.now(), notice_version=NOTICE_VERSION)
            await uow.people.add(person)
            await uow.people.add_identity(Identity(None, person.id, "telegram", str(user_id), str(user_id)))
            await uow.people.add_grant(RoleGrant(None, person.id, Role.RESIDENT, community_id=community.id,
                                                 building_id=building.id))
        await uow.commit()
    async with demo_stack(db, settings, clock, personas) as stack:
        for user_id in EXTRA:
            stack.standin.add_user(user_id, f"居民{user_id}")
        reporter = stack.runner.worker.progress
        assert reporter.every == 5.0  # what the bot does: a look at the progress every 5 s
        reporter.every = 5.0 / SPEED
        yield Demo(stack, db, clock, personas)


async def test_notice_to_20_residents_at_1_per_second_shows_progress_every_5_seconds(slow_demo):
    demo = slow_demo
    every = demo.stack.runner.worker.progress.every  # 5 s at one message a second
    chen = demo.persona("陈书记")
    await chen.sends_text("/notice 明天上午 9 点到 12 点停水，请提前储水。")
    confirm = await chen.sees("将把这条通知发给 东城社区 的 20 位居民")
    await chen.presses("📢 发送")
    await chen.sees("已开始发送给 20 位居民")
    again = demo.stack.standin.user_presses_button(chen.user_id, confirm.message_id,
                                                   confirm.button("📢 发送").data, forged=True)
    answer = await demo.stack.standin.wait_callback_answer(again)
    assert "已取消" not in (answer.text or "")

    seen: list[tuple[float, str]] = []
    started = time.monotonic()
    while time.monotonic() - started < 40:  # a bound for a broken run, generous on a loaded machine
        text = demo.stack.standin.message(chen.user_id, confirm.message_id).text or ""
        if not seen or seen[-1][1] != text:
            seen.append((time.monotonic(), text))
        if "发送完毕" in text:
            break
        await asyncio.sleep(0.2 / SPEED)
    texts = [t for _, t in seen]
    assert "已取消。" not in texts
    assert "发送完毕" in texts[-1], texts
    sending = [(at, t) for at, t in seen if "已发送" in t]
    assert len(sending) >= 3, texts  # 20 sends at SPEED a second: edited after 1, 2 and 3 looks at least
    moments = [seen[0][0], *[at for at, _ in sending], seen[-1][0]]
    assert max(b - a for a, b in zip(moments, moments[1:])) < 1.5 * every, texts  # 7.5 s at 1 a second
    assert "用时" in texts[-1] and "秒" in texts[-1] and "分钟" not in texts[-1], texts[-1]
    for user_id in EXTRA:
        assert any("停水" in (m.text or "") for m in demo.stack.standin.bot_messages(user_id))
