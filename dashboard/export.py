"""The month's report as an Excel workbook (openpyxl) and the period's cases as CSV, in the viewer's
language (Chinese headings by default).

Workbook: 汇总 (the overview: the same figures as the dashboard, numbers as numbers, rates as
percentages), one sheet per grid (its own figures, then its cases), 问题清单 (every case of the period).
CSV: the case list, UTF-8 with a byte-order mark so Excel reads the Chinese.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from typing import Any, Sequence
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from core.statistics import CaseRow, Overview, figure_values
from core.statistics_services import MonthlyReport
from texts import Translator

_FORMATS = {"rate": "0.0%", "hours": "0.0", "stars": "0.00", "count": "0"}
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


def case_headings(tr: Translator) -> list[str]:
    return [tr("dash.case.number"), tr("dash.case.category"), tr("dash.case.state"), tr("dash.case.grid"),
            tr("dash.case.building"), tr("dash.case.reported"), tr("dash.case.deadline"), tr("dash.case.resolved"),
            tr("dash.case.closed"), tr("dash.case.on_time"), tr("dash.case.rating"), tr("dash.case.rework"),
            tr("dash.case.closure_reason")]


def _local(moment: datetime | None, tz: ZoneInfo) -> datetime | None:
    """Excel keeps no time zone: moments are written as the community's wall-clock time."""
    return None if moment is None else moment.astimezone(tz).replace(tzinfo=None)


def case_values(tr: Translator, row: CaseRow, tz: ZoneInfo) -> list[Any]:
    on_time = None if row.resolved_at is None else (tr("yes") if row.resolved_at <= row.deadline else tr("no"))
    return [row.number, _plain(tr(f"category.{row.category.value}")), tr(f"state.{row.state}"), row.grid,
            row.building, _local(row.created_at, tz), _local(row.deadline, tz), _local(row.resolved_at, tz),
            _local(row.closed_at, tz), on_time, row.rating, row.rework_count,
            tr(f"closure.{row.closure_reason}") if row.closure_reason else None]


def _plain(label: str) -> str:
    """Category names carry an emoji for the chat; a spreadsheet wants the words."""
    return label.split(" ", 1)[1] if " " in label and not label[0].isalnum() else label


def _sheet_name(name: str, taken: set[str]) -> str:
    base = _BAD_SHEET_CHARS.sub("_", name)[:28] or "sheet"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base[:26]}_{n}", n + 1
    taken.add(candidate)
    return candidate


def _figures(ws: Any, tr: Translator, overview: Overview, start_row: int) -> int:
    """The overview's figures from `start_row`: section, figure, value; returns the next free row."""
    row = start_row
    for section, figure, value, kind in figure_values(overview):
        ws.cell(row, 1, tr(f"stats.s.{section}"))
        ws.cell(row, 2, tr(f"stats.f.{figure}"))
        cell = ws.cell(row, 3, value)
        cell.number_format = _FORMATS[kind]
        row += 1
    return row


def _cases(ws: Any, tr: Translator, rows: Sequence[CaseRow], tz: ZoneInfo, start_row: int) -> None:
    for col, heading in enumerate(case_headings(tr), start=1):
        ws.cell(start_row, col, heading).font = Font(bold=True)
    for r, case in enumerate(rows, start=start_row + 1):
        for col, value in enumerate(case_values(tr, case, tz), start=1):
            cell = ws.cell(r, col, value)
            if isinstance(value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"


def _widths(ws: Any, widths: Sequence[int]) -> None:
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width


def workbook(report: MonthlyReport, tr: Translator, tz: ZoneInfo) -> bytes:
    ov = report.overview
    wb = Workbook()
    summary = wb.active
    taken = {tr("xlsx.summary"), tr("xlsx.cases")}
    summary.title = tr("xlsx.summary")
    summary.cell(1, 1, tr("xlsx.title", place=ov.area.name or tr("stats.all_places"), period=ov.period.label)).font = Font(bold=True, size=14)
    summary.cell(2, 1, tr("xlsx.made_at"))
    summary.cell(2, 2, _local(ov.now, tz)).number_format = "yyyy-mm-dd hh:mm"
    for col, heading in enumerate((tr("xlsx.section"), tr("xlsx.figure"), tr("xlsx.value")), start=1):
        summary.cell(4, col, heading).font = Font(bold=True)
    _figures(summary, tr, ov, 5)
    _widths(summary, (16, 28, 14))
    for grid, grid_overview in report.grids:
        ws = wb.create_sheet(_sheet_name(grid_overview.area.name or grid.grid, taken))
        ws.cell(1, 1, grid_overview.area.name).font = Font(bold=True, size=13)
        next_row = _figures(ws, tr, grid_overview, 3)
        _cases(ws, tr, [c for c in report.cases if c.grid_id == grid.grid_id], tz, next_row + 1)
        _widths(ws, (18, 24, 14, 16, 10, 17, 17, 17, 17, 8, 8, 8, 14))
    cases = wb.create_sheet(tr("xlsx.cases"))
    _cases(cases, tr, report.cases, tz, 1)
    _widths(cases, (18, 16, 14, 16, 10, 17, 17, 17, 17, 8, 8, 8, 14))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def cases_csv(rows: Sequence[CaseRow], tr: Translator, tz: ZoneInfo) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(case_headings(tr))
    for row in rows:
        writer.writerow(["" if v is None else (f"{v:%Y-%m-%d %H:%M}" if isinstance(v, datetime) else v)
                         for v in case_values(tr, row, tz)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
