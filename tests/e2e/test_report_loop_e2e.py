"""The headline loop through the real bot and the stand-in: "随手拍" → grid member → three photos →
resident confirms; with rework, a forged press, and the bad inputs a resident really sends."""

from __future__ import annotations

import io

from PIL import Image

from bot.handlers.cases import CaseAct
from bot.scenes.report import Step
from core.cases import PhotoKind


def jpeg(color: str, size=(800, 600)) -> bytes:
    buffer = io.BytesIO()
    image = Image.new("RGB", size, color)
    for x in range(0, size[0], 40):  # some structure so perceptual hashes differ between colours
        for y in range(0, size[1], 40):
            image.putpixel((x, y), (x % 255, y % 255, (x * y) % 255))
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


async def reports_a_broken_light(resident, building: str | None = None, words: str | None = None) -> None:
    """Photo → "下一步" → lights → place (their own building, or `building` from the list) → words → summary."""
    await resident.sends_photo(jpeg("navy"))
    await resident.sees("已收到 1 张照片")
    await resident.presses("下一步")
    await resident.sees("这是什么问题")
    await resident.presses("💡 路灯/楼道灯")
    await resident.sees("问题在哪里")
    if building is None:
        await resident.presses("我的楼栋（粮食局小区 3号楼）")
    else:
        await resident.presses("其他楼栋")
        await resident.presses(building)
    await resident.sees("几句话")
    if words is None:
        await resident.presses("跳过")
    else:
        await resident.sends_text(words)


async def submits(resident) -> str:
    await resident.presses("✅ 确认提交")
    done = await resident.sees("已提交，编号")
    return done.text.split("编号 ")[1].split("。")[0]


async def wang_reports_a_broken_light(demo):
    wang = demo.persona("王阿姨")
    await reports_a_broken_light(wang, words="3号楼二单元楼道灯坏了一个星期")
    summary = await wang.sees("请确认")
    assert "东城社区 粮食局小区 3号楼" in summary.text and "楼道灯坏了" in summary.text
    return wang, await submits(wang)


async def li_accepts_and_resolves(demo, number: str, note: str = "换了新灯泡"):
    """李秀英, the grid member of 3号楼, takes the case up and proves the fix with an after-photo and a note."""
    li = demo.persona("李秀英")
    # anywhere: the new-case message may have come before this ChatUser existed (after a joiner's steps)
    await li.sees(number, timeout=10, anywhere=True)
    await li.presses("✅ 受理")
    accepted = await li.sees(f"已受理 {number}")
    await li.presses("✅ 已处理，上传完成照片")
    await li.sends_photo(jpeg("yellow"))
    await li.sends_text(note)
    await li.presses("已离开现场")  # proof on the spot (issue #20): a reason instead of a location
    return li, accepted


async def test_resident_reports_and_the_grid_member_gets_it_with_the_photo(demo):
    wang, number = await wang_reports_a_broken_light(demo)
    assert number.startswith("DC-2026-")
    li = demo.persona("李秀英")  # the imported grid member of 粮食局小区第一网格
    told = await li.sees(number, timeout=10)
    assert told.has_photo and "💡 路灯/楼道灯" in told.text and "东城社区 粮食局小区 3号楼" in told.text
    assert "✅ 受理" in told.buttons


async def test_the_whole_loop_with_rework_rating_and_three_photo_card(demo):
    wang, number = await wang_reports_a_broken_light(demo)
    li = demo.persona("李秀英")
    # anywhere: the new-case message may have come before this ChatUser existed (after a joiner's steps)
    await li.sees(number, timeout=10, anywhere=True)
    await li.presses("✅ 受理")
    await wang.sees("已由网格员受理", timeout=10)
    await li.presses("📷 上传处理中照片")
    await li.sees("处理中的照片")
    await li.sends_photo(jpeg("orange"))
    await li.sees("已保存处理中照片")
    await li.presses("✅ 已处理，上传完成照片")
    await li.sends_photo(jpeg("yellow"))
    await li.sees("说明怎么处理")
    await li.sends_text("换了新灯泡")
    await li.sees("最后一步")  # proof on the spot (issue #20): the demo's location, agreed to once (PIPL)
    await li.sends_location(32.7057, 116.7108)
    await li.presses("✅ 同意使用位置")
    await li.sends_location(32.7057, 116.7108)
    done = await li.sees("等待居民确认")
    assert "现场确认" in done.text
    card = await wang.sees("请看事前、事中、事后照片", timeout=10)
    assert card.has_photo
    width, height = Image.open(io.BytesIO(wang.photo_bytes(card))).size
    assert width > height  # three panels side by side
    await wang.presses("👎 没解决")
    await wang.sees("哪里还没解决")
    await wang.sends_text("二单元的灯还是不亮")
    await wang.sees(f"已退回网格员重新处理 {number}")
    rework = await li.sees("返工", timeout=10)
    assert "原因：二单元的灯还是不亮" in rework.text
    await li.presses("✅ 受理")
    await li.presses("✅ 已处理，上传完成照片")
    await li.sends_photo(jpeg("green"))
    await li.sends_text("换了开关")
    await li.presses("已离开现场")  # proof on the spot (issue #20): a reason instead of a location
    await wang.sees("问题解决了吗", timeout=10)
    await wang.presses("👍 已解决")
    await wang.presses("⭐⭐⭐⭐⭐ 5")
    await wang.sees("谢谢您的评价（5 星）")
    await li.sees("评分 5 星", timeout=10)
    await demo.settled()
    async with demo.db.uow() as uow:
        case = await uow.cases.by_number(number)
    assert case.state.value == "closed" and case.rework_count == 1 and case.rating == 5


async def test_forged_press_on_another_grids_case_is_refused(demo):
    wang, number = await wang_reports_a_broken_light(demo)
    zhang = demo.persona("张丽")  # grid member of 东城花园, not of 3号楼
    await zhang.sends_text("/help")
    some_message = (await zhang.sees("您可以")).message_id
    forged = CaseAct(action="accept", number=number).pack()
    query_id = demo.stack.standin.user_presses_button(zhang.user_id, some_message, forged, forged=True)
    answer = await demo.stack.standin.wait_callback_answer(query_id)
    assert answer.show_alert and "不是您负责" in answer.text
    await demo.settled()
    async with demo.db.uow() as uow:
        case = await uow.cases.by_number(number)
    assert case.state.value == "assigned"


async def test_text_and_wrong_files_where_a_photo_is_expected(demo):
    wang = demo.persona("王阿姨")
    await wang.sends_text("/report")
    await wang.sees("请拍照或发送问题的照片")
    await wang.sends_text("楼道灯坏了")
    await wang.sees("这里需要一张照片")
    await wang.sends_document(b"%PDF-1.4 not an image", "report.pdf", "application/pdf")
    await wang.sees("这不是照片")
    await wang.sends_document(b"\xff\xd8\xff\xe0 broken jpeg", "broken.jpg", "image/jpeg")
    await wang.sees("打不开")
    await wang.sends_album([jpeg("red"), jpeg("blue")])
    await wang.sees("已收到 2 张照片")
    await wang.sends_text("/cancel")
    await wang.sees("已取消")


async def test_escalation_is_claimed_by_the_department_and_closes_the_loop(demo):
    wang, number = await wang_reports_a_broken_light(demo)
    li = demo.persona("李秀英")
    # anywhere: the new-case message may have come before this ChatUser existed (after a joiner's steps)
    await li.sees(number, timeout=10, anywhere=True)
    await li.presses("📣 上报部门（吹哨）")
    await li.presses("刘队长")
    await li.sees(f"已上报 {number}")
    await wang.sees(f"{number} 已上报 城管执法中队", timeout=10)
    liu = demo.persona("刘队长")
    told = await liu.sees("社区吹哨", timeout=10, anywhere=True)
    assert number in told.text and told.has_photo
    await liu.presses("🙋 认领")
    await liu.sees(f"已认领 {number}")
    await liu.presses("✅ 已处理，上传完成照片")
    await liu.sends_photo(jpeg("green"))
    await liu.sends_text("更换了线路")
    await liu.presses("已离开现场")  # proof on the spot (issue #20): a reason instead of a location
    card = await wang.sees("请看事前、事中、事后照片", timeout=10)
    assert card.has_photo


async def test_same_problem_nearby_is_offered_and_a_late_duplicate_is_merged(demo):
    wang, first = await wang_reports_a_broken_light(demo)
    li_da_ye = demo.persona("李大爷")  # lives in 5号楼, a different grid of the same compound
    await reports_a_broken_light(li_da_ye, building="粮食局小区 2号楼")
    offer = await li_da_ye.sees("附近已有相同的问题")
    assert offer is not None
    await li_da_ye.presses(f"同一个问题：{first}")
    await li_da_ye.sees(f"已加入 {first}")
    await demo.settled()  # the reply comes before the commit
    async with demo.db.uow() as uow:
        case = await uow.cases.by_number(first)
        joiner = await uow.people.by_identity("telegram", str(li_da_ye.user_id))
    assert joiner.id in case.me_too

    # 张女士 reports the same light anyway (she pressed submit): the grid member is warned and merges
    zhang = demo.persona("张女士")
    await reports_a_broken_light(zhang, building="粮食局小区 3号楼")
    second = await submits(zhang)
    li = demo.persona("李秀英")
    warned = await li.sees(second, timeout=10, anywhere=True)
    assert f"可能与 {first} 是同一个问题" in warned.text
    await li.presses(f"🔗 合并到 {first}")
    await zhang.sees("已合并", timeout=10)
    await demo.settled()
    async with demo.db.uow() as uow:
        merged = await uow.cases.by_number(second)
        into = await uow.cases.by_number(first)
        reporter = await uow.people.by_identity("telegram", str(zhang.user_id))
    assert merged.state.value == "merged" and reporter.id in into.me_too


async def test_my_cases_show_history_with_photo_and_viewing_is_audited(demo):
    wang, number = await wang_reports_a_broken_light(demo)
    await wang.sends_text("/my")
    listing = await wang.sees("您反映的问题")
    assert any(number in label for label in listing.buttons)
    await wang.presses(next(label for label in listing.buttons if number in label))
    story = await wang.sees("上报问题")
    assert "派给网格员" in story.text and "王阿姨" in story.text
    assert any(m.has_photo for m in wang.messages)
    stranger = demo.persona("李大爷")  # another resident may not read it
    await stranger.sends_text("/help")
    some = (await stranger.sees("您可以")).message_id
    query = demo.stack.standin.user_presses_button(stranger.user_id, some, f"ca:history:{number}:", forged=True)
    assert "没有权限" in (await demo.stack.standin.wait_callback_answer(query)).text
    await demo.settled()
    async with demo.db.uow() as uow:
        viewed = [e for e in await uow.events.of("case", number) if e.kind == "viewed"]
        me = await uow.people.by_identity("telegram", str(wang.user_id))
    assert [e.actor_id for e in viewed] == [me.id]


async def test_grid_member_forwards_to_a_department_which_handles_it(demo):
    wang, number = await wang_reports_a_broken_light(demo)
    li = demo.persona("李秀英")
    await li.sees(number, timeout=10, anywhere=True)
    await li.presses("➡️ 转交部门")
    await li.presses("刘队长")
    await li.sees(f"已转交 {number}")
    await wang.sees(f"{number} 已转 城管执法中队 处理", timeout=10)
    liu = demo.persona("刘队长")
    await liu.sees(number, timeout=10, anywhere=True)
    await liu.presses("✅ 受理")
    await liu.presses("✅ 已处理，上传完成照片")
    await liu.sends_photo(jpeg("green"))
    await liu.sends_text("已修复线路")
    await liu.presses("电话/他人现场处理")  # proof on the spot (issue #20): a reason instead of a location
    await wang.sees("问题解决了吗", timeout=10)


async def test_grid_member_lists_their_cases_and_staff_desk_is_empty_until_something_waits(demo):
    chen = demo.persona("陈书记")
    await chen.sends_text("/desk")
    await chen.sees("没有待分派或超时的问题")
    wang, number = await wang_reports_a_broken_light(demo)
    li = demo.persona("李秀英")
    await li.sends_text("/cases")
    listing = await li.sees("您负责的问题")
    assert any(number in label for label in listing.buttons)
    zhao = demo.persona("赵志强")  # a grid member with nothing to do
    await zhao.sends_text("/cases")
    await zhao.sees("目前没有待您处理的问题")


async def test_a_forged_join_of_a_case_not_offered_is_refused_and_changes_nothing(demo):
    """The attack found from outside: a resident of another compound reporting noise forges "same problem"
    with the number of a case far away, then tries to close it with one star."""
    wang, number = await wang_reports_a_broken_light(demo)
    zhang = demo.persona("张女士")  # 东城花园 2号楼, another compound
    await zhang.sends_photo(jpeg("purple"))
    await zhang.presses("下一步")
    await zhang.presses("🔊 噪音")
    await zhang.presses("我的楼栋（东城花园 2号楼）")
    await zhang.presses("跳过")
    summary = await zhang.sees("请确认")
    assert "同一个问题" not in " ".join(summary.buttons)  # nothing was offered
    forged = Step(action="join", value=number).pack()
    query_id = demo.stack.standin.user_presses_button(zhang.user_id, summary.message_id, forged, forged=True)
    answer = await demo.stack.standin.wait_callback_answer(query_id)
    assert answer.show_alert and f"不能加入 {number}" in answer.text
    for action in ("fixed", "rate"):  # and she cannot answer "fixed?" for it either
        forged = CaseAct(action=action, number=number, arg="1").pack()
        query_id = demo.stack.standin.user_presses_button(zhang.user_id, summary.message_id, forged, forged=True)
        assert "不是您负责" in (await demo.stack.standin.wait_callback_answer(query_id)).text
    await demo.settled()
    async with demo.db.uow() as uow:
        case = await uow.cases.by_number(number)
    assert case.me_too == [] and case.state.value == "assigned"
    await zhang.presses("✅ 确认提交")  # her own report still goes through
    await zhang.sees("已提交，编号")


async def test_a_neighbour_who_joined_is_told_the_outcome_and_gives_feedback_the_reporter_decides(demo):
    wang, number = await wang_reports_a_broken_light(demo)
    li_da_ye = demo.persona("李大爷")
    await reports_a_broken_light(li_da_ye, building="粮食局小区 2号楼")
    await li_da_ye.presses(f"同一个问题：{number}")
    await li_da_ye.sees(f"已加入 {number}")
    await li_accepts_and_resolves(demo, number)
    told = await li_da_ye.sees("是否解决由首位上报的居民确认", timeout=10)
    assert told.has_photo
    await li_da_ye.presses("👎 没解决")
    await li_da_ye.sees("哪里还没解决")
    await li_da_ye.presses("只处理了一部分")
    await li_da_ye.sees("谢谢您的反馈")
    chen = demo.persona("陈书记")
    flagged = await chen.sees("一起反映", timeout=10, anywhere=True)
    assert number in flagged.text and "原因：只处理了一部分" in flagged.text
    await wang.sees("问题解决了吗", timeout=10)
    await wang.presses("👍 已解决")
    await wang.presses("⭐⭐⭐⭐ 4")
    await wang.sees("谢谢您的评价（4 星）")
    await demo.settled()
    async with demo.db.uow() as uow:
        case = await uow.cases.by_number(number)
        events = [e.kind for e in await uow.events.of("case", number)]
    assert case.state.value == "closed" and case.rating == 4 and case.rework_count == 0
    assert "supporter_feedback" in events


async def test_a_stale_resolve_button_is_refused_at_the_press_before_any_photo_is_asked(demo):
    wang, number = await wang_reports_a_broken_light(demo)
    li, accepted = await li_accepts_and_resolves(demo, number)
    await wang.presses("👍 已解决")
    await wang.presses("⭐⭐⭐⭐⭐ 5")
    await wang.sees("已办结")
    await li.sees("评分 5 星", anywhere=True, timeout=10)  # the outbox's notice of the rating came (it is not an update)
    await demo.settled()
    shown = len(li.messages)
    for label in ("✅ 已处理，上传完成照片", "📷 上传处理中照片", "📣 上报部门（吹哨）"):
        stale = CaseAct(action={"✅ 已处理，上传完成照片": "resolve", "📷 上传处理中照片": "during",
                                "📣 上报部门（吹哨）": "escalate"}[label], number=number).pack()
        query_id = demo.stack.standin.user_presses_button(li.user_id, accepted.message_id, stale, forged=True)
        answer = await demo.stack.standin.wait_callback_answer(query_id)
        assert answer.show_alert and "不能这样操作了" in answer.text, label
    await demo.settled()
    assert len(li.messages) == shown, [m.text for m in li.messages[shown:]]  # refused with an alert only: no "send the after-photo"
    await li.sends_photo(jpeg("green"))  # no dialog was opened: a photo from her is not an after-photo
    await demo.settled()
    async with demo.db.uow() as uow:
        case = await uow.cases.by_number(number)
    assert case.state.value == "closed" and len(case.photos_of(PhotoKind.AFTER)) == 1


async def count_rows(demo, table, *where) -> int:
    from sqlalchemy import func, select

    async with demo.db.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table).where(*where))).scalar()


async def test_a_confirm_whose_reply_meets_a_telegram_outage_is_tried_again_and_makes_one_case(demo):
    """#14: the case was made, then the reply failed (Telegram's 502): the update's transaction rolls back
    and the inbox tries it again a moment later; one case, one notice to the grid member, one answer."""
    from storage import tables as t
    from storage.case_tables import cases

    wang = demo.persona("王阿姨")
    await reports_a_broken_light(wang)
    await wang.sees("请确认")
    demo.stack.standin.fail("editMessageText", times=2, code=502)  # the first try and the first retry
    await wang.presses("✅ 确认提交")
    done = await wang.sees("已提交，编号", timeout=20)
    number = done.text.split("编号 ")[1].split("。")[0]
    await demo.settled()
    assert await count_rows(demo, cases) == 1
    li = demo.persona("李秀英")
    # anywhere: the new-case message may have come before this ChatUser existed (after a joiner's steps)
    await li.sees(number, timeout=10, anywhere=True)
    await demo.settled()
    assert await count_rows(demo, t.outbox, t.outbox.c.kind == "case.new_for_handler") == 1
    assert await count_rows(demo, t.inbox, t.inbox.c.state != "handled") == 0
    assert await count_rows(demo, t.inbox, t.inbox.c.attempts == 2) == 1  # the press, tried three times


async def test_a_rejection_reaches_the_resident_in_her_language_whoever_pressed(demo):
    """The reason is kept as a code and put in words for each reader: the grid member reads English,
    the resident Chinese; what is stored is neither."""
    li = demo.persona("李秀英")
    await li.sends_text("/lang")
    await li.presses("English")
    await li.sees("in English from now on")
    wang, number = await wang_reports_a_broken_light(demo)
    await li.sees(number, timeout=10)
    await li.presses("✅ Accept")
    await li.presses("🚫 Close without a fix")
    await li.sees(f"Why is {number} closed without a fix?")
    await li.presses("Checked: not a problem that needs action")
    await li.sees(f"Closed {number} (Checked: not a problem that needs action)")
    told = await wang.sees(f"您反映的 {number} 经核实", timeout=10)
    assert told.text.endswith("：经核实不是需要处理的问题"), told.text
    await demo.settled()
    async with demo.db.uow() as uow:
        (rejected,) = [e for e in await uow.events.of("case", number) if e.kind == "report_rejected"]
        case = await uow.cases.by_number(number)
    assert rejected.after["closure_reason"] == "not_a_problem" and not rejected.after.get("reason")
    assert case.closure_note is None


async def test_closing_without_a_fix_asks_which_reason_and_the_resident_reads_it(demo):
    """#21: the desk (and the handler) reject with a reason they choose; the press is checked first."""
    wang, number = await wang_reports_a_broken_light(demo)
    li = demo.persona("李秀英")
    # anywhere: the new-case message may have come before this ChatUser existed (after a joiner's steps)
    await li.sees(number, timeout=10, anywhere=True)
    await li.presses("✅ 受理")
    await li.presses("🚫 不处理（说明原因）")
    await li.sees(f"为什么不处理 {number}？")
    await li.presses("不属于社区和物业的职责范围")
    await li.sees(f"已关闭 {number}（不属于社区和物业的职责范围）")
    told = await wang.sees(f"您反映的 {number} 经核实", timeout=10)
    assert told.text.endswith("：不属于社区和物业的职责范围"), told.text
    await demo.settled()
    async with demo.db.uow() as uow:
        case = await uow.cases.by_number(number)
    assert case.state.value == "rejected" and case.closure_reason.value == "not_our_responsibility"
    closed = await li.sees(f"已关闭 {number}")
    forged = CaseAct(action="rejectwhy", number=number, arg="cannot_fix_now").pack()  # a second, stale press
    query_id = demo.stack.standin.user_presses_button(li.user_id, closed.message_id, forged, forged=True)
    answer = await demo.stack.standin.wait_callback_answer(query_id)
    assert answer.show_alert and "不能这样操作了" in answer.text
