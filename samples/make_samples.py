"""Write the demo org chart: `samples/demo_org.xlsx` and the same rows as two CSV files.

东城社区 (code DC) in 城关镇, 凤台县: two compounds, two grids each, three buildings per grid
(about 45–65 m apart), and one grid member per grid. Phones 1390000000x are obviously fake.
Run `python samples/make_samples.py`; the output is byte-for-byte the same every time.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

HERE = Path(__file__).resolve().parent
FIXED_TIME = (2026, 1, 1, 0, 0, 0)
FIXED_STAMP = "2026-01-01T00:00:00Z"

DISTRICT, STREET, COMMUNITY, CODE = "凤台县", "城关镇", "东城社区", "DC"

# compound: south-west corner of its buildings (lat, lon)
COMPOUNDS = {"粮食局小区": (32.7050, 116.7100), "东城花园": (32.7068, 116.7138)}
# the property company serving each compound (the dashboard grades them)
PROPERTY = {"粮食局小区": "安居物业", "东城花园": "绿城物业"}
ROW_STEP = 0.0004  # ≈ 44 m north
COLUMN_STEP = 0.0005  # ≈ 47 m east at this latitude

BUILDING_HEADER = ["区县", "街道", "社区", "社区代码", "小区", "网格", "楼栋", "纬度", "经度", "物业公司"]
MEMBER_HEADER = ["社区", "小区", "网格", "姓名", "电话"]
MEMBERS = [
    ("粮食局小区", "粮食局小区第一网格", "李秀英", "13900000001"),
    ("粮食局小区", "粮食局小区第二网格", "王建华", "13900000002"),
    ("东城花园", "东城花园第一网格", "张丽", "13900000003"),
    ("东城花园", "东城花园第二网格", "赵志强", "13900000004"),
]


def building_rows() -> list[list[object]]:
    """Six buildings per compound in two rows of three: 1–3号楼 form the first grid, 4–6号楼 the second."""
    rows = []
    for compound, (lat0, lon0) in COMPOUNDS.items():
        for number in range(1, 7):
            row, column = divmod(number - 1, 3)
            grid = f"{compound}{'第一' if row == 0 else '第二'}网格"
            lat, lon = round(lat0 + row * ROW_STEP, 6), round(lon0 + column * COLUMN_STEP, 6)
            rows.append([DISTRICT, STREET, COMMUNITY, CODE, compound, grid, f"{number}号楼", lat, lon,
                         PROPERTY[compound]])
    return rows


def member_rows() -> list[list[object]]:
    return [[COMMUNITY, compound, grid, name, phone] for compound, grid, name, phone in MEMBERS]


def _sheet(workbook: Workbook, title: str, header: list[str], rows: list[list[object]], widths: list[int]) -> None:
    sheet = workbook.create_sheet(title)
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row)
    for letter, width in zip("ABCDEFGHIJ", widths):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"


def _reproducible(xlsx: bytes) -> bytes:
    """The same zip with fixed entry times and document dates, so regenerating changes nothing."""
    source = zipfile.ZipFile(io.BytesIO(xlsx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*", rb"\g<1>" + FIXED_STAMP.encode(), data)
            target.writestr(zipfile.ZipInfo(info.filename, FIXED_TIME), data, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def write_xlsx(path: Path) -> None:
    workbook = Workbook()
    workbook.remove(workbook.active)
    _sheet(workbook, "楼栋", BUILDING_HEADER, building_rows(), [10, 10, 12, 10, 14, 22, 8, 12, 12, 12])
    _sheet(workbook, "网格员", MEMBER_HEADER, member_rows(), [12, 14, 22, 10, 14])
    buffer = io.BytesIO()
    workbook.save(buffer)
    path.write_bytes(_reproducible(buffer.getvalue()))


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    """UTF-8 with a byte order mark, which Excel needs to show Chinese correctly."""
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(rows)


def main() -> None:
    write_xlsx(HERE / "demo_org.xlsx")
    write_csv(HERE / "demo_org_buildings.csv", BUILDING_HEADER, building_rows())
    write_csv(HERE / "demo_org_members.csv", MEMBER_HEADER, member_rows())


if __name__ == "__main__":
    main()
