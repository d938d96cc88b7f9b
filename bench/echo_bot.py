"""The bare aiogram echo bot that bench/updates.py holds redgrid against, as a process of its own.

    BOT_TOKEN=… BOT_API_URL=http://127.0.0.1:PORT python bench/echo_bot.py

It replies to a photo, echoes a text, answers a press and sends a message, each with one button:
the same kinds of Bot API call, one or two per update, that redgrid's report dialog makes. Long
polling as `redgrid run` does, and the same start-up care of aiogram's response classes
(`bot/runtime.py`), so it does not pay for rebuilding them after a garbage collection and redgrid
does not look worse for a fix of aiogram's own cost. Nothing else: no database, no state.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiogram import Bot, Dispatcher, F, Router  # noqa: E402
from aiogram.client.session.aiohttp import AiohttpSession  # noqa: E402
from aiogram.client.telegram import TelegramAPIServer  # noqa: E402
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message  # noqa: E402

from bot import runtime  # noqa: E402


def echo_router() -> Router:
    """A bare echo bot: reply to a photo, echo a text, answer a press and send a message."""
    router = Router()

    def markup(step: int) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="下一步", callback_data=f"e:{step}")]])

    @router.message(F.photo)
    async def photo(message: Message) -> None:
        await message.reply("收到照片", reply_markup=markup(1))

    @router.message(F.text)
    async def text(message: Message) -> None:
        await message.answer(message.text or "", reply_markup=markup(0))

    @router.callback_query(F.data.startswith("e:"))
    async def press(query: CallbackQuery) -> None:
        step = int((query.data or "e:0").split(":")[1]) + 1
        await query.answer()
        if query.message is not None:
            await query.message.answer(f"第 {step} 步", reply_markup=markup(step))

    return router


async def main() -> None:
    session = AiohttpSession(api=TelegramAPIServer.from_base(os.environ["BOT_API_URL"]))
    bot = Bot(os.environ["BOT_TOKEN"], session=session)
    dp = Dispatcher()
    dp.include_router(echo_router())
    dp.startup.register(runtime.on_startup)
    try:
        await dp.start_polling(bot, handle_signals=True)
    finally:
        await bot.session.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(main())
