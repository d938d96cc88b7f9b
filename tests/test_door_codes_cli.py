"""`redgrid qr`: the printable sheet and PNGs of door codes, read back; with WeChat set up, the Official
Account's scene QR code beside each; a clear line when the secret or a Chinese font is missing."""

from __future__ import annotations

import asyncio
import io
import threading

import pytest

from core.door_codes import DoorKind, secret_from, verify
from redgrid.cli import main


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("BOT_TOKEN", "BOT_USERNAME", "BOT_API_URL", "REDIS_URL", "TIMEZONE", "DOOR_CODE_SECRET",
                 "WECHAT_MP_APPID", "WECHAT_MP_SECRET", "WECHAT_MP_TOKEN", "WECHAT_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.sqlite3")
    return tmp_path


def _read(png: bytes) -> list[str]:
    import zxingcpp
    from PIL import Image

    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def _import_sample(capsys) -> None:
    from demo.seed import SAMPLE_ORG

    assert main(["import-org", str(SAMPLE_ORG)]) == 0
    capsys.readouterr()


def test_qr_writes_the_sheet_and_a_png_per_card_that_read_back(workdir, capsys, monkeypatch):
    monkeypatch.setenv("DOOR_CODE_SECRET", "print-me")
    monkeypatch.setenv("BOT_USERNAME", "fengtai_redgrid_bot")
    _import_sample(capsys)
    assert main(["qr", "--community", "DC", "--compound", "粮食局小区", "--out", "cards"]) == 0
    out = capsys.readouterr().out
    pngs = sorted((workdir / "cards").glob("*.png"))
    assert (workdir / "cards" / "door-codes.pdf").read_bytes().startswith(b"%PDF")
    # the sample's 粮食局小区 has 6 buildings, plus its gate and garage
    assert len(pngs) == 8 and "8 cards" in out
    kinds = []
    for png in pngs:
        (link,) = _read(png.read_bytes())
        assert link.startswith("https://t.me/fengtai_redgrid_bot?start=")
        code = verify(link.split("start=")[1], secret_from("print-me", ""))
        kinds.append(code.kind)
    assert kinds.count(DoorKind.BUILDING) == 6 and kinds.count(DoorKind.COMPOUND) == 2


def test_qr_without_a_secret_or_a_username_fails_in_one_line(workdir, capsys, monkeypatch):
    _import_sample(capsys)
    assert main(["qr"]) == 1
    assert "DOOR_CODE_SECRET" in capsys.readouterr().err
    monkeypatch.setenv("DOOR_CODE_SECRET", "x")
    assert main(["qr"]) == 1
    assert "BOT_USERNAME" in capsys.readouterr().err


def test_qr_without_a_chinese_font_says_what_to_install(workdir, capsys, monkeypatch):
    import media.door_cards as cards
    from media.card import FontMissing

    def no_font():
        raise FontMissing("none")

    monkeypatch.setattr(cards.shutil, "which", lambda name: None)   # no fontconfig
    monkeypatch.setattr(cards, "find_cjk_font", no_font)            # and none in the usual places
    monkeypatch.setenv("DOOR_CODE_SECRET", "x")
    monkeypatch.setenv("BOT_USERNAME", "b")
    assert main(["qr"]) == 1
    err = capsys.readouterr().err
    assert "fonts-noto-cjk" in err and "Chinese" in err


def test_qr_with_wechat_puts_the_official_accounts_scene_code_beside(workdir, capsys, monkeypatch):
    from demo.wechat_standin import WeChatStandIn

    standin = WeChatStandIn()
    loop = asyncio.new_event_loop()
    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(standin.start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        monkeypatch.setenv("DOOR_CODE_SECRET", "print-me")
        monkeypatch.setenv("BOT_USERNAME", "fengtai_redgrid_bot")
        monkeypatch.setenv("WECHAT_MP_APPID", standin.appid)
        monkeypatch.setenv("WECHAT_MP_SECRET", standin.secret)
        monkeypatch.setenv("WECHAT_MP_TOKEN", "callback-token")
        monkeypatch.setenv("WECHAT_API_URL", standin.mp_url)
        _import_sample(capsys)
        assert main(["qr", "--community", "DC", "--compound", "东城花园", "--no-spots", "--out", "cards"]) == 0
        pngs = sorted((workdir / "cards").glob("*.png"))
        assert pngs
        for png in pngs:
            links = _read(png.read_bytes())
            (telegram,) = [link for link in links if link.startswith("https://t.me/")]
            (wechat,) = [link for link in links if link.startswith("http://weixin.qq.com/q/")]
            # the Official Account's code carries the same payload as its scene string
            assert standin.scene_of(wechat.rsplit("/", 1)[1]) == telegram.split("start=")[1]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
