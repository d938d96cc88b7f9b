"""社区派单 (#21): the desk gives a case to any grid member of the community or to a department, shown
by name; every hand-off is told to the residents who reported it and to the department, word for word."""

from __future__ import annotations

from texts import moment_text
from core.people import Department, Identity, Person, Role, RoleGrant
from core.consent import NOTICE_VERSION
from demo.harness import ChatUser
from tests.e2e.test_report_loop_e2e import wang_reports_a_broken_light

POWER = 1402  # 张电工 of 供电公司: a second department, added here (the demo seeds 城管执法中队 only)


async def power_company(demo) -> ChatUser:
    """A contact of 供电公司 serving every community, with a chat account."""
    async with demo.db.uow() as uow:
        department = Department(None, "供电公司")
        await uow.people.add_department(department)
        person = Person(None, "张电工", created_at=demo.clock.now(), notice_version=NOTICE_VERSION)
        await uow.people.add(person)
        await uow.people.add_identity(Identity(None, person.id, "telegram", str(POWER), str(POWER)))
        await uow.people.add_grant(RoleGrant(None, person.id, Role.DEPARTMENT, department_id=department.id))
        await uow.commit()
    return ChatUser(demo.stack.standin, POWER, "张电工")


async def deadline_of(demo, number: str) -> str:
    """The case's deadline as a Chinese reader sees it ("12月9日 18:00")."""
    await demo.settled()
    async with demo.db.uow() as uow:
        case = await uow.cases.by_number(number)
    return moment_text("zh", case.deadline, demo.stack.settings.tz, demo.clock.now())


async def on_the_desk(demo):
    """王阿姨 reports; 李秀英 says "not mine"; 陈书记 finds it on the desk."""
    wang, number = await wang_reports_a_broken_light(demo)
    li = demo.persona("李秀英")
    await li.sees(number, timeout=10)
    await li.presses("↩ 不归我管")
    await li.sees(f"已退回社区，由社区重新分派 {number}")
    chen = demo.persona("陈书记")
    await chen.sees(f"待社区分派 {number}", timeout=10, anywhere=True)
    return wang, number, chen


async def test_not_mine_goes_to_the_desk_which_gives_it_to_another_grids_member(demo):
    wang, number, chen = await on_the_desk(demo)
    await chen.presses("👥 派给其他网格员")
    picker = await chen.sees(f"{number} 派给哪位网格员")
    assert picker.buttons == sorted(picker.buttons)  # grouped by compound and grid
    # phones masked in the list (core.disclosure), and staff's look at it audited
    assert "东城花园第一网格 · 张丽 139****0003" in picker.buttons and "粮食局小区第一网格 · 李秀英 139****0001" in picker.buttons
    await chen.presses("东城花园第一网格 · 张丽 139****0003")
    await chen.sees(f"已指派 {number}")
    zhang = demo.persona("张丽")  # 东城花园's grid member: not the grid of 3号楼
    told = await zhang.sees(f"新问题 {number}", timeout=10, anywhere=True)
    assert "✅ 受理" in told.buttons
    await zhang.presses("✅ 受理")
    await wang.sees(f"您反映的问题 {number} 已由网格员受理", timeout=10)
    await demo.settled()
    async with demo.db.uow() as uow:
        case = await uow.cases.by_number(number)
        zhang_id = (await uow.people.by_identity("telegram", str(zhang.user_id))).id
    assert case.handler_id == zhang_id and case.state.value == "in_progress"
    await chen.sends_text("/desk")
    await chen.sees("没有待分派或超时的问题")
    await wang.sends_text("/my")
    await wang.presses(next(b for b in (await wang.sees("您反映的问题")).buttons if number in b))
    story = await wang.sees("上报问题")
    assert "系统：派给网格员 李秀英" in story.text and "陈书记：派给网格员 张丽" in story.text


async def test_a_forged_assignment_to_someone_not_a_grid_member_is_refused(demo):
    wang, number, chen = await on_the_desk(demo)
    from bot.handlers.cases import CaseAct

    async with demo.db.uow() as uow:
        resident = await uow.people.by_identity("telegram", str(wang.user_id))
    some = (await chen.sees(f"待社区分派 {number}", anywhere=True)).message_id
    forged = CaseAct(action="assign", number=number, arg=str(resident.id)).pack()
    answer = await demo.stack.standin.wait_callback_answer(
        demo.stack.standin.user_presses_button(chen.user_id, some, forged, forged=True))
    assert answer.show_alert and "没有权限" in answer.text
    await demo.settled()
    async with demo.db.uow() as uow:
        case = await uow.cases.by_number(number)
    assert case.handler_id is None and case.state.value == "submitted"


async def test_the_desk_escalates_to_a_department_picked_by_name_and_everyone_is_told(demo):
    electrician = await power_company(demo)
    wang, number, chen = await on_the_desk(demo)
    await chen.presses("📣 上报部门（吹哨）")
    picker = await chen.sees("交给哪个部门")
    assert picker.buttons == ["供电公司 · 张电工", "城管执法中队 · 刘队长"]
    await chen.presses("城管执法中队 · 刘队长")
    await chen.sees(f"已上报 {number}")
    deadline = await deadline_of(demo, number)
    told = await wang.sees(f"您反映的问题 {number} 已上报", timeout=10)
    assert told.text == f"您反映的问题 {number} 已上报 城管执法中队，{deadline} 前办结。"
    liu = demo.persona("刘队长")
    whistle = await liu.sees(f"社区吹哨：{number}", timeout=10, anywhere=True)
    # the department handles it now: it is told who reported it (core.disclosure), to call them if need be
    assert whistle.text.endswith("\n由 陈书记 上报。\n👤 反映人：王阿姨") and "🙋 认领" in whistle.buttons
    await liu.presses("🙋 认领")
    await liu.sees(f"已认领 {number}")
    claimed = await wang.sees("认领", timeout=10)
    assert claimed.text == f"您反映的问题 {number} 已由 城管执法中队 认领，{deadline} 前办结。"
    staff_told = await chen.sees(f"{number} 已由", timeout=10)
    assert staff_told.text == f"{number} 已由 城管执法中队 刘队长 认领，{deadline} 前办结。"
    await electrician.receives_nothing()


async def test_a_grid_member_forwards_to_a_department_which_is_told_who_sent_it(demo):
    electrician = await power_company(demo)
    wang, number = await wang_reports_a_broken_light(demo)
    li = demo.persona("李秀英")
    await li.sees(number, timeout=10)
    await li.presses("➡️ 转交部门")
    await li.presses("供电公司 · 张电工")
    await li.sees(f"已转交 {number}")
    deadline = await deadline_of(demo, number)
    told = await wang.sees(f"您反映的问题 {number} 已转", timeout=10)
    assert told.text == f"您反映的问题 {number} 已转 供电公司 处理，{deadline} 前办结。"
    received = await electrician.sees(f"新问题 {number}", timeout=10)
    assert received.text.endswith("\n↪ 由 李秀英 转来。") and received.has_photo
    assert "✅ 受理" in received.buttons
    await demo.persona("刘队长").receives_nothing()
    await wang.sends_text("/my")
    await wang.presses(next(b for b in (await wang.sees("您反映的问题")).buttons if number in b))
    story = await wang.sees("上报问题")
    assert "转交 供电公司 张电工" in story.text


async def test_a_grid_member_escalates_and_is_told_of_the_claim(demo):
    wang, number = await wang_reports_a_broken_light(demo)
    li = demo.persona("李秀英")
    await li.sees(number, timeout=10)
    await li.presses("📣 上报部门（吹哨）")
    await li.presses("城管执法中队 · 刘队长")
    await li.sees(f"已上报 {number}")
    deadline = await deadline_of(demo, number)
    liu = demo.persona("刘队长")
    whistle = await liu.sees(f"社区吹哨：{number}", timeout=10, anywhere=True)
    assert whistle.text.endswith("\n由 李秀英 上报。\n👤 反映人：王阿姨")
    await liu.presses("🙋 认领")
    told = await li.sees(f"{number} 已由", timeout=10)
    assert told.text == f"{number} 已由 城管执法中队 刘队长 认领，{deadline} 前办结。"
    await wang.sees(f"您反映的问题 {number} 已由 城管执法中队 认领，{deadline} 前办结。", timeout=10)
    await wang.sends_text("/my")
    await wang.presses(next(b for b in (await wang.sees("您反映的问题")).buttons if number in b))
    story = await wang.sees("上报问题")
    assert "上报 城管执法中队 刘队长" in story.text
