"""The callback URLs on SQLite and PostgreSQL, with WeChat's side played by wechatpy: URL checks,
signatures, safe mode, replays, the 5-second limit, and replies that continue through the outbox."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from storage import tables as t
from storage.wechat_tables import wechat_contacts, wechat_inbox
from tests.wechat_wire_kit import (
    GH, MP_TOKEN, WORK_AES, WORK_TOKEN, EchoConversation, WeChatServer, api_for, app_configs, content_of,
    endpoint_client, fresh_clock, plain_render, sign, start_standin,
)
from wechat.crypto import MessageCrypto
from wechat.delivery import WeChatDelivery
from wechat.endpoint import WeChatEndpoint
from wechat.messages import Reply


@pytest.fixture
async def world(db):
    clock = fresh_clock()
    standin = await start_standin(clock)
    api = api_for(standin)
    conversation = EchoConversation(db, clock)
    endpoint = WeChatEndpoint(db, conversation, app_configs(standin), clock=clock)
    client = await endpoint_client(endpoint)
    server = WeChatServer(client, standin.appid, standin.corpid, clock, standin)

    class World:
        pass

    w = World()
    w.db, w.clock, w.standin, w.api, w.conversation, w.endpoint, w.server = (
        db, clock, standin, api, conversation, endpoint, server)
    w.delivery = lambda channel="wechat": WeChatDelivery(db, api, plain_render, channel, clock=clock)
    yield w
    await endpoint.close()
    await client.close()
    await api.close()
    await standin.stop()


async def outbox_rows(db) -> list:
    async with db.engine.connect() as conn:
        return (await conn.execute(select(t.outbox).order_by(t.outbox.c.id))).all()


# ------------------------------------------------------------------ URL checks

async def test_the_official_account_url_check_echoes_and_a_forged_one_is_refused(world):
    ts, nonce = str(int(world.clock.now().timestamp())), "123"
    good = {"signature": sign(MP_TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce, "echostr": "4321"}
    response = await world.server.client.get("/wechat/mp", params=good)
    assert (response.status, await response.text()) == (200, "4321")
    response = await world.server.client.get("/wechat/mp", params={**good, "signature": "0" * 40})
    assert response.status == 403


async def test_the_wecom_url_check_answers_the_decrypted_echostr(world):
    ts, nonce = str(int(world.clock.now().timestamp())), "456"
    echostr = MessageCrypto(WORK_TOKEN, WORK_AES, world.standin.corpid).encrypt("8810212345")
    query = {"msg_signature": sign(WORK_TOKEN, ts, nonce, echostr), "timestamp": ts, "nonce": nonce,
             "echostr": echostr}
    response = await world.server.client.get("/wechat/work", params=query)
    assert (response.status, await response.text()) == (200, "8810212345")
    other_corp = MessageCrypto(WORK_TOKEN, WORK_AES, "ww-someone-else").encrypt("8810212345")
    query = {**query, "echostr": other_corp, "msg_signature": sign(WORK_TOKEN, ts, nonce, other_corp)}
    assert (await world.server.client.get("/wechat/work", params=query)).status == 403


# ------------------------------------------------------------------ refusals

async def test_a_message_with_a_bad_signature_is_refused_and_never_handled(world):
    query, body = world.server.mp_request(world.server.text_xml("o-wang", "路灯坏了"))
    for forged in ({**query, "msg_signature": "0" * 40}, {**query, "signature": "0" * 40}):
        assert (await world.server.post("mp", forged, body))[0] == 403
    assert world.conversation.handled == []


async def test_an_old_timestamp_is_refused(world):
    old = int(world.clock.now().timestamp()) - 301
    query, body = world.server.mp_request(world.server.text_xml("o-wang", "路灯坏了"), timestamp=old)
    assert (await world.server.post("mp", query, body))[0] == 403
    query, body = world.server.work_request(world.server.text_xml("li", "收到", to="corp"), timestamp=old)
    assert (await world.server.post("work", query, body))[0] == 403
    assert world.conversation.handled == []


async def test_a_message_for_another_appid_or_corpid_is_refused(world):
    query, body = world.server.mp_request(world.server.text_xml("o-wang", "路灯坏了"), appid="wx-another-account")
    assert (await world.server.post("mp", query, body))[0] == 403
    query, body = world.server.work_request(world.server.text_xml("li", "好"), corpid="ww-another-corp")
    assert (await world.server.post("work", query, body))[0] == 403
    assert world.conversation.handled == []


async def test_plaintext_to_an_account_in_safe_mode_and_xml_bombs_are_refused(world):
    ts, nonce = str(int(world.clock.now().timestamp())), "9"
    plain = {"signature": sign(MP_TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce}
    assert (await world.server.post("mp", plain, world.server.text_xml("o-wang", "hi")))[0] == 403
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]><xml><Content>&a;</Content></xml>'
    query, body = world.server.mp_request(bomb)
    assert (await world.server.post("mp", query, body))[0] == 400
    assert world.conversation.handled == []


# ------------------------------------------------------------------ answers

async def test_a_text_gets_its_passive_reply_encrypted_and_the_rest_through_the_outbox(world):
    world.conversation.extra = [Reply(text="第二条：请选择问题类型")]
    query, body = world.server.mp_request(world.server.text_xml("o-wang", "路灯坏了"))
    status, answer = await world.server.post("mp", query, body)
    assert status == 200
    plain = world.server.read_mp_reply(answer, query)  # wechatpy checks our signature and decrypts
    assert content_of(plain) == "收到：路灯坏了"
    assert f"<ToUserName><![CDATA[o-wang]]>" in plain and f"<FromUserName><![CDATA[{GH}]]>" in plain
    (row,) = await outbox_rows(world.db)
    assert (row.channel, row.kind, row.payload) == ("wechat", "wechat.reply", {"text": "第二条：请选择问题类型"})
    world.clock.advance(seconds=2)
    await world.delivery().drain(timeout=10)
    assert world.standin.texts("mp", "o-wang") == ["第二条：请选择问题类型"]


async def test_wecom_is_answered_encrypted_too(world):
    query, body = world.server.work_request(world.server.text_xml("li-wangge", "已处理", to=world.standin.corpid))
    status, answer = await world.server.post("work", query, body)
    assert status == 200 and content_of(world.server.read_work_reply(answer)) == "收到：已处理"
    assert [i.channel for i in world.conversation.handled] == ["wecom"]


async def test_the_same_message_twice_is_handled_once_and_answered_the_same(world):
    xml = world.server.text_xml("o-wang", "路灯坏了")
    first = await world.server.post("mp", *world.server.mp_request(xml))
    query, body = world.server.mp_request(xml)  # WeChat's retry: same MsgId, new nonce
    second = await world.server.post("mp", query, body)
    assert len(world.conversation.handled) == 1
    assert content_of(world.server.read_mp_reply(second[1], query)) == "收到：路灯坏了"
    assert first[0] == second[0] == 200


async def test_a_retry_while_the_first_attempt_still_runs_has_no_effect(world):
    world.conversation.gate = gate = asyncio.Event()
    world.endpoint.reply_within = 30  # the first attempt is still inside its time when the retry comes
    xml = world.server.text_xml("o-wang", "路灯坏了")
    first = asyncio.create_task(world.server.post("mp", *world.server.mp_request(xml)))
    await world.conversation.started.wait()
    retries = await asyncio.gather(*(world.server.post("mp", *world.server.mp_request(xml)) for _ in range(3)))
    assert retries == [(200, "success")] * 3
    gate.set()
    status, answer = await first
    assert status == 200 and len(world.conversation.handled) == 1
    async with world.db.engine.connect() as conn:
        assert (await conn.execute(select(wechat_inbox.c.state))).scalars().all() == ["handled"]


async def test_events_are_deduplicated_by_user_and_create_time(world):
    click = world.server.message_xml("o-wang", "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[CLICK]]></Event>"
                                               "<EventKey><![CDATA[MY_REPORTS]]></EventKey>", msg_id=None)
    for _ in range(2):
        await world.server.post("mp", *world.server.mp_request(click))
    world.clock.advance(seconds=1)
    later = click.replace(str(int(world.clock.now().timestamp()) - 1), str(int(world.clock.now().timestamp())))
    await world.server.post("mp", *world.server.mp_request(later))
    assert [(i.event, i.event_key) for i in world.conversation.handled] == [("click", "MY_REPORTS")] * 2


async def test_a_slow_conversation_gets_success_at_once_and_its_replies_arrive_later(world):
    world.conversation.gate = gate = asyncio.Event()
    world.conversation.extra = [Reply(text="请选择问题类型：回复 1 …")]
    world.endpoint.reply_within = 0.05
    query, body = world.server.mp_request(world.server.text_xml("o-wang", "路灯坏了"))
    assert await world.server.post("mp", query, body) == (200, "success")
    assert await outbox_rows(world.db) == []
    gate.set()
    await world.endpoint.close()  # the conversation finishes in the background
    await world.delivery().drain(timeout=10)
    assert world.standin.texts("mp", "o-wang") == ["收到：路灯坏了", "请选择问题类型：回复 1 …"]


async def test_a_message_opens_the_window_and_a_subscription_popup_grants_a_notice(world):
    world.endpoint.notice_template = "T-notice"
    await world.server.post("mp", *world.server.mp_request(world.server.text_xml("o-wang", "你好")))
    popup = world.server.message_xml(
        "o-wang", "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe_msg_popup_event]]></Event>"
                  "<SubscribeMsgPopupEvent><List><TemplateId><![CDATA[T-notice]]></TemplateId>"
                  "<SubscribeStatusString><![CDATA[accept]]></SubscribeStatusString><PopupScene>2</PopupScene>"
                  "</List></SubscribeMsgPopupEvent>", msg_id=None)
    await world.server.post("mp", *world.server.mp_request(popup))
    async with world.db.engine.connect() as conn:
        row = (await conn.execute(select(wechat_contacts))).one()
    assert (row.channel, row.user_id, row.window_used, row.subscribe_credits) == ("wechat", "o-wang", 0, 1)
    assert row.last_message_at == world.clock.now()
