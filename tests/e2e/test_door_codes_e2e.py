"""Door codes end to end, in the demo: the sheet the web chat offers ("门牌二维码 PDF") is read back with a
QR decoder; a resident who scans one of its codes reports with the place already filled in, photos and
all; the newcomer scans one and, once agreed, lives there in one tap."""

from __future__ import annotations

import re
import shutil
import subprocess

import aiohttp
import pytest

from core.door_codes import secret_from, verify
from demo.app import DEMO_BOT_USERNAME, demo_webchat
from tests.e2e.test_report_loop_e2e import jpeg


async def _sheet_links(demo) -> list[str]:
    import io

    import zxingcpp
    from PIL import Image

    webchat = demo_webchat(demo.db, demo.stack.standin, demo.personas, demo.stack.settings)
    url = await webchat.start("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(url.rstrip("/") + "/api/config") as config:
                assert (await config.json())["door_sheet"] is True  # the page shows the link
            async with http.get(url.rstrip("/") + "/door-codes.pdf") as response:
                assert response.status == 200 and response.content_type == "application/pdf"
                pdf = await response.read()
    finally:
        await webchat.stop()
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed; .ci/run installs it")
    page = subprocess.run(["pdftoppm", "-r", "150", "-f", "1", "-l", "1", "-png", "-"], input=pdf,
                          capture_output=True, check=True).stdout
    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(page)))]


async def _payload_of(demo, building: str, links: list[str]) -> str:
    secret = secret_from(demo.stack.settings.door_code_secret, demo.stack.settings.bot_token)
    async with demo.db.uow() as uow:
        for link in links:
            prefix = f"https://t.me/{DEMO_BOT_USERNAME}?start="
            assert link.startswith(prefix)
            payload = link[len(prefix):]
            code = verify(payload, secret)
            address = await uow.places.address(code.place_id)
            if address is not None and address.short() == building:
                return payload
    raise AssertionError(f"no card for {building} among {links}")


async def test_a_resident_scans_a_card_from_the_demo_sheet_and_reports_there(demo):
    links = await _sheet_links(demo)
    assert len(links) == 6  # six cards on the first page
    payload = await _payload_of(demo, "粮食局小区 2号楼", links)
    wang = demo.persona("王阿姨")  # lives in 3号楼
    await wang.sends_text(f"/start {payload}")
    await wang.sees("📍 东城社区 粮食局小区 2号楼")
    await wang.sends_photo(jpeg("navy"))
    await wang.sees("已收到 1 张照片")
    await wang.presses("下一步")
    await wang.presses("💡 路灯/楼道灯")
    words = await wang.sees("几句话")  # no place question: the card said where
    assert "问题在哪里" not in words.text
    await wang.presses("跳过")
    summary = await wang.sees("请确认")
    assert "东城社区 粮食局小区 2号楼" in summary.text
    await wang.presses("✅ 确认提交")
    submitted = await wang.sees("已提交")
    number = re.search(r"DC-\d{4}-\d{6}", submitted.text).group(0)
    await demo.settled()
    async with demo.db.uow() as uow:
        case = await uow.cases.by_number(number)
        assert case.building_id == await _building_id(uow, "粮食局小区", "2号楼")


async def _building_id(uow, compound: str, building: str) -> int:
    for community in await uow.places.communities():
        for c in await uow.places.compounds(community.id):
            if c.name == compound:
                for b in await uow.places.buildings_of_compound(c.id):
                    if b.name == building:
                        return b.id
    raise AssertionError(building)


async def test_the_newcomer_scans_a_card_and_lives_there_after_agreeing(demo):
    links = await _sheet_links(demo)
    payload = await _payload_of(demo, "粮食局小区 1号楼", links)
    new = demo.persona("新邻居")
    await new.sends_text(f"/start {payload}")
    await new.agrees()
    await new.sees("您扫的是 东城社区 粮食局小区 1号楼 的门牌二维码")
    await new.presses("✅ 我住这里")
    await new.sees("东城社区 粮食局小区 1号楼")
    await demo.settled()
    async with demo.db.uow() as uow:
        from core.onboarding import roles_of

        person = await uow.people.by_identity("telegram", str(new.user_id))
        assert (await roles_of(uow, person)).home_building_id() == await _building_id(uow, "粮食局小区", "1号楼")


async def test_a_resident_scans_a_compounds_gate_and_picks_among_its_buildings(demo):
    from core.door_codes import DoorCode, DoorKind, encode

    secret = secret_from(demo.stack.settings.door_code_secret, demo.stack.settings.bot_token)
    async with demo.db.uow() as uow:
        building = await uow.places.address(await _building_id(uow, "粮食局小区", "5号楼"))
    gate = encode(DoorCode(DoorKind.COMPOUND, building.compound.id, "gate"), secret)
    zhang = demo.persona("张女士")  # lives in 东城花园
    await zhang.sends_text(f"/start {gate}")
    await zhang.sees("📍 东城社区 粮食局小区 小区大门")
    await zhang.sends_photo(jpeg("olive"))
    await zhang.sees("已收到 1 张照片")
    await zhang.presses("下一步")
    await zhang.presses("💡 路灯/楼道灯")
    place = await zhang.sees("问题在哪里")
    assert [b for b in place.buttons if b.endswith("号楼")][:6] == [f"{n}号楼" for n in range(1, 7)]
    await zhang.presses("5号楼")
    await zhang.sees("几句话")
    await zhang.presses("跳过")
    summary = await zhang.sees("请确认")
    assert "东城社区 粮食局小区 5号楼" in summary.text
