"""Both channels side by side in one process on one database, composed as `redgrid run` composes them
with WECHAT_* / WECOM_* set (redgrid/bootstrap.py: the bot polling the Bot API stand-in, the WeChat
callback URLs served, Telegram's and WeChat's delivery workers in one runner over one outbox).

王阿姨 reports on Telegram; 刘阿姨, a newcomer on the Official Account, reports a problem of the same
building through the real signed, encrypted callback URL (WeChat's side: demo/wechat_phone.py). The
grid member 李秀英 gets both on Telegram and resolves both there; each resident is asked to confirm
on her own channel — Telegram's message in the Bot API stand-in, WeChat's customer-service message in
the WeChat stand-in — and confirms there."""

from __future__ import annotations

import asyncio
import re

import pytest
from sqlalchemy import select

from core.cases import CaseState
from demo.wechat_phone import WeChatPhones
from storage import tables
from tests.e2e.test_report_loop_e2e import jpeg, li_accepts_and_resolves, wang_reports_a_broken_light


@pytest.fixture
async def both(demo_with_wechat):
    demo, phones = demo_with_wechat
    # one runner: Telegram's delivery worker and WeChat's two, over the one outbox
    channels = [getattr(w, "channel", "telegram") for w in demo.stack.runner.workers]
    assert demo.stack.wechat is not None and channels == ["telegram", "wechat", "wecom"]
    return demo, phones


async def wechat_says(phones: WeChatPhones, openid: str, fragment: str, timeout: float = 10.0) -> str:
    """The newest thing the account said to `openid` that holds `fragment` (a passive reply or a
    customer-service message the WeChat worker sent through the stand-in)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        for said in reversed(phones.texts(openid)):
            if fragment in said:
                return said
        if loop.time() > deadline:
            raise AssertionError(f"{fragment!r} not said to {openid}: {phones.texts(openid)[-5:]}")
        await asyncio.sleep(0.05)


async def wechat_image(phones: WeChatPhones, openid: str, timeout: float = 10.0) -> bytes:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        images = [item["image"] for item in phones.chat(openid) if item["from"] == "account" and item["image"]]
        if images:
            return images[-1]
        if loop.time() > deadline:
            raise AssertionError(f"no image sent to {openid}")
        await asyncio.sleep(0.05)


async def liu_reports_on_wechat(phones: WeChatPhones, openid: str) -> str:
    assert "个人信息说明" in await phones.follow(openid)
    await phones.send_text(openid, "1")  # agree
    await wechat_says(phones, openid, "请选择您所在的小区")
    listed = await wechat_says(phones, openid, "粮食局小区")
    await phones.send_text(openid, re.search(r"(\d+)\. 粮食局小区", listed).group(1))
    buildings = await wechat_says(phones, openid, "3号楼")
    await phones.send_text(openid, re.search(r"(\d+)\. 3号楼", buildings).group(1))
    await wechat_says(phones, openid, "登记成功")
    assert "已收到 1 张照片" in await phones.send_photo(openid, jpeg("teal"))
    await phones.send_text(openid, "1")
    await wechat_says(phones, openid, "这是什么问题")
    await phones.send_text(openid, "5")  # 💡 路灯/楼道灯
    await wechat_says(phones, openid, "我的楼栋")
    await phones.send_text(openid, "1")
    await wechat_says(phones, openid, "不描述请回复 1 跳过")
    await phones.send_text(openid, "3号楼一单元门口的灯不亮")
    await wechat_says(phones, openid, "确认提交")
    await phones.send_text(openid, "1")
    # a similar case of this building may be offered to join; this test wants a report of her own
    submitted = await wechat_says(phones, openid, "编号")
    return re.search(r"编号 (DC-\d{4}-\d{6})", submitted).group(1)


async def test_a_telegram_and_a_wechat_resident_report_into_one_grid_and_hear_back_on_their_own_channels(both):
    demo, phones = both
    wang, tg_number = await wang_reports_a_broken_light(demo)
    li, _ = await li_accepts_and_resolves(demo, tg_number)
    liu = "o-liu-ayi"
    wx_number = await liu_reports_on_wechat(phones, liu)
    assert wx_number != tg_number

    # the grid member on Telegram gets it too, with the photo WeChat's media/get gave
    await li.sees(wx_number, timeout=10, anywhere=True)
    told = [m for m in li.messages if wx_number in (m.text or "") and m.has_photo]
    assert told and "3号楼一单元门口的灯不亮" in told[-1].text
    await li_accepts_and_resolves(demo, wx_number, note="换了感应灯")

    # each resident is asked on her own channel
    await wang.sees("请看事前、事中、事后照片", timeout=10)
    await wang.presses("已解决")
    await wang.presses("⭐⭐⭐⭐⭐ 5")
    await wang.sees("谢谢您的评价")
    question = await wechat_says(phones, liu, "1. 👍 已解决")
    assert wx_number in question
    card = await wechat_image(phones, liu)  # the three-photo card, a customer-service image message
    assert card[:2] == b"\xff\xd8"
    await phones.send_text(liu, "1")
    await wechat_says(phones, liu, "请为这次处理打分")
    await phones.send_text(liu, "4")
    await wechat_says(phones, liu, "谢谢您的评价（4 星）")

    await demo.settled()
    async with demo.db.uow() as uow:
        tg_case, wx_case = await uow.cases.by_number(tg_number), await uow.cases.by_number(wx_number)
        wang_person = await uow.people.by_identity("telegram", str(wang.user_id))
        liu_person = await uow.people.by_identity("wechat", liu)
    assert (tg_case.state, tg_case.rating) == (CaseState.CLOSED, 5)
    assert (wx_case.state, wx_case.rating) == (CaseState.CLOSED, 4)
    assert tg_case.grid_id == wx_case.grid_id and tg_case.handler_id == wx_case.handler_id
    # one outbox: Telegram's rows for the Telegram people, WeChat's for her; nothing crossed
    async with demo.db.engine.connect() as conn:
        rows = (await conn.execute(select(tables.outbox.c.person_id, tables.outbox.c.channel,
                                          tables.outbox.c.kind))).all()
    assert {r.channel for r in rows if r.person_id == liu_person.id} == {"wechat"}
    assert {r.channel for r in rows if r.person_id == wang_person.id} == {"telegram"}
    assert any(r.kind == "case.resolved" and r.person_id == liu_person.id for r in rows)
