"""Door codes (门牌二维码): the signed payload, scanning it in the Telegram chat (newcomer and resident),
forged codes, /qr, and the printed sheet read back by a QR decoder."""

from __future__ import annotations

import io
import shutil
import subprocess

import pytest

from bot.callbacks import ConsentAnswer
from core.clock import ManualClock
from core.consent import NOTICE_VERSION
from core.door_code_services import door_cards, open_door
from core.door_codes import (BadDoorCode, DoorCode, DoorKind, MAX_PAYLOAD, deep_link, encode, looks_like_door_code,
                             secret_from, verify)
from core.onboarding import roles_of
from core.people import Role, RoleGrant
from redgrid.bootstrap import build_dispatcher
from redgrid.settings import Settings
from tests.botkit import ChatHarness
from tests.factories import add_person, seed_world, staff_of

SECRET = b"door-test-secret"
ALPHABET = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


# ---- the payload (pure) ------------------------------------------------------------------------------

@pytest.mark.parametrize("code", [DoorCode(DoorKind.BUILDING, 1), DoorCode(DoorKind.BUILDING, 2_000_000_000),
                                  DoorCode(DoorKind.COMPOUND, 7), DoorCode(DoorKind.COMPOUND, 99_999, "garage")])
def test_a_code_comes_back_from_its_payload_which_fits_a_deep_link(code):
    payload = encode(code, SECRET)
    assert verify(payload, SECRET) == code
    assert len(payload) <= MAX_PAYLOAD <= 64 and set(payload) <= ALPHABET
    assert looks_like_door_code(payload)
    # the privacy notice's button carries it: "cs:1:<version>:<payload>" within Telegram's 64 bytes
    assert len(ConsentAnswer(yes=1, version=NOTICE_VERSION, start=payload).pack().encode()) <= 64


def test_every_changed_character_is_refused():
    payload = encode(DoorCode(DoorKind.BUILDING, 48), SECRET)
    for i, ch in enumerate(payload):
        for other in ("A", "b", "0", "_", "-"):
            if other != ch:
                altered = payload[:i] + other + payload[i + 1:]
                with pytest.raises(BadDoorCode):
                    verify(altered, SECRET)


def test_another_building_cannot_be_made_without_the_secret():
    mine = encode(DoorCode(DoorKind.BUILDING, 48), SECRET)
    body, signature = mine[:-17], mine[-16:]
    neighbour = encode(DoorCode(DoorKind.BUILDING, 49), SECRET)
    assert neighbour[-16:] != signature
    for forged in (neighbour[:-17] + "_" + signature, encode(DoorCode(DoorKind.BUILDING, 49), b"guessed"),
                   body + "_", body, "qb1c", "inv_abc", "", "q" * 200, mine + "x", mine.upper(), "qb1c_" + "ä" * 16):
        with pytest.raises(BadDoorCode):
            verify(forged, SECRET)
    with pytest.raises(BadDoorCode):
        verify(mine, b"")  # no secret configured: nothing verifies


def test_spots_belong_to_compounds_and_are_short():
    with pytest.raises(ValueError):
        encode(DoorCode(DoorKind.BUILDING, 3, "gate"), SECRET)
    with pytest.raises(ValueError):
        encode(DoorCode(DoorKind.COMPOUND, 3, "Gate!"), SECRET)
    with pytest.raises(ValueError):
        encode(DoorCode(DoorKind.COMPOUND, 0), SECRET)


def test_the_secret_comes_from_the_setting_or_else_the_token():
    assert secret_from("abc", "1:T") == b"abc"
    assert secret_from("", "1:T") == secret_from("", "1:T") != secret_from("", "2:T")
    assert secret_from("", "") == b""
    assert not looks_like_door_code("inv_abcdef") and not looks_like_door_code("q")


# ---- services ------------------------------------------------------------------------------------------

async def test_cards_for_staff_of_the_community_only(db):
    from core.cases import Actor
    from core.errors import NotAllowed, NotFound

    async with db.uow() as uow:
        world = await seed_world(uow)
        dc, xc = world.communities["东城社区"], world.communities["西城社区"]
        staff = await add_person(uow, world, "staff", "周干事", staff_of(dc))
        resident = await add_person(uow, world, "res", "王阿姨", RoleGrant(
            None, 0, Role.RESIDENT, community_id=dc.id, building_id=world.buildings["1号楼"].id))
        by_staff = Actor(staff.id, await roles_of(uow, staff))
        cards = await door_cards(uow, by_staff, SECRET, dc.id)
        buildings = [c for c in cards if c.kind == DoorKind.BUILDING]
        assert [c.title for c in buildings] == ["粮食局小区 1号楼", "粮食局小区 2号楼", "粮食局小区 3号楼",
                                                "粮食局小区 4号楼", "东城花园 A栋", "东城花园 B栋"]
        assert {c.title for c in cards if c.kind == DoorKind.COMPOUND} == {
            "粮食局小区 小区大门", "粮食局小区 地下车库", "东城花园 小区大门", "东城花园 地下车库"}
        place = await open_door(uow, SECRET, buildings[2].payload)
        assert place.building_id == world.buildings["3号楼"].id and place.title() == "东城社区 粮食局小区 3号楼"
        gate = await open_door(uow, SECRET, cards[-1].payload)
        assert gate.address is None and gate.compound.name == "东城花园"
        with pytest.raises(NotAllowed):
            await door_cards(uow, by_staff, SECRET, xc.id)
        with pytest.raises(NotAllowed):
            await door_cards(uow, Actor(resident.id, await roles_of(uow, resident)), SECRET, dc.id)
        with pytest.raises(NotFound):  # signed, but the building is gone
            await open_door(uow, SECRET, encode(DoorCode(DoorKind.BUILDING, 999_999), SECRET))


# ---- the chat ------------------------------------------------------------------------------------------

@pytest.fixture
async def chat(db, now):
    async with db.uow() as uow:
        world = await seed_world(uow)
    clock = ManualClock(now)
    settings = Settings(_env_file=None, bot_token="4242:TEST", bot_username="redgrid_test_bot", page_size=8)
    harness = ChatHarness(build_dispatcher(db, settings, clock))
    harness.world, harness.db, harness.clock = world, db, clock
    harness.secret = secret_from(settings.door_code_secret, settings.bot_token)
    yield harness
    await harness.bot.session.close()


def _code(chat, building: str) -> str:
    return encode(DoorCode(DoorKind.BUILDING, chat.world.buildings[building].id), chat.secret)


async def _people(db) -> int:
    from sqlalchemy import text

    async with db.engine.connect() as conn:
        return (await conn.execute(text("SELECT count(*) FROM persons"))).scalar_one()


async def _home(db, tester) -> int | None:
    async with db.uow() as uow:
        person = await uow.people.by_identity("telegram", str(tester.id))
        return None if person is None else (await roles_of(uow, person)).home_building_id()


async def test_a_newcomer_scans_agrees_and_is_registered_at_that_building_in_one_tap(chat):
    before = await _people(chat.db)
    zhang = chat.person("张先生")
    await zhang.sends_text(f"/start {_code(chat, '3号楼')}")
    notice = await zhang.sees("个人信息")
    assert any(b.startswith("✅") for b in notice.buttons)
    assert await _people(chat.db) == before  # nothing of a newcomer is kept before they agree
    await zhang.agrees()
    offer = await zhang.sees("3号楼 的门牌二维码")
    assert "东城社区 粮食局小区 3号楼" in offer.text and offer.buttons[0] == "✅ 我住这里"
    await zhang.presses("✅ 我住这里")
    await zhang.sees("东城社区 粮食局小区 3号楼")
    assert await _home(chat.db, zhang) == chat.world.buildings["3号楼"].id
    assert "report" in chat.commands_for_chat(zhang.id)


async def test_a_newcomer_at_a_compound_gate_picks_among_its_buildings(chat):
    li = chat.person("李阿姨")
    gate = encode(DoorCode(DoorKind.COMPOUND, chat.world.compounds["东城花园"].id, "gate"), chat.secret)
    await li.sends_text(f"/start {gate}")
    await li.agrees()
    picker = await li.sees("请选择您住的楼栋")
    assert "东城花园 小区大门" in picker.text and picker.buttons[:2] == ["A栋", "B栋"]
    await li.presses("B栋")
    assert await _home(chat.db, li) == chat.world.buildings["B栋"].id


async def test_a_resident_scans_and_the_report_dialog_opens_placed_there(chat):
    """(The whole report, photos and all, goes through in tests/e2e/test_door_codes_e2e.py.)"""
    wang = chat.person("王阿姨")
    await wang.registers_at("东城社区", "粮食局小区", "1号楼")
    await wang.sends_text(f"/start {_code(chat, '4号楼')}")
    await wang.sees("📍 东城社区 粮食局小区 4号楼：请拍下这里的问题")
    await wang.sees("请拍照或发送问题的照片")
    assert await _home(chat.db, wang) == chat.world.buildings["1号楼"].id  # scanning elsewhere moves nobody


async def test_a_forged_or_altered_code_is_refused_politely_and_nothing_is_written(chat):
    before = await _people(chat.db)
    genuine = _code(chat, "3号楼")
    altered = genuine[:2] + ("2" if genuine[2] != "2" else "3") + genuine[3:]   # another building, same signature
    stranger = chat.person("陌生人")
    await stranger.sends_text(f"/start {altered}")
    await stranger.sees("这个二维码不是本系统发的")
    notice = await stranger.sees("个人信息")
    assert all(ConsentAnswer.unpack(d).start == "" for d in
               [notice.button_data(b) for b in notice.buttons] if d)  # the forged code is not carried on
    assert await _people(chat.db) == before
    # a resident (agreed, registered) scanning a forged code: refused, no dialog opened
    wang = chat.person("王阿姨")
    await wang.registers_at("东城社区", "粮食局小区", "1号楼")
    await wang.sends_text(f"/start {genuine[:-1]}{'A' if genuine[-1] != 'A' else 'B'}")
    refusal = await wang.sees("这个二维码不是本系统发的")
    assert "请拍照" not in refusal.text
    await wang.sends_text("随便说点什么")
    with pytest.raises(AssertionError):
        await wang.sees("请拍照或发送问题的照片")


async def test_qr_sends_staff_the_sheet_and_refuses_a_resident(chat):
    async with chat.db.uow() as uow:
        world = chat.world
        staff = chat.person("周干事")
        resident = chat.person("王阿姨")
        for tester, grant in ((staff, staff_of(world.communities["东城社区"])),
                              (resident, RoleGrant(None, 0, Role.RESIDENT, community_id=world.communities["东城社区"].id,
                                                   building_id=world.buildings["1号楼"].id))):
            from core.people import Identity

            person = await add_person(uow, world, tester.name, tester.name, grant)
            await uow.people.add_identity(Identity(None, person.id, "telegram", str(tester.id), str(tester.id)))
        await uow.commit()
    await resident.sends_text("/qr")
    await resident.sees("没有权限")
    assert all(m.document is None for m in resident.messages)
    await staff.sends_text("/qr")
    sheet = await staff.sees("门牌二维码")
    name, pdf = sheet.document
    assert name == "door-codes-DC.pdf" and pdf.startswith(b"%PDF")
    assert "10 张卡片" in sheet.text  # six buildings, a gate and a garage for each of two compounds
    links = _decode_pdf(pdf)
    expected = {deep_link("redgrid_test_bot", c.payload) for c in await _cards(chat)}
    assert set(links) <= expected and len(links) == 6  # the first page's six cards read back


async def _cards(chat):
    async with chat.db.uow() as uow:
        return await door_cards(uow, None, chat.secret, chat.world.communities["东城社区"].id)


# ---- the printed sheet, read back ------------------------------------------------------------------------

def _decode_png(png: bytes) -> list[str]:
    import zxingcpp
    from PIL import Image

    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def _decode_pdf(pdf: bytes) -> list[str]:
    """The QR codes on the PDF's first page, as a phone would read them off the printed sheet."""
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed; .ci/run installs it")
    page = subprocess.run(["pdftoppm", "-r", "150", "-f", "1", "-l", "1", "-png", "-"], input=pdf,
                          capture_output=True, check=True).stdout
    return _decode_png(page)


def test_the_card_png_reads_back_as_the_deep_link_and_wechat_stands_beside_it():
    from media.door_cards import CardFace, card_png, qr_png

    link = deep_link("redgrid_bot", encode(DoorCode(DoorKind.BUILDING, 12), SECRET))
    assert _decode_png(card_png(CardFace(link, "粮食局小区 3号楼", "东城社区"))) == [link]
    both = _decode_png(card_png(CardFace(link, "粮食局小区 3号楼", "东城社区", qr_png("http://weixin.qq.com/q/T1"))))
    assert sorted(both) == sorted([link, "http://weixin.qq.com/q/T1"])
