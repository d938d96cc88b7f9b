"""A rejection's reason is kept as a code and put in words for each reader; words a person typed,
and the translated words older rows hold, are shown as they were written."""

from __future__ import annotations

from texts.cases import case_history, why_rejected
from texts import Translator
from core import cases_services
from core.cases import ClosureReason
from redgrid.settings import Settings
from tests.test_reporting import MONDAY, do, outbox, report, town  # noqa: F401  (fixture)


async def history(town, number: str, lang: str, tmp_path) -> str:
    async with town.db.uow() as uow:
        case = await uow.cases.by_number(number)
        return await case_history(uow, case, Translator(lang), Settings(_env_file=None, data_dir=tmp_path).tz, MONDAY)


async def test_a_coded_reason_is_stored_as_its_code_and_read_in_each_language(town, tmp_path):
    case = await report(town)
    await do(town, cases_services.reject_report, "li", case.number, ClosureReason.NOT_A_PROBLEM)
    (row,) = await outbox(town.db, "case.rejected")
    assert (row.payload["reason"], row.payload["closure_reason"]) == ("", "not_a_problem")
    assert why_rejected(Translator("zh"), row.payload) == "经核实不是需要处理的问题"
    assert why_rejected(Translator("en"), row.payload) == "Checked: not a problem that needs action"
    assert "核实后不予处理（经核实不是需要处理的问题）" in await history(town, case.number, "zh", tmp_path)
    assert "(Checked: not a problem that needs action)" in await history(town, case.number, "en", tmp_path)


async def test_typed_words_and_old_rows_are_shown_as_written(town, tmp_path):
    case = await report(town)
    # what the bot stored before codes: the button's words in the language of whoever pressed
    await do(town, cases_services.reject_report, "li", case.number, "Checked: not a problem that needs action")
    assert "核实后不予处理（Checked: not a problem that needs action）" in await history(
        town, case.number, "zh", tmp_path)
    assert why_rejected(Translator("zh"), {"case": case.number, "reason": "正常施工，有许可证"}) == "正常施工，有许可证"
