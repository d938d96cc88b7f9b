"""Reading org chart files (.xlsx and .csv) and importing them in one transaction.

Every sheet of a workbook is read; a CSV file is one sheet. CSV may be UTF-8 (with or without the
byte order mark Excel writes) or GBK/GB18030, which Excel in China often saves. The first non-blank
row of a sheet is its header; which columns it must have is described in `core.orgchart`.
"""

from __future__ import annotations

import asyncio
import csv
import io
import warnings
from datetime import datetime
from pathlib import Path

from core.orgchart import (
    BuildingRow, ImportReport, MemberRow, OrgImportError, OrgPlan, Problem, apply_plan, build_plan, cell_text,
    parse_sheet,
)
from storage.uow import Database

NOT_A_SPREADSHEET = "not a spreadsheet: use .xlsx or .csv"

Rows = list[list[object]]


def _problem(path: Path, message: str, sheet: str | None = None) -> OrgImportError:
    return OrgImportError([Problem(path.name, sheet, None, None, message)])


def _workbook_sheets(path: Path) -> list[tuple[str, Rows]]:
    """Every worksheet of an .xlsx file with its cell values (formulas read as their last result)."""
    import openpyxl

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about styles and validations it skips
            workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # a renamed PDF or text file, a damaged zip, an encrypted workbook
        raise _problem(path, f"{NOT_A_SPREADSHEET} ({type(exc).__name__})") from None
    try:
        sheets = []
        for sheet in workbook.worksheets:
            sheet.reset_dimensions()  # some writers store a wrong size; read every row there is
            sheets.append((sheet.title, [list(row) for row in sheet.iter_rows(values_only=True)]))
        return sheets
    finally:
        workbook.close()


def _decoded(path: Path, data: bytes) -> str:
    if b"\x00" in data:
        raise _problem(path, NOT_A_SPREADSHEET)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise _problem(path, "cannot read the text: save the CSV as UTF-8 or GBK")


def _csv_rows(path: Path) -> Rows:
    text = _decoded(path, path.read_bytes())
    first_line = text.split("\n", 1)[0]
    delimiter = max(",\t;", key=first_line.count)  # Excel writes ";" or tabs in some settings
    try:
        return [list(row) for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    except csv.Error as exc:
        raise _problem(path, f"{NOT_A_SPREADSHEET} ({exc})") from None


def _sheets(path: Path) -> list[tuple[str | None, Rows]]:
    if not path.exists():
        raise OrgImportError([Problem(str(path), None, None, None, "file not found")])
    if not path.is_file():
        raise _problem(path, "not a file")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return list(_workbook_sheets(path))
    if suffix == ".csv":
        return [(None, _csv_rows(path))]
    if suffix == ".xls":
        raise _problem(path, "the old Excel format (.xls) cannot be read: save it as .xlsx (Excel Workbook)")
    raise _problem(path, NOT_A_SPREADSHEET)


def _sheet_rows(path: Path, sheet: str | None, rows: Rows) -> list[BuildingRow] | list[MemberRow]:
    """A sheet's rows below its header (the first non-blank row); an empty sheet has none."""
    start = next((i for i, cells in enumerate(rows) if any(cell_text(c) for c in cells)), None)
    if start is None:
        return []
    return parse_sheet(path.name, sheet, rows[start], rows[start + 1:], header_row=start + 1)


def _file_rows(path: Path) -> list[BuildingRow | MemberRow]:
    rows: list[BuildingRow | MemberRow] = []
    problems: list[Problem] = []
    for sheet, cells in _sheets(path):
        try:
            rows += _sheet_rows(path, sheet, cells)
        except OrgImportError as exc:
            problems += exc.problems
    if problems:
        raise OrgImportError(problems)
    if not rows:
        raise _problem(path, "no rows to import")
    return rows


def read_org_files(paths: list[Path]) -> OrgPlan:
    """All files read and checked together; every problem in any of them is raised at once."""
    rows: list[BuildingRow | MemberRow] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            rows += _file_rows(Path(path))
        except OrgImportError as exc:
            problems += exc.problems
    try:
        plan = build_plan(rows)
    except OrgImportError as exc:
        problems += exc.problems
    if problems:
        raise OrgImportError(problems)
    return plan


async def import_org(db: Database, paths: list[Path], now: datetime) -> ImportReport:
    """Read, check and write the org chart in one unit of work: all of it, or nothing if any row is wrong."""
    plan = await asyncio.to_thread(read_org_files, list(paths))
    async with db.uow() as uow:
        report = await apply_plan(uow, plan, now)
        await uow.commit()
    return report
