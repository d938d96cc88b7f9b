"""Door codes on WeChat: the Official Account's QR code with a scene string (带参数二维码) sends a subscribe
event (EventKey `qrscene_<payload>`) or, to a follower, a SCAN event (`<payload>`); they do what the
Telegram deep link does. And the stand-in's qrcode/create + showqrcode, through wechat/api.py."""

from __future__ import annotations

import io
import re

import pytest

from core.door_codes import DoorCode, DoorKind, encode
from tests.factories import seed_world
from tests.test_wechat_conversation import MONDAY, register
from tests.wechat_kit import WeChatKit

SECRET = b"wechat-door-secret"


@pytest.fixture
async def kit(db, tmp_path):
    async with db.uow() as uow:
        world = await seed_world(uow)
    k = WeChatKit(db, tmp_path, MONDAY)
    k.world = world
    k.conversation.door_secret = SECRET
    return k


def _code(kit, building: str) -> str:
    return encode(DoorCode(DoorKind.BUILDING, kit.world.buildings[building].id), SECRET)


async def _persons(kit) -> int:
    from sqlalchemy import text

    async with kit.db.engine.connect() as conn:
        return (await conn.execute(text("SELECT count(*) FROM persons"))).scalar_one()


async def test_a_newcomer_follows_by_the_door_code_agrees_and_is_registered_there(kit):
    zhang = kit.resident("o-zhang", agreed=False)
    await zhang._send(kind="event", event="subscribe", event_key="qrscene_" + _code(kit, "3号楼"))
    zhang.sees("个人信息")
    assert await _persons(kit) == 0
    await zhang.sends_text("1")  # 同意
    zhang.sees("您扫的是 东城社区 粮食局小区 3号楼 的门牌二维码")
    zhang.sees("1. ✅ 我住这里")
    await zhang.sends_text("1")
    zhang.sees("登记成功：东城社区 粮食局小区 3号楼")
    person = await kit.person_of(zhang)
    async with kit.db.uow() as uow:
        from core.onboarding import roles_of

        assert (await roles_of(uow, person)).home_building_id() == kit.world.buildings["3号楼"].id


async def test_a_resident_scans_and_reports_there_without_the_place_question(kit):
    wang = kit.resident("o-wang")
    await register(kit, wang)  # lives in 3号楼
    await wang._send(kind="event", event="scan", event_key=_code(kit, "4号楼"))
    wang.sees("📍 东城社区 粮食局小区 4号楼")
    await wang.sends_photo(1)
    wang.sees("已收到 1 张照片")
    await wang.sends_text("1")
    wang.sees("这是什么问题？")
    await wang.sends_text("5")
    assert "问题在哪里" not in wang.text
    wang.sees("不描述请回复 1 跳过")
    await wang.sends_text("四楼楼道灯坏了")
    wang.sees("东城社区 粮食局小区 4号楼")
    await wang.sends_text("1")  # ✅ 确认提交
    number = re.search(r"编号 (DC-\d{4}-\d{6})", wang.sees("已提交")).group(1)
    async with kit.db.uow() as uow:
        case = await uow.cases.by_number(number)
    assert case.building_id == kit.world.buildings["4号楼"].id


async def test_a_forged_scene_is_refused_and_nothing_is_written(kit):
    stranger = kit.resident("o-stranger", agreed=False)
    genuine = _code(kit, "3号楼")
    forged = genuine[:-1] + ("A" if genuine[-1] != "A" else "B")
    await stranger._send(kind="event", event="subscribe", event_key="qrscene_" + forged)
    stranger.sees("这个二维码不是本系统发的")
    assert await _persons(kit) == 0
    await stranger.sends_text("1")  # agrees: greeted as anyone following, no building offered
    assert "门牌二维码" not in stranger.text
    stranger.sees("请选择")

    wang = kit.resident("o-wang")
    await register(kit, wang)
    await wang._send(kind="event", event="scan", event_key=forged)
    wang.sees("这个二维码不是本系统发的")
    await wang.sends_photo(1)  # a photo starts a report as always, with no place taken from the forged code
    await wang.sends_text("1")
    await wang.sends_text("5")
    wang.sees("问题在哪里")


async def test_the_official_accounts_scene_qr_code_through_the_stand_in(db):
    import zxingcpp
    from PIL import Image

    from demo.wechat_standin import WeChatStandIn
    from wechat.api import Credentials, WeChatApi

    standin = WeChatStandIn()
    await standin.start()
    api = WeChatApi([Credentials("mp", standin.appid, standin.secret)], wechat_url=standin.mp_url)
    try:
        payload = encode(DoorCode(DoorKind.BUILDING, 5), SECRET)
        ticket, url = await api.create_scene_qr(payload)
        assert standin.scene_of(ticket) == payload and url == standin.qr_url(ticket)
        assert (await api.create_scene_qr(payload))[0] == ticket  # the same scene, the same permanent code
        png = await api.show_qr(ticket)
        assert [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))] == [url]
        assert ("mp", "qrcode/create") in standin.calls
    finally:
        await api.close()
        await standin.stop()
