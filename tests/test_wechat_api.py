"""The outbound WeChat client against the stand-in: the token is fetched once for many senders,
refreshed before it expires and after WeChat calls it stale; errors carry WeChat's errcode."""

from __future__ import annotations

import asyncio

import pytest

from demo.wechat_standin import WeChatStandIn
from wechat.api import Credentials, WeChatApi, WeChatApiError


class Clock:
    def __init__(self, at: float = 1_000_000.0) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


@pytest.fixture
async def standin():
    standin = WeChatStandIn(clock=Clock())
    await standin.start()
    yield standin
    await standin.stop()


def client(standin: WeChatStandIn, monotonic=None, **options) -> WeChatApi:
    return WeChatApi([Credentials("mp", standin.appid, standin.secret),
                      Credentials("work", standin.corpid, standin.corpsecret, standin.agent_id)],
                     wechat_url=standin.mp_url, wecom_url=standin.work_url,
                     monotonic=monotonic or Clock(), **options)


async def test_a_hundred_concurrent_senders_make_one_token_request(standin):
    api = client(standin)
    for n in range(100):
        standin.user_wrote(f"o-{n}")
    try:
        await asyncio.gather(*(api.send_text("mp", f"o-{n}", "您好") for n in range(100)),
                             *(api.send_text("work", f"li-{n}", "您好") for n in range(20)))
    finally:
        await api.close()
    assert dict(standin.token_requests) == {"mp": 1, "work": 1}
    assert standin.texts("mp", "o-42") == ["您好"] and standin.texts("work", "li-3") == ["您好"]


async def test_the_token_is_refreshed_before_it_expires(standin):
    monotonic = Clock()
    api = client(standin, monotonic=monotonic, refresh_margin=300)

    def advance(seconds: float) -> None:
        monotonic.at += seconds
        standin.clock.at += seconds

    try:
        first = await api.token("mp")
        advance(7200 - 301)
        assert await api.token("mp") == first and standin.token_requests["mp"] == 1  # cached
        advance(2)  # within the margin: asked again; the stable token is still WeChat's current one
        assert await api.token("mp") == first and standin.token_requests["mp"] == 2
        advance(300)  # WeChat's expired meanwhile: the next refresh brings a new one
        assert await api.token("mp") != first and standin.token_requests["mp"] == 3
    finally:
        await api.close()


async def test_a_token_wechat_calls_expired_is_replaced_once_and_the_call_made_again(standin):
    api = client(standin)
    standin.user_wrote("o-1")
    try:
        await api.send_text("mp", "o-1", "一")
        standin.expire_tokens()  # e.g. another process fetched a new one
        await asyncio.gather(*(api.send_text("mp", "o-1", t) for t in ("二", "三")))
    finally:
        await api.close()
    assert standin.token_requests["mp"] == 2
    assert sorted(standin.texts("mp", "o-1")) == sorted(["一", "二", "三"])


async def test_errors_carry_wechats_errcode(standin):
    api = client(standin)
    try:
        with pytest.raises(WeChatApiError) as outside:
            await api.send_text("mp", "o-never-wrote", "您好")
        assert outside.value.errcode == 45015
        with pytest.raises(WeChatApiError) as no_subscription:
            await api.send_subscription("o-1", "T-1", {"thing1": "有新消息"})
        assert no_subscription.value.errcode == 43101
        with pytest.raises(WeChatApiError) as gone:
            await api.download_media("mp", "no-such-media")
        assert gone.value.errcode == 40007
        wrong = WeChatApi([Credentials("mp", standin.appid, "wrong")], wechat_url=standin.mp_url)
        with pytest.raises(WeChatApiError):
            await wrong.token("mp")
        await wrong.close()
    finally:
        await api.close()


async def test_images_go_up_as_temporary_media_and_users_photos_come_down(standin):
    api = client(standin)
    standin.user_wrote("o-1")
    photo = b"\xff\xd8\xff\xe0" + b"jpeg" * 100
    try:
        await api.send_image("mp", "o-1", photo)
        await api.send_image("work", "li", photo)
        media_id = standin.add_media(b"\xff\xd8resident's photo")
        assert await api.download_media("mp", media_id) == b"\xff\xd8resident's photo"
    finally:
        await api.close()
    assert standin.received("mp", "o-1")[0]["image"] == photo
    assert standin.received("work", "li")[0]["image"] == photo


async def test_two_processes_share_the_stable_token_instead_of_invalidating_each_other(standin):
    first, second = client(standin), client(standin)
    try:
        assert await first.token("mp") == await second.token("mp")
        assert await first.token("work") == await second.token("work")
    finally:
        await first.close()
        await second.close()
    assert ("mp", "stable_token") in standin.calls and ("mp", "token") not in standin.calls
