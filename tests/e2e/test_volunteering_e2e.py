"""Party-member volunteering through the real bot and the stand-in, on every test database:
"群众点单" → "社区派单" → two members race for the last place → check-in/out with photos →
the resident confirms with stars → points. Plus registration ("双报到"), a declined order, no-shows,
and the bad inputs and forged presses people really send."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bot.callbacks import Vol
from tests.e2e.test_report_loop_e2e import jpeg

# 2026-11-24 09:00 in Beijing: the post the staff make in these scenarios starts then
POST_STARTS = datetime(2026, 11, 24, 1, 0, tzinfo=timezone.utc)


async def wang_orders_help(demo) -> tuple[object, str]:
    wang = demo.persona("王阿姨")
    await wang.sends_text("/ask")
    await wang.sees("您需要什么帮助")
    await wang.presses("👵 帮助老人")
    await wang.sees("几句话")
    await wang.sends_text("老伴腿脚不便，想请人陪着去社区卫生服务站")
    await wang.sees("什么时候")
    await wang.presses("周末")
    await wang.sees("在哪里")
    await wang.presses("我家（粮食局小区 3号楼）")
    summary = await wang.sees("请确认")
    assert "👵 帮助老人" in summary.text and "周末" in summary.text and "粮食局小区 3号楼" in summary.text
    await wang.presses("✅ 确认提交")
    done = await wang.sees("已提交，编号")
    return wang, done.text.split("编号 ")[1].split("。")[0]


async def use_the_suggestion_or_type(chen, question, words: str) -> None:
    if any(label.startswith("用「") for label in question.buttons):
        await chen.presses("用「")
    else:
        await chen.sends_text(words)


async def staff_make_a_post(chen, *, people: str = "2", when: str = "11-24 09:00") -> str:
    """The post dialog from "派单" (or /newpost) on: default title and place, 2 hours, 10 points."""
    await use_the_suggestion_or_type(chen, await chen.sees("岗位名称"), "环境整治")
    await chen.sees("什么时候开始")
    await chen.sends_text("明天上午")
    await chen.sees("没看懂这个时间")
    await chen.sends_text(when)
    await chen.sees("几个小时")
    await chen.presses("2")
    await use_the_suggestion_or_type(chen, await chen.sees("在哪里"), "社区党群服务中心")
    await chen.sees("需要几个人")
    await chen.presses(people)
    await chen.sees("每人多少积分")
    await chen.presses("10")
    summary = await chen.sees("请确认岗位")
    assert "（2 小时）" in summary.text and "⭐ 每人 10 分" in summary.text
    await chen.presses("✅ 发布岗位")
    published = await chen.sees("已发布岗位")
    return published.text.split("已发布岗位 ")[1].split("「")[0]


async def test_order_dispatch_race_for_the_last_place_check_in_out_confirm_and_points(demo):
    wang, order = await wang_orders_help(demo)
    assert order.startswith("DC-FW-2026-")
    chen = demo.persona("陈书记")
    told = await chen.sees(order, timeout=10, anywhere=True)
    assert "👵 帮助老人" in told.text and "老伴腿脚不便" in told.text
    await chen.presses("📌 派单（发布岗位）")
    post = await staff_make_a_post(chen)
    assert post.startswith("DC-GW-2026-")
    await wang.sees(f"您的点单 {order} 已安排", timeout=10)

    liu, sun, yang = demo.persona("刘建国"), demo.persona("孙丽"), demo.persona("杨卫东")
    new_post = await liu.sees(post, timeout=10, anywhere=True)
    assert "🙋 接单" in new_post.buttons
    await liu.presses("🙋 接单")
    claimed = await liu.sees("接单成功")
    assert "粮食局小区 3号楼" in claimed.text  # the place is shown once a place is held
    coming = await wang.sees("有人接单了", timeout=10)
    assert "刘建国" in coming.text

    # Grace Lin reads the same post in English
    grace = demo.persona("Grace Lin")
    in_english = (await grace.sees(post, timeout=10, anywhere=True)).text
    assert "New service post" in in_english and "🕘 Nov 24, 09:00" in in_english

    # 孙丽 and 杨卫东 press Claim on the last place in the same instant
    standin = demo.stack.standin
    offers = [await member.sees(post, timeout=10, anywhere=True) for member in (sun, yang)]
    queries = [standin.user_presses_button(member.user_id, offer.message_id, offer.button_data("🙋 接单"))
               for member, offer in zip((sun, yang), offers)]
    answers = [await standin.wait_callback_answer(q, timeout=10) for q in queries]
    refused = [a for a in answers if a.text and "名额刚刚被接完了" in a.text]
    assert len(refused) == 1 and refused[0].show_alert
    loser, winner = (sun, yang) if refused[0] is answers[0] else (yang, sun)
    await winner.sees("接单成功", timeout=10)
    await loser.sees("要排队候补吗", timeout=10)
    await loser.presses("⏳ 排队候补")
    await loser.sees("已加入")
    await demo.settled()  # the reply comes before the commit
    async with demo.db.uow() as uow:
        saved = await uow.volunteering.post(post)
        claims = {c.person_id: c.state.value for c in await uow.volunteering.claims_of_post(post)}
    assert saved.places_taken == 2 and saved.state.value == "full"
    assert sorted(claims.values()) == ["claimed", "claimed", "waitlisted"]
    await loser.sends_text("/mytasks")
    assert "⏳ 候补中" in (await loser.sees(post)).text

    # 刘建国 cannot come after all: the first in line gets his place and is told
    await liu.sends_text("/mytasks")
    await liu.sees(post)
    await liu.presses("↩ 退出")
    await liu.sees(f"已退出 {post}")
    promoted = await loser.sees("您已从候补转为正式", timeout=10)
    assert post in promoted.text

    # the day: the winner checks in with a photo (text first, by mistake) and checks out
    demo.clock.set(POST_STARTS - timedelta(minutes=10))
    await winner.sends_text("/mytasks")
    await winner.sees("您接的岗位")
    await winner.presses("📍 签到")
    await winner.sees("请拍一张现场照片")
    await winner.sends_text("我到了")
    await winner.sees("这里需要一张照片")
    await winner.sends_document(b"%PDF-1.4 not an image", "me.pdf", "application/pdf")
    await winner.sees("这不是照片")
    await winner.sends_photo(jpeg("teal"))
    await winner.sees("签到成功")
    demo.clock.set(POST_STARTS + timedelta(hours=2))
    await winner.presses("🏁 签退")
    await winner.sees("服务完成的照片")
    await winner.sends_photo(jpeg("purple"))
    out = await winner.sees("签退成功")
    assert "服务 2.2 小时" in out.text  # from 08:50 to 11:00

    # the resident (and the staff) are asked to confirm; the resident rates it
    ask = await wang.sees("请确认并评分", timeout=10)
    assert winner.name in ask.text and "2.0 小时" in ask.text  # capped by the post's length
    await chen.sees("请确认并评分", timeout=10)
    await wang.presses("⭐⭐⭐⭐⭐ 5")
    await wang.sees("已确认")
    await winner.sees("获得 10 积分", timeout=10)
    await winner.sends_text("/points")
    points = await winner.sees("您有 10 积分")
    assert f"1. {winner.name} 10 分" in points.text
    await demo.settled()
    async with demo.db.uow() as uow:
        member = await uow.people.by_identity("telegram", str(winner.user_id))
        claim = await uow.volunteering.claim(post, member.id)
    assert claim.state.value == "confirmed" and claim.rating == 5

    # the points shop: the staff record what the member bought
    await chen.sends_text("/redeem")
    await chen.sees("为谁兑换")
    await chen.sends_text(winner.name[:1])
    await chen.presses(f"{winner.name}（10 分）")
    await chen.sees("兑换多少积分")
    await chen.sends_text("很多")
    await chen.sees("大于 0 的整数")
    await chen.sends_text("6")
    await chen.sees("兑换什么物品")
    await chen.sends_text("洗衣液一瓶")
    await chen.sees(f"已为 {winner.name} 兑换「洗衣液一瓶」，用了 6 分，还剩 4 分")
    await winner.sees("还剩 4 分", timeout=10)


async def test_staff_decline_an_order_with_a_reason_the_resident_reads(demo):
    wang, order = await wang_orders_help(demo)
    chen = demo.persona("陈书记")
    await chen.sends_text("/orders")
    await chen.sees("待处理的居民点单（1 个）")
    card = await chen.sees(order)
    assert "粮食局小区 3号楼" in card.text
    await chen.presses("✖ 不受理")
    await chen.sees("会告诉居民")
    await chen.sends_text("这属于物业维修，请拨打物业电话")
    await chen.sees(f"已不受理 {order}")
    told = await wang.sees("暂时无法安排", timeout=10)
    assert "物业维修" in told.text
    await chen.sends_text("/orders")
    await chen.sees("没有待处理的居民点单")


async def test_a_party_member_registers_and_staff_approve(demo):
    zhao = demo.newcomer("赵红")
    await zhao.sends_text("/tasks")
    await zhao.agrees()  # the privacy notice before anything else
    await zhao.sends_text("/tasks")
    await zhao.sees("党员请发送 /join_party")
    await zhao.sends_text("/join_party")
    await zhao.presses("东城社区")
    await zhao.sees("请写下您的工作单位")
    await zhao.sends_text("县教育局")
    await zhao.sees("等待「东城社区」审核")
    await zhao.sends_text("/tasks")
    await zhao.sees("正在等待社区审核")
    chen = demo.persona("陈书记")
    request = await chen.sees("党员报到申请：赵红（县教育局）", timeout=10, anywhere=True)
    assert request.buttons == ["✅ 通过", "✖ 不通过"]
    await chen.sends_text("/members")
    await chen.sees("赵红（县教育局）")
    await chen.presses("✅ 通过")
    await chen.sees("已通过 赵红 的报到")
    await zhao.sees("已确认您的报到", timeout=10)
    await zhao.sends_text("/tasks")
    await zhao.sees("可以接的服务岗位")
    offer = await zhao.sees("清理楼道小广告")  # the demo's open post
    assert "🙋 接单" in offer.buttons and "东城花园 2号楼" in offer.text
    # a second press on the old request button changes nothing and says so
    query = demo.stack.standin.user_presses_button(chen.user_id, request.message_id, request.button_data("✅ 通过"),
                                                   forged=True)
    answer = await demo.stack.standin.wait_callback_answer(query)
    assert answer.show_alert and "已处理" in answer.text


async def test_forged_and_misplaced_presses_are_refused_politely(demo):
    wang, order = await wang_orders_help(demo)
    standin = demo.stack.standin
    await wang.sends_text("/help")
    some = (await wang.sees("您可以")).message_id

    # a resident pressing the staff's "make a post" button
    query = standin.user_presses_button(wang.user_id, some, Vol(action="dispatch", ref=order).pack(), forged=True)
    assert "没有权限" in (await standin.wait_callback_answer(query)).text

    # a resident (not a party member) asking for the list and forging a claim
    await wang.sends_text("/tasks")
    await wang.sees("只对在本社区报到的党员开放")
    chen = demo.persona("陈书记")
    await chen.sends_text("/newpost")
    post = await staff_make_a_post(chen, people="1")
    query = standin.user_presses_button(wang.user_id, some, Vol(action="claim", ref=post).pack(), forged=True)
    assert "报到的党员" in (await standin.wait_callback_answer(query)).text

    # a member forging a claim on a post that does not exist, and a check-in on a post they never claimed
    liu = demo.persona("刘建国")
    await liu.sends_text("/help")
    liu_some = (await liu.sees("您可以")).message_id
    query = standin.user_presses_button(liu.user_id, liu_some, Vol(action="claim", ref="DC-GW-2026-999999").pack(),
                                        forged=True)
    assert "没有找到" in (await standin.wait_callback_answer(query)).text
    query = standin.user_presses_button(liu.user_id, liu_some, Vol(action="checkin", ref=post).pack(), forged=True)
    assert "不是您接的岗位" in (await standin.wait_callback_answer(query)).text
    # stars on a service nobody did
    query = standin.user_presses_button(wang.user_id, some, Vol(action="rate", ref=post, person=1, arg="5").pack(),
                                        forged=True)
    assert (await standin.wait_callback_answer(query)).show_alert
    await demo.settled()  # the refusals were answered before their rollbacks
    async with demo.db.uow() as uow:
        assert list(await uow.volunteering.claims_of_post(post)) == []
        assert (await uow.volunteering.order(order)).state.value == "new"


async def test_no_shows_suspend_a_member_until_staff_lift_it(demo):
    chen = demo.persona("陈书记")
    he = demo.persona("何敏")
    for day in ("11-24 09:00", "11-25 09:00"):
        await chen.sends_text("/newpost")
        post = await staff_make_a_post(chen, people="1", when=day)
        await he.sees(post, timeout=10)
        await he.presses("🙋 接单")
        await he.sees("接单成功")
    roster_messages = [m for m in chen.messages if "已发布岗位" in m.text]
    assert len(roster_messages) == 2
    demo.clock.set(POST_STARTS + timedelta(days=1, hours=3))  # both have started; 何敏 never came
    suspended = None
    for published in roster_messages:
        await chen.sends_text("/help")  # move on, so "sees" looks at the answers to this press
        query = demo.stack.standin.user_presses_button(chen.user_id, published.message_id,
                                                       published.button_data("👥 名单"))
        await demo.stack.standin.wait_callback_answer(query)
        roster = await chen.sees("名单：")
        assert "何敏：已接单" in roster.text
        await chen.presses("❌ 何敏 缺席")
        suspended = await chen.sees("已记录 何敏 缺席")
    assert "已暂停其接单" in suspended.text and "🔓 恢复接单" in suspended.buttons
    told = await he.sees("暂停接单", timeout=10)  # why, and how to be restored
    assert "缺席 2 次" in told.text and "联系社区工作人员" in told.text and "🔓 恢复接单" in told.text

    await chen.sends_text("/newpost")
    post = await staff_make_a_post(chen, people="1", when="11-28 09:00")
    offer = await he.sees(post, timeout=10)
    query = demo.stack.standin.user_presses_button(he.user_id, offer.message_id, offer.button_data("🙋 接单"))
    assert "暂时不能接单" in (await demo.stack.standin.wait_callback_answer(query)).text
    await chen.presses("🔓 恢复接单")
    await chen.sees("已恢复 何敏 的接单资格")
    restored = await he.sees("已恢复您在", timeout=10)
    assert "缺席记录 2 次仍保留" in restored.text
    await he.presses("🙋 接单")
    await he.sees("接单成功")


async def press_roster(chen, demo, post: str):
    """/posts, then 👥 on this post's card (other posts have a 👥 too); returns the roster."""
    await chen.sends_text("/posts")
    card = await chen.sees(post)
    query = demo.stack.standin.user_presses_button(chen.user_id, card.message_id, card.button_data("👥 名单"))
    await demo.stack.standin.wait_callback_answer(query)
    return await chen.sees(f"（{post}）名单：")


async def test_staff_check_out_a_member_who_forgot_then_confirm_and_points_follow(demo):
    chen, he, liu = demo.persona("陈书记"), demo.persona("何敏"), demo.persona("刘建国")
    await chen.sends_text("/newpost")
    post = await staff_make_a_post(chen, people="1")          # 11-24 09:00–11:00, 10 points
    await he.sees(post, timeout=10)
    await he.presses("🙋 接单")
    await he.sees("接单成功")
    demo.clock.set(POST_STARTS + timedelta(minutes=20))
    await he.sends_text("/mytasks")
    await he.sees("您接的岗位")
    await he.presses("📍 签到")
    await he.sees("请拍一张现场照片")
    await he.sends_photo(jpeg("teal"))
    await he.sees("签到成功")
    # 何敏 goes home without checking out; while the post runs there is nothing to settle yet
    demo.clock.set(POST_STARTS + timedelta(hours=1))
    before = len(chen.messages)
    await chen.sends_text("/posts")
    await chen.sees("清理楼道小广告")       # the demo's coming post; unsettled ones would come before it
    assert not any(post in m.text or "代为签退" in m.text for m in chen.messages[before:])
    demo.clock.set(POST_STARTS + timedelta(hours=6))           # the post ended at 11:00
    roster = await press_roster(chen, demo, post)
    assert "何敏：已签到" in roster.text and "🏁 代为签退 何敏" in roster.buttons
    assert any("为忘记签退的人代为签退" in m.text for m in chen.messages[-6:])
    await demo.settled()
    async with demo.db.uow() as uow:
        he_id = (await uow.people.by_identity("telegram", str(he.user_id))).id

    # a party member forging the staff's 🏁 is refused, and nothing changes
    await liu.sends_text("/help")
    liu_some = (await liu.sees("您可以")).message_id
    query = demo.stack.standin.user_presses_button(
        liu.user_id, liu_some, Vol(action="outfor", ref=post, person=he_id).pack(), forged=True)
    answer = await demo.stack.standin.wait_callback_answer(query)
    assert answer.show_alert and "没有权限" in answer.text
    await demo.settled(failed_ok=True)
    async with demo.db.uow() as uow:
        claim = await uow.volunteering.claim(post, he_id)
    assert claim.state.value == "checked_in" and claim.checked_out_at is None

    await chen.presses("🏁 代为签退 何敏")
    done = await chen.sees("已为 何敏 代为签退")
    assert "1.7 小时" in done.text                               # 09:20 → 11:00
    roster = await press_roster(chen, demo, post)
    assert "何敏：已签退" in roster.text and "⭐ 确认 何敏" in roster.buttons
    await chen.presses("⭐ 确认 何敏")
    await chen.sees("请为这次服务打分")
    await chen.presses("⭐⭐⭐⭐ 4")
    await chen.sees("已确认 何敏 的服务")
    await he.sees("获得 10 积分", timeout=10)
    await demo.settled()
    async with demo.db.uow() as uow:
        claim = await uow.volunteering.claim(post, he_id)
        balance = await uow.volunteering.balance(he_id, (await uow.volunteering.post(post)).community_id)
    assert claim.state.value == "confirmed" and claim.rating == 4
    assert claim.checked_out_at == POST_STARTS + timedelta(hours=2) and claim.check_out_photo is None
    assert claim.served == timedelta(hours=1, minutes=40)
    assert balance == 10


async def test_a_forged_confirm_by_someone_not_staff_is_refused_before_any_stars(demo):
    chen, liu = demo.persona("陈书记"), demo.persona("刘建国")
    await chen.sends_text("/newpost")
    post = await staff_make_a_post(chen, people="1")
    await liu.sees(post, timeout=10)
    await liu.presses("🙋 接单")
    await liu.sees("接单成功")
    async with demo.db.uow() as uow:
        member = await uow.people.by_identity("telegram", str(liu.user_id))
    wang = demo.persona("王阿姨")
    await wang.sends_text("/help")
    some = (await wang.sees("您可以")).message_id
    standin = demo.stack.standin
    query = standin.user_presses_button(wang.user_id, some, Vol(action="confirm", ref=post, person=member.id).pack(),
                                        forged=True)
    answer = await standin.wait_callback_answer(query)
    assert answer.show_alert and "没有权限" in answer.text
    await demo.settled()
    assert not [m for m in wang.messages if "请为这次服务打分" in m.text]  # no stars were offered
