"""`demo.settled()`: the bot replies inside its handler and commits after it returns, so a test
reads the database only once every update is fetched and finished in the inbox."""

from __future__ import annotations

import asyncio

import pytest

from bot.callbacks import Vol


async def claims_of(db, post: str) -> list[str]:
    async with db.uow() as uow:
        return [claim.state.value for claim in await uow.volunteering.claims_of_post(post)]


def hold_commits_of_presses_by(demo, user_id: int) -> asyncio.Event:
    """A test-only inner middleware: once the handler has answered a press of `user_id`, its unit
    of work waits to commit (and the inbox to mark the update handled) until the gate opens."""
    gate = asyncio.Event()

    async def commit_late(handler, event, data):
        result = await handler(event, data)
        if event.from_user.id == user_id:
            await gate.wait()
        return result

    demo.stack.dp.callback_query.middleware(commit_late)  # inside the inbox's seal: runs before it
    return gate


async def test_settled_waits_for_the_commit_that_follows_the_reply(demo):
    liu = demo.persona("刘建国")
    await liu.sends_text("/tasks")
    await demo.settled()  # not even the reply awaited: the update is fetched and finished
    offer = await liu.sees("清理楼道小广告")  # the demo's open post
    post = Vol.unpack(offer.button_data("🙋 接单")).ref

    gate = hold_commits_of_presses_by(demo, liu.user_id)
    await liu.presses("🙋 接单")
    await liu.sees("接单成功")
    assert await claims_of(demo.db, post) == []  # the reply is in the chat, the claim not yet in the database
    with pytest.raises(AssertionError, match="fetched but not finished"):
        await demo.settled(timeout=0.2)
    gate.set()
    await demo.settled()
    assert await claims_of(demo.db, post) == ["claimed"]


async def test_settled_reports_an_update_the_bot_failed_on(demo):
    wang = demo.persona("王阿姨")

    async def breaks(handler, event, data):
        if event.text == "/help":
            raise RuntimeError("a handler that breaks")
        return await handler(event, data)

    demo.stack.dp.message.middleware(breaks)
    await wang.sends_text("/help")
    with pytest.raises(AssertionError, match="a handler that breaks"):
        await demo.settled()
    await demo.settled(failed_ok=True)
