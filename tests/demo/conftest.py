"""Fixtures for the demo stand-in tests: a running stand-in, pictures, and a tiny test bot.

The bot here is deliberately not redgrid's: it exercises the stand-in with the aiogram
features a real bot uses (commands with payloads, inline buttons, edits, callback answers,
file downloads, reply keyboards).
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio
from aiogram import Bot, Dispatcher, F
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from PIL import Image

from demo.harness import polling, standin_bot
from demo.standin import BotApiStandIn


@pytest_asyncio.fixture
async def standin() -> AsyncIterator[BotApiStandIn]:
    server = BotApiStandIn()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def make_jpeg() -> Callable[..., bytes]:
    def make(width: int = 800, height: int = 600, color: str = "red") -> bytes:
        buffer = io.BytesIO()
        Image.new("RGB", (width, height), color).save(buffer, "JPEG")
        return buffer.getvalue()

    return make


def make_echo_dispatcher() -> Dispatcher:
    """A small bot: greets /start with its payload, echoes text with buttons, measures photos."""
    dp = Dispatcher()

    @dp.message(CommandStart())
    async def start(message: Message, command: CommandObject) -> None:
        await message.answer(
            f"欢迎！参数：{command.args or '无'}",
            reply_markup=InlineKeyboardMarkup(inline_keyboard=[[
                InlineKeyboardButton(text="🏠 东城社区", callback_data="community:east"),
                InlineKeyboardButton(text="西城社区", callback_data="community:west"),
            ]]),
        )

    @dp.message(Command("keyboard"))
    async def keyboard(message: Message) -> None:
        await message.answer("您满意吗？", reply_markup=ReplyKeyboardMarkup(
            keyboard=[[KeyboardButton(text="满意"), KeyboardButton(text="不满意")]],
            resize_keyboard=True, one_time_keyboard=True))

    @dp.message(F.text.in_({"满意", "不满意"}))
    async def rated(message: Message) -> None:
        await message.answer(f"已记录：{message.text}", reply_markup=ReplyKeyboardRemove())

    @dp.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(
            f"<b>您说</b>：{message.text}",
            parse_mode="HTML",
            reply_markup=InlineKeyboardMarkup(inline_keyboard=[[
                InlineKeyboardButton(text="确认", callback_data="confirm"),
            ]]),
        )

    @dp.callback_query(F.data.startswith("community:"))
    async def community(query: CallbackQuery) -> None:
        name = "东城社区" if query.data == "community:east" else "西城社区"
        await query.message.edit_text(f"已选择：{name}")
        await query.answer(f"您选择了{name}")

    @dp.callback_query(F.data == "confirm")
    async def confirm(query: CallbackQuery) -> None:
        await query.message.edit_text(f"{query.message.text}（已确认）")
        await query.answer("已确认", show_alert=True)

    @dp.message(F.photo)
    async def photo(message: Message, bot: Bot) -> None:
        largest = message.photo[-1]
        downloaded = await bot.download(largest)
        size = len(downloaded.read())
        await message.answer_photo(
            largest.file_id,
            caption=f"收到照片 {largest.width}x{largest.height}，{size} 字节",
        )

    @dp.message(F.voice)
    async def voice(message: Message, bot: Bot) -> None:
        body = (await bot.download(message.voice)).read()
        await message.answer_voice(BufferedInputFile(body, "reply.ogg"), duration=message.voice.duration,
                                   caption=f"收到语音 {message.voice.duration} 秒，{len(body)} 字节")

    @dp.message(F.document)
    async def document(message: Message, bot: Bot) -> None:
        downloaded = await bot.download(message.document)
        body = downloaded.read()
        await message.answer_document(
            BufferedInputFile(body[::-1], filename="reversed.bin"),
            caption=f"收到文件 {message.document.file_name}，{len(body)} 字节",
        )

    @dp.message(F.location)
    async def location(message: Message) -> None:
        await message.answer(
            f"位置：{message.location.latitude:.4f},{message.location.longitude:.4f}")

    return dp


@pytest_asyncio.fixture
async def echo_bot(standin: BotApiStandIn) -> AsyncIterator[Bot]:
    """The echo dispatcher polling the stand-in; yields its Bot."""
    bot = standin_bot(standin.base_url)
    async with polling(make_echo_dispatcher(), bot, polling_timeout=5):
        yield bot
