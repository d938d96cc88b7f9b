"""The org import: a community's spreadsheet becomes its places and grid members, all or nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from core.orgchart import (
    BuildingRow, MemberRow, OrgImportError, Problem, build_plan, parse_sheet,
)
from core.people import GrantStatus, Role
from samples.make_samples import BUILDING_HEADER, MEMBER_HEADER, building_rows, member_rows
from storage import tables as t
from storage.orgfile import import_org, read_org_files

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
SAMPLE_XLSX = SAMPLES / "demo_org.xlsx"
SAMPLE_CSVS = [SAMPLES / "demo_org_buildings.csv", SAMPLES / "demo_org_members.csv"]
ALL_TABLES = [t.districts, t.streets, t.communities, t.compounds, t.grids, t.buildings, t.persons,
              t.role_grants, t.events]


def write_xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def write_csv(path: Path, rows: list[list[object]], encoding: str = "utf-8-sig") -> Path:
    text = "\r\n".join(",".join("" if c is None else str(c) for c in row) for row in rows) + "\r\n"
    path.write_bytes(text.encode(encoding))
    return path


def sample_sheets() -> dict[str, list[list[object]]]:
    return {"楼栋": [BUILDING_HEADER, *building_rows()], "网格员": [MEMBER_HEADER, *member_rows()]}


async def row_counts(db) -> dict[str, int]:
    async with db.engine.connect() as conn:
        return {table.name: (await conn.execute(select(func.count()).select_from(table))).scalar_one()
                for table in ALL_TABLES}


async def snapshot(db) -> dict:
    """The imported org chart by names, to compare two imports."""
    chart: dict = {}
    async with db.uow() as uow:
        for community in await uow.places.communities():
            for compound in await uow.places.compounds(community.id):
                grids = {g.id: g for g in await uow.places.grids(community.id) if g.compound_id == compound.id}
                for building in await uow.places.buildings_of_compound(compound.id):
                    grid = grids[building.grid_id]
                    members = [(p.display_name, p.phone) for p in await uow.people.grid_members(grid.id)]
                    key = (community.name, community.code, compound.name, building.name)
                    chart[key] = (grid.name, building.lat, building.lon, grid.lat, grid.lon, members)
    return chart


# --- reading one sheet, no database ----------------------------------------------------------


def test_building_sheet_in_chinese_reads_trimmed_text_and_whole_numbers():
    (row,) = parse_sheet("a.xlsx", "楼栋", BUILDING_HEADER,
                         [[" 凤台县 ", "城关镇", "东城社区", "dc", "粮食局小区", "第一网格", 1.0, 32.705, "116.71"]])
    assert row == BuildingRow("凤台县", "城关镇", "东城社区", "DC", "粮食局小区", "第一网格", "1", 32.705, 116.71)
    assert (row.source.file, row.source.sheet, row.source.row) == ("a.xlsx", "楼栋", 2)


def test_member_sheet_in_english_with_phone_written_loosely_and_blank_rows_skipped():
    header = ["Community", "Compound", "Grid", "Name", "Phone", "Notes"]
    rows = [[None, "", None, None, None, None],
            ["东城社区", "东城花园", "东城花园第一网格", "张丽", "+86 139-0000-0003", "夜班"]]
    (row,) = parse_sheet("m.csv", None, header, rows)
    assert row == MemberRow("东城社区", "东城花园", "东城花园第一网格", "张丽", "13900000003")
    assert row.source.row == 3


def test_optional_coordinates_may_be_left_out():
    header = BUILDING_HEADER[:7]
    (row,) = parse_sheet("a.csv", None, header, [["凤台县", "城关镇", "东城社区", "DC", "东城花园", "网格一", "A栋"]])
    assert (row.lat, row.lon) == (None, None)


def test_bad_cell_names_file_sheet_row_and_column():
    rows = [building_rows()[0] for _ in range(5)]
    rows[5 - 1] = [*rows[0][:7], "abc", 116.71]  # the spreadsheet's row 6
    with pytest.raises(OrgImportError) as caught:
        parse_sheet("demo_org.xlsx", "楼栋", BUILDING_HEADER, rows)
    assert [str(p) for p in caught.value.problems] == [
        'demo_org.xlsx, sheet 楼栋, row 6, column 纬度: not a number ("abc")']


def test_every_bad_cell_is_reported_at_once():
    good = building_rows()[0]
    rows = [
        [*good[:3], "D1", *good[4:]],                 # code with a digit
        [*good[:6], "", *good[7:]],                   # no building
        [*good[:7], 132.7, 116.71],                   # latitude and longitude swapped
        [*good[:7], 32.7, None],                      # latitude without longitude
    ]
    with pytest.raises(OrgImportError) as caught:
        parse_sheet("a.xlsx", "楼栋", BUILDING_HEADER, rows)
    found = {(p.row, p.column) for p in caught.value.problems}
    assert found == {(2, "社区代码"), (3, "楼栋"), (4, "纬度"), (5, "经度")}
    assert "out of range" in str(caught.value) and "give both or neither" in str(caught.value)


def test_phone_must_be_7_to_15_digits():
    rows = [["东城社区", "东城花园", "网格一", "张丽", "139-000"], ["东城社区", "东城花园", "网格一", "王五", "call me"]]
    with pytest.raises(OrgImportError) as caught:
        parse_sheet("m.csv", None, MEMBER_HEADER, rows)
    assert [(p.row, p.column) for p in caught.value.problems] == [(2, "电话"), (3, "电话")]
    assert 'not a phone number: 7 to 15 digits ("139-000")' in str(caught.value)


def test_header_of_neither_kind_names_the_missing_columns_of_the_closer_kind():
    with pytest.raises(OrgImportError) as caught:
        parse_sheet("m.xlsx", "网格员", ["社区", "小区", "网格", "姓名"], [])
    (problem,) = caught.value.problems
    assert str(problem).startswith("m.xlsx, sheet 网格员, row 1, column 电话/phone: missing column")
    with pytest.raises(OrgImportError) as caught:
        parse_sheet("b.csv", None, [h for h in BUILDING_HEADER if h not in ("社区代码", "楼栋")], [])
    assert [p.column for p in caught.value.problems] == ["社区代码/community_code", "楼栋/building"]


def test_problems_print_all_up_to_fifty_lines():
    problems = [Problem("a.csv", None, n, "电话", "empty") for n in range(2, 62)]
    lines = str(OrgImportError(problems)).splitlines()
    assert len(lines) == 51 and lines[0] == "a.csv, row 2, column 电话: empty" and lines[-1] == "… and 10 more"


# --- checking rows together, no database -----------------------------------------------------


def rows_of(sheet: list[list[object]], file: str = "f.xlsx", name: str = "楼栋") -> list:
    return parse_sheet(file, name, sheet[0], sheet[1:])


def test_exact_repeats_across_files_are_fine():
    sheets = sample_sheets()
    rows = rows_of(sheets["楼栋"]) + rows_of(sheets["楼栋"], "copy.xlsx") + rows_of(sheets["网格员"], name="网格员")
    plan = build_plan(rows)
    assert len(plan.buildings) == 12 and len(plan.members) == 4


def test_community_with_two_codes_and_a_code_for_two_communities():
    first = building_rows()[0]
    rows = rows_of([BUILDING_HEADER, first, [*first[:3], "XC", *first[4:6], "9号楼", *first[7:]],
                    [first[0], first[1], "西城社区", "DC", "西苑小区", "西苑网格", "1栋", None, None]])
    with pytest.raises(OrgImportError) as caught:
        build_plan(rows)
    text = str(caught.value)
    assert "f.xlsx, sheet 楼栋, row 3, column 社区代码: 东城社区 has code DC in f.xlsx, sheet 楼栋, row 2, but XC here" in text
    assert "row 4, column 社区代码: code DC already names 东城社区" in text


def test_one_building_under_two_grids():
    first = building_rows()[0]
    moved = [*first[:5], "粮食局小区第二网格", *first[6:]]
    with pytest.raises(OrgImportError) as caught:
        build_plan(rows_of([BUILDING_HEADER, first, moved]))
    (problem,) = caught.value.problems
    assert (problem.row, problem.column) == (3, "网格") and "a building belongs to one grid" in problem.message


def test_one_phone_for_two_names():
    member = member_rows()[0]
    rows = rows_of([MEMBER_HEADER, member, [*member[:3], "李四", member[4]]], name="网格员")
    with pytest.raises(OrgImportError) as caught:
        build_plan(rows)
    assert "phone 13900000001 belongs to 李秀英" in str(caught.value)


def test_csv_pair_reads_the_same_as_the_workbook():
    assert read_org_files(SAMPLE_CSVS) == read_org_files([SAMPLE_XLSX])


def test_not_a_spreadsheet_and_missing_file(tmp_path):
    renamed = tmp_path / "org.xlsx"
    renamed.write_text("区县,街道\n凤台县,城关镇\n")
    pdf = tmp_path / "org.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    fake_pdf_xlsx = tmp_path / "scan.xlsx"
    fake_pdf_xlsx.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    with pytest.raises(OrgImportError) as caught:
        read_org_files([renamed, pdf, fake_pdf_xlsx, tmp_path / "gone.csv"])
    lines = str(caught.value).splitlines()
    assert lines[0].startswith("org.xlsx: not a spreadsheet: use .xlsx or .csv")
    assert lines[1] == "org.pdf: not a spreadsheet: use .xlsx or .csv"
    assert lines[2].startswith("scan.xlsx: not a spreadsheet: use .xlsx or .csv")
    assert lines[3] == f"{tmp_path / 'gone.csv'}: file not found"


def test_missing_column_in_a_workbook_names_file_sheet_and_column(tmp_path):
    sheets = sample_sheets()
    sheets["楼栋"] = [row[:3] + row[4:] for row in sheets["楼栋"]]  # no 社区代码
    path = write_xlsx(tmp_path / "org.xlsx", sheets)
    with pytest.raises(OrgImportError) as caught:
        read_org_files([path])
    (problem,) = caught.value.problems
    assert str(problem).startswith("org.xlsx, sheet 楼栋, row 1, column 社区代码/community_code: missing column")


# --- importing into the database (SQLite and PostgreSQL) -------------------------------------


async def test_sample_workbook_imports_the_demo_community(db, now):
    report = await import_org(db, [SAMPLE_XLSX], now)
    assert {kind: tally.created for kind, tally in report.tallies.items()} == {
        "districts": 1, "streets": 1, "communities": 1, "compounds": 2, "grids": 4, "buildings": 12, "members": 4}
    assert report.updated == 0 and "25 created" in report.summary()
    async with db.uow() as uow:
        (community,) = await uow.places.communities()
        assert (community.name, community.code) == ("东城社区", "DC")
        compounds = {c.id: c.name for c in await uow.places.compounds(community.id)}
        assert sorted(compounds.values()) == ["东城花园", "粮食局小区"]
        grids = {g.id: g for g in await uow.places.grids(community.id)}
        assert len(grids) == 4
        buildings = [b for c in compounds for b in await uow.places.buildings_of_compound(c)]
        assert len(buildings) == 12 and all(b.grid_id in grids and b.has_position for b in buildings)
        for grid in grids.values():
            mine = [b for b in buildings if b.grid_id == grid.id]
            assert len(mine) == 3
            assert grid.lat == pytest.approx(sum(b.lat for b in mine) / 3)
            assert grid.lon == pytest.approx(sum(b.lon for b in mine) / 3)
            (member,) = await uow.people.grid_members(grid.id)
            assert member.phone.startswith("1390000000")
            (grant,) = await uow.people.grants(member.id)
            assert (grant.role, grant.status, grant.community_id) == (Role.GRID_MEMBER, GrantStatus.ACTIVE,
                                                                     community.id)
        li = await uow.people.by_phone("13900000001")
        assert li.display_name == "李秀英"
        first_grid = next(g for g in grids.values() if g.name == "粮食局小区第一网格")
        assert [p.id for p in await uow.people.grid_members(first_grid.id)] == [li.id]
        events = await uow.events.of("person", str(li.id))
        assert [e.kind for e in events] == ["grid_member_imported"]
        building_events = await uow.events.of("place", f"building:{buildings[0].id}")
        assert [e.kind for e in building_events] == ["place_created"]


async def test_reimport_changes_nothing_and_csv_pair_is_the_same_chart(db, now):
    await import_org(db, [SAMPLE_XLSX], now)
    before, counts = await snapshot(db), await row_counts(db)
    again = await import_org(db, [SAMPLE_XLSX], now)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 25)
    as_csv = await import_org(db, SAMPLE_CSVS, now)
    assert (as_csv.created, as_csv.updated) == (0, 0)
    assert await snapshot(db) == before and await row_counts(db) == counts


async def test_csv_pair_alone_gives_the_workbooks_chart(db, now, tmp_path):
    report = await import_org(db, SAMPLE_CSVS, now)
    assert report["buildings"].created == 12 and report["members"].created == 4
    chart = await snapshot(db)
    assert len(chart) == 12
    assert chart[("东城社区", "DC", "东城花园", "6号楼")][0] == "东城花园第二网格"
    assert chart[("东城社区", "DC", "粮食局小区", "1号楼")][5] == [("李秀英", "13900000001")]


async def test_gbk_csv_is_read(db, now, tmp_path):
    buildings = write_csv(tmp_path / "楼栋.csv", [BUILDING_HEADER, *building_rows()], encoding="gbk")
    members = write_csv(tmp_path / "网格员.csv", [MEMBER_HEADER, *member_rows()], encoding="gbk")
    assert buildings.read_bytes().decode("gbk").startswith("区县")
    report = await import_org(db, [buildings, members], now)
    assert report["buildings"].created == 12 and report["members"].created == 4
    async with db.uow() as uow:
        assert (await uow.people.by_phone("13900000004")).display_name == "赵志强"


async def test_changed_rows_update_in_place(db, now, tmp_path):
    await import_org(db, [SAMPLE_XLSX], now)
    async with db.uow() as uow:
        (community,) = await uow.places.communities()
        compound = await uow.places.compound_named(community.id, "粮食局小区")
        old = await uow.places.building_named(compound.id, "3号楼")
        second = await uow.places.grid_named(compound.id, "粮食局小区第二网格")
    sheets = sample_sheets()
    row3 = sheets["楼栋"][3]
    assert row3[4:7] == ["粮食局小区", "粮食局小区第一网格", "3号楼"]
    row3[5], row3[7], row3[8] = "粮食局小区第二网格", 32.7052, 116.7112
    sheets["网格员"][1][3] = "李秀英（组长）"
    report = await import_org(db, [write_xlsx(tmp_path / "org.xlsx", sheets)], now)
    assert (report.created, report["buildings"].updated, report["grids"].updated, report["members"].updated) == (
        0, 1, 2, 1)
    async with db.uow() as uow:
        moved = await uow.places.building_named(compound.id, "3号楼")
        assert (moved.id, moved.grid_id, moved.lat, moved.lon) == (old.id, second.id, 32.7052, 116.7112)
        grid = await uow.places.grid(second.id)
        assert grid.lat == pytest.approx((32.7054 * 3 + 32.7052) / 4)
        (event,) = [e for e in await uow.events.of("place", f"building:{old.id}") if e.kind == "place_updated"]
        assert event.before["grid_id"] == old.grid_id and event.after["grid_id"] == second.id
        li = await uow.people.by_phone("13900000001")
        assert li.display_name == "李秀英（组长）"


async def test_revoked_member_is_reactivated_and_grid_may_come_from_the_database(db, now, tmp_path):
    await import_org(db, [SAMPLE_XLSX], now)
    async with db.uow() as uow:
        li = await uow.people.by_phone("13900000001")
        (grant,) = await uow.people.grants(li.id)
        grant.status = GrantStatus.REVOKED
        await uow.people.update_grant(grant)
        await uow.commit()
    members = write_csv(tmp_path / "members.csv", [
        MEMBER_HEADER, member_rows()[0], ["东城社区", "东城花园", "东城花园第二网格", "孙红", "139 0000 0009"]])
    report = await import_org(db, [members], now)  # no building rows: the grids are looked up
    assert (report["members"].created, report["members"].updated) == (1, 1)
    async with db.uow() as uow:
        assert [g.status for g in await uow.people.grants(li.id)] == [GrantStatus.ACTIVE]
        sun = await uow.people.by_phone("13900000009")
        (grant,) = await uow.people.grants(sun.id)
        grid = await uow.places.grid(grant.grid_id)
        assert grid.name == "东城花园第二网格" and {p.display_name for p in await uow.people.grid_members(grid.id)} \
            == {"赵志强", "孙红"}


async def test_a_wrong_row_anywhere_writes_nothing(db, now, tmp_path):
    bad_cell = write_csv(tmp_path / "more.csv", [MEMBER_HEADER, ["东城社区", "东城花园", "东城花园第一网格", "钱七", "x"]])
    with pytest.raises(OrgImportError) as caught:
        await import_org(db, [SAMPLE_XLSX, bad_cell], now)
    assert str(caught.value) == 'more.csv, row 2, column 电话: not a phone number: 7 to 15 digits ("x")'
    unknown_grid = write_csv(tmp_path / "more.csv",
                             [MEMBER_HEADER, ["东城社区", "东城花园", "东城花园第九网格", "钱七", "13900000007"]])
    with pytest.raises(OrgImportError) as caught:  # found only when applying: everything is rolled back
        await import_org(db, [SAMPLE_XLSX, unknown_grid], now)
    assert str(caught.value).startswith("more.csv, row 2, column 网格: no grid 东城花园第九网格 in 东城社区 东城花园")
    assert set((await row_counts(db)).values()) == {0}


async def test_a_code_taken_in_the_database_is_refused(db, now, tmp_path):
    await import_org(db, [SAMPLE_XLSX], now)
    counts = await row_counts(db)
    other = write_csv(tmp_path / "west.csv", [BUILDING_HEADER,
                                              ["凤台县", "城关镇", "西城社区", "DC", "西苑小区", "西苑网格", "1栋", "", ""]])
    with pytest.raises(OrgImportError) as caught:
        await import_org(db, [other], now)
    assert "west.csv, row 2, column 社区代码: code DC already belongs to 东城社区" in str(caught.value)
    assert await row_counts(db) == counts


async def test_renamed_files_are_refused_before_touching_the_database(db, now, tmp_path):
    renamed = tmp_path / "org.xlsx"
    shutil.copy(SAMPLE_CSVS[0], renamed)
    with pytest.raises(OrgImportError) as caught:
        await import_org(db, [SAMPLE_XLSX, renamed], now)
    assert "org.xlsx: not a spreadsheet: use .xlsx or .csv" in str(caught.value)
    assert set((await row_counts(db)).values()) == {0}


async def test_a_building_moved_by_a_one_row_file_moves_both_grids(db, now, tmp_path):
    await import_org(db, [SAMPLE_XLSX], now)
    row = building_rows()[0]
    row[5] = "粮食局小区第二网格"  # 1号楼 leaves the first grid, which this file does not list
    report = await import_org(db, [write_csv(tmp_path / "move.csv", [BUILDING_HEADER, row])], now)
    assert (report["buildings"].updated, report["grids"].updated, report["grids"].unchanged) == (1, 2, 0)
    async with db.uow() as uow:
        (community,) = await uow.places.communities()
        compound = await uow.places.compound_named(community.id, "粮食局小区")
        first = await uow.places.grid_named(compound.id, "粮食局小区第一网格")
        left = [b for b in await uow.places.buildings_of_compound(compound.id) if b.grid_id == first.id]
        assert [b.name for b in left] == ["2号楼", "3号楼"]
        assert first.lon == pytest.approx((116.7105 + 116.711) / 2)
