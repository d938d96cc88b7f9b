"""`redgrid run`'s WeChat wiring: nothing without its settings; with them, the callback URLs served,
the conversation answering, and WeChat's delivery running beside Telegram's."""

from __future__ import annotations

import aiohttp

from core.notifications import Notification
from demo.harness import standin_bot
from redgrid import bootstrap
from redgrid.settings import Settings
from storage.uow import Database
from tests.wechat_wire_kit import MP_AES, MP_TOKEN, WORK_AES, WORK_TOKEN, WeChatServer, content_of, fresh_clock, start_standin


def test_no_wechat_settings_no_wechat(tmp_path):
    settings = Settings(_env_file=None)
    assert bootstrap.wechat_channel(None, settings, fresh_clock()) is None  # type: ignore[arg-type]


async def test_wechat_settings_serve_the_callbacks_and_run_its_delivery(db: Database):
    clock = fresh_clock()
    standin = await start_standin(clock)
    settings = Settings(_env_file=None, wechat_mp_appid=standin.appid, wechat_mp_secret=standin.secret,
                        wechat_mp_token=MP_TOKEN, wechat_mp_aes_key=MP_AES, wecom_corp_id=standin.corpid,
                        wecom_agent_id=standin.agent_id, wecom_secret=standin.corpsecret, wecom_token=WORK_TOKEN,
                        wecom_aes_key=WORK_AES, wechat_api_url=standin.mp_url, wecom_api_url=standin.work_url)
    channel = bootstrap.wechat_channel(db, settings, clock)
    assert channel is not None and [w.channel for w in channel.workers] == ["wechat", "wecom"]
    bot = standin_bot("http://127.0.0.1:9")  # never called: the runner is only built
    runner = bootstrap.background(db, bot, settings, clock, wechat=channel)
    assert len(runner.workers) == 3
    await bot.session.close()
    try:
        async with bootstrap.serving_wechat(channel, "127.0.0.1", 0) as url:
            async with aiohttp.ClientSession(base_url=url) as http:
                server = WeChatServer(http, standin.appid, standin.corpid, clock, standin)  # type: ignore[arg-type]
                query, body = server.mp_request(server.text_xml("o-wang", "你好"))
                status, answer = await server.post("mp", query, body)
                assert status == 200
                # the real conversation: a newcomer first reads the privacy notice; nothing is kept yet
                assert content_of(server.read_mp_reply(answer, query)).startswith("🔒 个人信息说明")
                async with db.uow() as uow:
                    assert await uow.people.by_identity("wechat", "o-wang") is None
                query, body = server.mp_request(server.text_xml("o-wang", "1"))
                status, answer = await server.post("mp", query, body)
                # agreed: asked where they live (no org imported here)
                assert content_of(server.read_mp_reply(answer, query)).startswith("您好！欢迎使用「红色网格」社区服务。")
            async with db.uow() as uow:
                wang = await uow.people.by_identity("wechat", "o-wang")
                await uow.outbox.add(Notification(wang.id, "notice.community", {"community": "东城社区", "text": "周六停水"}))
                await uow.commit()
            await channel.workers[0].drain(timeout=10)
            assert standin.texts("mp", "o-wang") == ["📢 东城社区通知：\n周六停水"]
    finally:
        await standin.stop()
