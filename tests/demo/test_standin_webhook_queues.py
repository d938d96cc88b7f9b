"""The stand-in pushes webhook updates as Telegram does: one chat's next update only once the previous
one is answered, other chats' updates meanwhile (up to max_connections)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from demo.harness import ChatUser, standin_bot


async def test_one_update_per_chat_in_flight_and_other_chats_meanwhile(standin):
    arrived: list[str] = []
    first_held = asyncio.Event()
    let_go = asyncio.Event()

    async def receive(request: web.Request) -> web.Response:
        update = await request.json()
        arrived.append(update["message"]["text"])
        if update["message"]["text"] == "甲1":
            first_held.set()
            await let_go.wait()  # the first update of chat 甲 is slow to handle
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    bot = standin_bot(standin.base_url)
    try:
        jia, yi = ChatUser(standin, 2001, "甲"), ChatUser(standin, 2002, "乙")
        await jia.sends_text("甲1")
        await jia.sends_text("甲2")
        await yi.sends_text("乙1")
        assert await bot.set_webhook(f"http://127.0.0.1:{runner.addresses[0][1]}/hook")
        await asyncio.wait_for(first_held.wait(), 5)
        await standin.wait_until(lambda: "乙1" in arrived)  # another chat is not held up …
        assert "甲2" not in arrived  # … while 甲's second waits for its first
        let_go.set()
        await standin.wait_until(lambda: "甲2" in arrived)
        assert arrived.index("甲1") < arrived.index("甲2")
    finally:
        let_go.set()
        await bot.delete_webhook()
        await bot.session.close()
        await runner.cleanup()
