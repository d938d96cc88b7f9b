"""The Bot API stand-in, driven by a real aiogram Bot and by simulated users."""

from __future__ import annotations

import asyncio

import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.methods.base import TelegramMethod
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    MenuButtonCommands,
)
from aiohttp import web

from demo.harness import ChatUser, running_standin, standin_bot
from demo.standin import BotApiStandIn

pytestmark = pytest.mark.asyncio


class NoSuchMethod(TelegramMethod[bool]):
    """A method Telegram does not have, to see the 404 path."""

    __returning__ = bool
    __api_method__ = "noSuchMethod"


# --------------------------------------------------------------------------- conversations


async def test_start_payload_reaches_the_bot_as_a_command(standin, echo_bot):
    wang = ChatUser(standin, user_id=1001, first_name="王阿姨")
    update_message = await wang.sends_text("/start invite-42")
    assert update_message["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert update_message["chat"] == {"id": 1001, "first_name": "王阿姨", "type": "private"}

    greeting = await wang.next_message()
    assert greeting.text == "欢迎！参数：invite-42"
    assert greeting.buttons == ["🏠 东城社区", "西城社区"]
    assert greeting.button_data("西城社区") == "community:west"


async def test_pressing_a_button_edits_the_message_and_answers(standin, echo_bot):
    wang = ChatUser(standin, user_id=1002, first_name="王阿姨")
    await wang.sends_text("/start")
    await wang.sees("欢迎")

    answer = await wang.presses("东城社区")  # matches "🏠 东城社区"
    assert answer is not None and answer.text == "您选择了东城社区"
    edited = await wang.sees("已选择：东城社区")
    assert edited.edited
    assert edited.buttons == []  # edit_text without reply_markup drops the keyboard
    assert len(wang.messages) == 1


async def test_the_harness_speaks_botkits_vocabulary(standin, echo_bot):
    """#15: presses_data (any data, as a forged client), alerts, and `sees` returns the newest match."""
    wu = ChatUser(standin, user_id=1016, first_name="吴阿姨")
    await wu.sends_text("/start")
    greeting = await wu.sees("欢迎")
    answer = await wu.presses_data("community:west", greeting.message_id)
    assert answer.text == "您选择了西城社区" and wu.alerts == ["您选择了西城社区"]
    await wu.sends_text("一")
    await wu.sees("您说：一")
    await wu.sends_text("二")
    assert (await wu.sees("您说")).text == "您说：二"
    assert (await wu.sees("您说", anywhere=True)).text == "您说：二"


async def test_echo_strips_html_into_entities_and_confirm_shows_alert(standin, echo_bot):
    li = ChatUser(standin, user_id=1003, first_name="李师傅")
    await li.sends_text("楼道灯坏了 👍")
    reply = await li.next_message()
    assert reply.text == "您说：楼道灯坏了 👍"
    assert reply.raw["entities"] == [{"type": "bold", "offset": 0, "length": 2}]

    answer = await li.presses("确认")
    assert answer.text == "已确认" and answer.show_alert
    await li.sees("（已确认）")
    await li.receives_nothing(within=0.2)


async def test_photo_is_downloadable_and_resendable_by_file_id(standin, echo_bot, make_jpeg):
    zhao = ChatUser(standin, user_id=1004, first_name="赵大爷")
    picture = make_jpeg(800, 600)
    sent = await zhao.sends_photo(picture, caption="漏水")
    sizes = sent["photo"]
    assert [(s["width"], s["height"]) for s in sizes] == [(320, 240), (800, 600)]
    assert sent["caption"] == "漏水"

    reply = await zhao.next_message()
    assert reply.has_photo
    assert reply.text == f"收到照片 800x600，{len(picture)} 字节"
    assert zhao.photo_bytes(reply) == picture  # the original bytes are kept


async def test_the_same_picture_sent_again_is_a_new_file_with_the_same_sizes_and_not_probed_again(
        standin, echo_bot, make_jpeg):
    from demo.standin import _probe_photo_once

    zhao = ChatUser(standin, user_id=1007, first_name="赵大爷")
    picture = make_jpeg(640, 480, color="purple")
    first = await zhao.sends_photo(picture)
    probed = _probe_photo_once.cache_info()
    second = await zhao.sends_photo(bytearray(picture))   # what an upload reads as
    after = _probe_photo_once.cache_info()
    assert (after.hits, after.misses) == (probed.hits + 1, probed.misses)   # Telegram's work, done once
    assert [(s["width"], s["height"]) for s in second["photo"]] == [(320, 240), (640, 480)]
    assert {s["file_id"] for s in first["photo"]}.isdisjoint(s["file_id"] for s in second["photo"])
    for _ in range(2):
        assert (await zhao.next_message()).has_photo


async def test_user_album_shares_one_media_group_id(standin, echo_bot, make_jpeg):
    zhao = ChatUser(standin, user_id=1005, first_name="赵大爷")
    sent = await zhao.sends_album([make_jpeg(color="red"), make_jpeg(color="blue"),
                                   make_jpeg(color="green")], caption="三张")
    group_ids = {m["media_group_id"] for m in sent}
    assert len(group_ids) == 1
    assert [m.get("caption") for m in sent] == ["三张", None, None]
    for _ in range(3):  # the echo bot answers every photo of the album
        assert (await zhao.next_message()).has_photo


async def test_document_and_location_round_trip(standin, echo_bot):
    qian = ChatUser(standin, user_id=1006, first_name="钱先生")
    await qian.sends_document(b"%PDF-1.4 fake", "报修单.pdf", "application/pdf")
    reply = await qian.next_message()
    assert reply.has_document and reply.text == "收到文件 报修单.pdf，13 字节"
    document = standin.file(reply.document["file_id"])
    assert document.data == b"%PDF-1.4 fake"[::-1]
    assert reply.document["file_name"] == "reversed.bin"

    await qian.sends_location(32.7123, 116.7456)
    assert (await qian.next_message()).text == "位置：32.7123,116.7456"


async def test_a_voice_note_is_downloadable_through_getfile_and_sent_back_with_sendvoice(standin, echo_bot):
    from pathlib import Path

    sample = (Path(__file__).resolve().parents[2] / "samples" / "voice_sample.ogg").read_bytes()
    sun = ChatUser(standin, user_id=1011, first_name="孙奶奶")
    sent = await sun.sends_voice(sample, 42)
    assert (sent["voice"]["duration"], sent["voice"]["mime_type"], sent["voice"]["file_size"]) == (
        42, "audio/ogg", len(sample))
    reply = await sun.next_message()
    assert reply.text == f"收到语音 42 秒，{len(sample)} 字节"  # the bot downloaded it whole (getFile)
    assert reply.voice["duration"] == 42 and standin.file(reply.voice["file_id"]).data == sample
    assert standin.file(reply.voice["file_id"]).file_path.startswith("voice/")
    # a recording that is not OGG/Opus (a browser's WebM) comes back as a document, as Telegram sends it
    await sun.sends_voice(b"\x1aE\xdf\xa3webm", 2)
    reply = await sun.next_message()
    assert reply.voice is None and reply.document is not None


async def test_reply_keyboard_press_sends_text_and_one_time_keyboard_hides(standin, echo_bot):
    sun = ChatUser(standin, user_id=1007, first_name="孙奶奶")
    await sun.sends_text("/keyboard")
    question = await sun.next_message()
    assert question.reply_keyboard == ("满意", "不满意")
    assert "reply_markup" not in question.raw  # Telegram does not echo reply keyboards
    assert sun.reply_keyboard == ["满意", "不满意"]

    assert await sun.presses("不满意") is None
    assert sun.reply_keyboard == []  # one_time_keyboard hides after a press
    recorded = await sun.next_message()
    assert recorded.text == "已记录：不满意"
    assert standin.messages(1007)[-2].data["text"] == "不满意"


async def test_subscribers_see_new_edited_and_deleted_messages(standin):
    bot = standin_bot(standin.base_url)
    standin.add_user(1008, "周阿姨")
    with standin.subscribe(chat_id=1008) as events:
        sent = await bot.send_message(1008, "第一版")
        await bot.edit_message_text("第二版", chat_id=1008, message_id=sent.message_id)
        await bot.delete_message(1008, sent.message_id)
        kinds = [(await events.get(timeout=1)).kind for _ in range(3)]
    assert kinds == ["message", "edited", "deleted"]
    assert standin.messages(1008) == []
    assert standin.messages(1008, include_deleted=True)[0].data["text"] == "第二版"
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(1008, sent.message_id)
    await bot.session.close()


# --------------------------------------------------------------------------- Telegram errors


async def test_unknown_method_raises_not_found(standin):
    bot = standin_bot(standin.base_url)
    with pytest.raises(TelegramNotFound, match="Not Found"):
        await bot(NoSuchMethod())
    await bot.session.close()


async def test_fixed_token_rejects_other_tokens():
    async with running_standin(token="42:RIGHT") as standin:
        wrong = standin_bot(standin.base_url, token="42:WRONG")
        with pytest.raises(TelegramUnauthorizedError):
            await wrong.get_me()
        right = standin_bot(standin.base_url, token="42:RIGHT")
        me = await right.get_me()
        assert me.id == 42 and me.is_bot and me.username == "redgrid_bot"
        await wrong.session.close()
        await right.session.close()


async def test_flood_limits_answer_429_with_retry_after():
    async with running_standin(flood_limits=True, max_per_second=3,
                               max_per_chat_per_second=1) as standin:
        bot = standin_bot(standin.base_url)
        for user_id in range(1, 6):
            standin.add_user(user_id, f"居民{user_id}")
        await bot.send_message(1, "通知")
        with pytest.raises(TelegramRetryAfter) as per_chat:
            await bot.send_message(1, "通知")  # second message to one chat within a second
        assert per_chat.value.retry_after >= 1
        await bot.send_message(2, "通知")
        await bot.send_message(3, "通知")
        with pytest.raises(TelegramRetryAfter):
            await bot.send_message(4, "通知")  # fourth message overall within a second
        assert standin.too_many_requests_count == 2
        assert [d.chat_id for d in standin.deliveries()] == [1, 2, 3]
        await bot.session.close()


async def test_blocked_user_gives_forbidden_and_a_my_chat_member_update(standin):
    bot = standin_bot(standin.base_url)
    wu = ChatUser(standin, user_id=1009, first_name="吴先生")
    wu.blocks_bot()
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(1009, "您好")
    [update] = await bot.get_updates(allowed_updates=["message", "my_chat_member"])
    assert update.my_chat_member.new_chat_member.status == "kicked"
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(999999, "您好")
    await wu.sends_text("/start")  # writing again unblocks, as pressing Restart does
    assert (await bot.send_message(1009, "欢迎回来")).text == "欢迎回来"
    await bot.session.close()


async def test_edit_and_callback_errors_match_telegram(standin):
    bot = standin_bot(standin.base_url)
    zheng = ChatUser(standin, user_id=1010, first_name="郑老师")
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[
        InlineKeyboardButton(text="好", callback_data="ok")]])
    sent = await bot.send_message(1010, "请确认", reply_markup=keyboard)
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("请确认", chat_id=1010, message_id=sent.message_id,
                                    reply_markup=keyboard)
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(1010, "第一行<br>第二行", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="must be escaped"):
        await bot.send_message(1010, "版本 1.0", parse_mode="MarkdownV2")
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(1010, "x", reply_markup=InlineKeyboardMarkup(inline_keyboard=[[
            InlineKeyboardButton(text="长", callback_data="x" * 65)]]))

    await zheng.presses("好", wait_answer=False)
    [update] = await bot.get_updates()
    assert update.callback_query.data == "ok"
    assert await update.callback_query.answer("好的")
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(update.callback_query.id, text="again")
    await bot.session.close()


# --------------------------------------------------------------------------- sending media


async def test_send_media_group_mixes_uploads_and_file_ids(standin, make_jpeg):
    bot = standin_bot(standin.base_url)
    standin.add_user(1011, "冯阿姨")
    first = await bot.send_photo(1011, BufferedInputFile(make_jpeg(200, 100), "a.jpg"))
    album = await bot.send_media_group(1011, [
        InputMediaPhoto(media=BufferedInputFile(make_jpeg(color="blue"), "b.jpg"), caption="相册"),
        InputMediaPhoto(media=first.photo[-1].file_id),
        InputMediaPhoto(media=BufferedInputFile(make_jpeg(color="green"), "c.jpg")),
    ])
    assert [m.message_id for m in album] == [2, 3, 4]
    assert len({m.media_group_id for m in album}) == 1 and album[0].media_group_id
    assert album[0].caption == "相册"
    assert album[1].photo[-1].file_id == first.photo[-1].file_id
    assert [d.method for d in standin.deliveries(1011)] == ["sendPhoto"] + ["sendMediaGroup"] * 3
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(1011, BufferedInputFile(b"not an image", "x.jpg"))
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await bot.send_photo(1011, "no-such-file-id")
    await bot.session.close()


async def test_duplicate_deliveries_are_counted(standin):
    bot = standin_bot(standin.base_url)
    standin.add_user(1012, "陈先生")
    for text in ("停水通知", "停水通知", "恢复供水"):
        await bot.send_message(1012, text)
    assert standin.duplicate_texts(1012) == {"停水通知": 2}
    await bot.session.close()


# --------------------------------------------------------------------------- settings


async def test_commands_are_stored_per_scope_and_language(standin):
    bot = standin_bot(standin.base_url)
    han = ChatUser(standin, user_id=1013, first_name="韩站长")
    await bot.set_my_commands([BotCommand(command="start", description="开始")])
    await bot.set_my_commands([BotCommand(command="cases", description="工单")],
                              scope=BotCommandScopeChat(chat_id=1013))
    await bot.set_my_commands([BotCommand(command="start", description="Start")],
                              language_code="en")
    assert [c.command for c in await bot.get_my_commands()] == ["start"]
    assert [c.description for c in await bot.get_my_commands(language_code="en")] == ["Start"]
    chat_scoped = await bot.get_my_commands(scope=BotCommandScopeChat(chat_id=1013))
    assert [c.command for c in chat_scoped] == ["cases"]
    assert han.commands == ["/cases"]
    await bot.delete_my_commands(scope=BotCommandScopeChat(chat_id=1013))
    assert han.commands == ["/start"]
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad Command", description="x")])

    assert await bot.set_chat_menu_button(chat_id=1013, menu_button=MenuButtonCommands())
    assert standin.menu_button(1013) == {"type": "commands"}
    assert (await bot.get_chat_menu_button(chat_id=1013)).type == "commands"
    await bot.session.close()


# --------------------------------------------------------------------------- getUpdates


async def test_get_updates_offset_confirms_earlier_updates(standin):
    bot = standin_bot(standin.base_url)
    xu = ChatUser(standin, user_id=1014, first_name="徐阿姨")
    for text in ("一", "二", "三"):
        await xu.sends_text(text)
    updates = await bot.get_updates()
    assert [u.message.text for u in updates] == ["一", "二", "三"]
    assert [u.update_id for u in updates] == sorted({u.update_id for u in updates})
    assert len(await bot.get_updates()) == 3  # nothing confirmed yet

    again = await bot.get_updates(offset=updates[1].update_id)  # confirms "一"
    assert [u.message.text for u in again] == ["二", "三"]
    assert [u.message.text for u in await bot.get_updates(limit=1)] == ["二"]
    assert [u.message.text for u in await bot.get_updates(offset=-1)] == ["三"]
    assert await bot.get_updates(offset=updates[-1].update_id + 1) == []
    assert standin.pending_updates == []
    await bot.session.close()


async def test_long_poll_returns_as_soon_as_an_update_arrives(standin):
    bot = standin_bot(standin.base_url)
    xu = ChatUser(standin, user_id=1015, first_name="徐阿姨")
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await standin.wait_until(lambda: standin.long_polling, 5)
    assert not poll.done()
    await xu.sends_text("在吗")
    updates = await asyncio.wait_for(poll, 2)  # long before its 10 s
    assert [u.message.text for u in updates] == ["在吗"]
    await bot.session.close()


# --------------------------------------------------------------------------- webhook


async def test_webhook_mode_pushes_updates_with_the_secret_header(standin):
    received: list[tuple[str | None, dict]] = []
    arrived = asyncio.Event()

    async def receive(request: web.Request) -> web.Response:
        update = await request.json()
        received.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), update))
        arrived.set()
        # Answer with a method call, as aiogram's webhook handler may do.
        return web.json_response({"method": "sendMessage", "chat_id":
                                  update["message"]["chat"]["id"], "text": "网页钩子已收到"})

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"

    bot = standin_bot(standin.base_url)
    try:
        ma = ChatUser(standin, user_id=1016, first_name="马大姐")
        assert await bot.set_webhook(url, secret_token="s3cret-token")
        info = await bot.get_webhook_info()
        assert info.url == url and info.pending_update_count == 0

        await ma.sends_text("你好")
        await asyncio.wait_for(arrived.wait(), 5)
        secret, update = received[0]
        assert secret == "s3cret-token"
        assert update["message"]["text"] == "你好"
        assert (await ma.next_message()).text == "网页钩子已收到"
        with pytest.raises(TelegramConflictError):
            await bot.get_updates()

        assert await bot.delete_webhook()
        await ma.sends_text("轮询")
        assert [u.message.text for u in await bot.get_updates()] == ["轮询"]
        assert len(received) == 1
    finally:
        await bot.session.close()
        await runner.cleanup()


async def test_aiogram_webhook_handler_can_answer_with_a_multipart_method(standin, make_jpeg):
    from aiogram import Dispatcher
    from aiogram.types import Message
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler

    picture = make_jpeg(300, 200)
    dp = Dispatcher()

    @dp.message()
    async def reply(message: Message):
        # Returned, not awaited: aiogram puts the call in the webhook response (multipart,
        # because of the upload) and Telegram runs it.
        return message.answer_photo(BufferedInputFile(picture, "reply.jpg"), caption="钩子回复")

    bot = standin_bot(standin.base_url)
    app = web.Application()
    SimpleRequestHandler(dispatcher=dp, bot=bot, secret_token="abc",
                         handle_in_background=False).register(app, path="/wh")
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        await bot.set_webhook(f"http://127.0.0.1:{runner.addresses[0][1]}/wh",
                              secret_token="abc")
        ma = ChatUser(standin, user_id=1018, first_name="马大姐")
        await ma.sends_text("拍张照")
        answer = await ma.next_message()
        assert answer.has_photo and answer.text == "钩子回复"
        assert ma.photo_bytes(answer) == picture
    finally:
        await bot.session.close()
        await runner.cleanup()


async def test_webhook_failures_are_retried_and_reported():
    attempts: list[int] = []

    async def flaky(request: web.Request) -> web.Response:
        attempts.append(1)
        return web.Response(status=500 if len(attempts) == 1 else 200)

    app = web.Application()
    app.router.add_post("/hook", flaky)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    async with running_standin(webhook_retry_delay=0.05) as standin:
        bot: Bot = standin_bot(standin.base_url)
        await bot.set_webhook(url)
        ChatUser(standin, user_id=1017, first_name="林先生")
        standin.user_sends_text(1017, "重试")
        await standin.wait_until(lambda: standin.webhook_deliveries == 1)
        info = await bot.get_webhook_info()
        assert len(attempts) == 2
        assert info.last_error_message == \
            "Wrong response from the webhook: 500 Internal Server Error"
        assert info.pending_update_count == 0
        await bot.session.close()
    await runner.cleanup()


async def test_bot_identity_comes_from_the_token():
    standin = BotApiStandIn(bot_first_name="测试机器人")
    base = await standin.start()
    try:
        bot = standin_bot(base, token="555:abc")
        assert (await bot.get_me()).first_name == "测试机器人"
        assert standin.bot_id == 555
        await bot.session.close()
    finally:
        await standin.stop()


async def test_leaving_the_polling_block_waits_for_updates_still_being_handled(standin):
    """The block's caller may drop the database next (the update benchmark does): a handler that
    has started must not be cut off or left running against it."""
    from aiogram import Dispatcher
    from aiogram.types import Message

    from demo.harness import polling

    started, finished = asyncio.Event(), asyncio.Event()
    poller: list[asyncio.Task] = []
    dp = Dispatcher()

    @dp.message()
    async def slow(message: Message) -> None:
        started.set()
        await asyncio.wait([poller[0]])  # still writing when polling has stopped
        for _ in range(20):
            await asyncio.sleep(0)  # … for a few more turns of the loop
        finished.set()

    standin.add_user(4242, "慢")
    bot = standin_bot(standin.base_url)
    try:
        async with polling(dp, bot, polling_timeout=1) as task:
            poller.append(task)
            standin.user_sends_text(4242, "你好")
            await asyncio.wait_for(started.wait(), 10)
        assert finished.is_set()
    finally:
        await bot.session.close()
