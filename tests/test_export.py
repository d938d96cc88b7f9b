"""The monthly Excel and the CSV of cases: opened again with openpyxl / csv, their totals are the overview's."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from core.statistics import figure_values
from tests.test_dashboard import sign_in, site  # noqa: F401  (fixture)
from tests.test_statistics import ask, month_of_work  # noqa: F401  (fixture)


async def test_the_workbooks_totals_are_the_overviews(site):
    w = site
    await sign_in(w, "chen")
    got = await w.client.get("/dashboard/export.xlsx?month=2026-11")
    assert got.status == 200 and got.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(await got.read()))
    assert book.sheetnames == ["汇总", "东城花园 东城花园网格", "粮食局小区 粮食局第一网格", "粮食局小区 粮食局第二网格", "问题清单"]
    overview = await ask(w, "chen")
    summary = book["汇总"]
    assert summary["A1"].value == "东城社区 社区治理月报 · 2026-11"
    written = {row[1]: row[2] for row in summary.iter_rows(min_row=5, values_only=True)}
    from texts import text

    expected = {text("zh", f"stats.f.{figure}"): value for _, figure, value, _ in figure_values(overview)}
    assert written == expected and written["收到问题（件）"] == 8 and written["一次性办结率"] == 0.8
    assert summary["C7"].number_format == "0.0%"  # one-time closure rate, a percentage in Excel
    # the grids' sheets add up to the whole; the case list holds every case reported in the month
    received = [next(r[2] for r in book[name].iter_rows(values_only=True) if r[1] == "收到问题（件）")
                for name in book.sheetnames[1:-1]]
    closed = [next(r[2] for r in book[name].iter_rows(values_only=True) if r[1] == "办结（件）")
              for name in book.sheetnames[1:-1]]
    assert sum(received) == written["收到问题（件）"] and sum(closed) == written["办结（件）"]
    case_sheet = list(book["问题清单"].iter_rows(values_only=True))
    assert case_sheet[0][:3] == ("编号", "类别", "状态") and len(case_sheet) - 1 == 8
    assert {r[0] for r in case_sheet[1:]} == {"C-1", "C-2", "C-3", "C-4", "C-6", "C-7", "C-8", "C-10"}
    first = next(r for r in case_sheet if r[0] == "C-1")
    assert first[1] == "路灯/楼道灯" and first[2] == "已办结" and first[9] == "是" and first[10] == 5
    assert str(first[5]) == "2026-11-02 10:00:00"  # Beijing wall-clock time


async def test_the_csv_of_cases_opens_in_excel_with_chinese_headings(site):
    w = site
    await sign_in(w, "chen")
    got = await w.client.get(f"/dashboard/export.csv?month=2026-11&place=grid:{w.grids['粮食局第一网格'].id}")
    data = await got.read()
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][0] == "编号" and sorted(r[0] for r in rows[1:]) == ["C-1", "C-10", "C-2", "C-6"]


async def test_another_communitys_export_is_not_found(site):
    w = site
    await sign_in(w, "xi")
    got = await w.client.get(f"/dashboard/export.xlsx?place=grid:{w.grids['粮食局第一网格'].id}")
    assert got.status == 404
