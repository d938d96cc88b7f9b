"""Property companies: the org file's 物业公司 column, their figures, credit grades and their page."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import update

from core.companies import CompanyFigures, GradeRule, credit_grade, credit_rules
from core.orgchart import OrgImportError, build_plan, parse_sheet
from samples.make_samples import BUILDING_HEADER, building_rows
from storage import tables
from storage.orgfile import import_org
from tests.test_dashboard import sign_in, site  # noqa: F401  (fixture)
from tests.test_org_import import write_xlsx
from tests.test_statistics import month_of_work  # noqa: F401  (fixture)

RULES = credit_rules("A=0.95/4.5,B=0.85/4.0,C=0.70/3.0")


def figures(closed: int, on_time: int, mean: float | None) -> CompanyFigures:
    return CompanyFigures("物业", (), closed, closed, on_time, 1 if mean else 0, mean, 0)


def test_a_grade_needs_both_thresholds_and_nothing_closed_has_none():
    assert RULES[0] == GradeRule("A", 0.95, 4.5)
    assert credit_grade(figures(20, 20, 4.6), RULES) == "A"
    assert credit_grade(figures(20, 20, 4.2), RULES) == "B"      # on time, but residents less happy
    assert credit_grade(figures(20, 15, 4.9), RULES) == "C"      # happy, but 75% on time
    assert credit_grade(figures(20, 10, 4.9), RULES) == "D"
    assert credit_grade(figures(4, 4, None), RULES) == "A"       # no ratings: the on-time rate alone
    assert credit_grade(figures(0, 0, None), RULES) is None


@pytest.mark.parametrize("bad", ["A=0.95/4.5,B=0.85/4.0", "A=0.8/4.5,B=0.85/4.0,C=0.7/3", "A=x/4,B=0.8/4,C=0.7/3",
                                 "A=0.95,B=0.85/4.0,C=0.70/3.0", "A=1.5/4,B=0.8/4,C=0.7/3"])
def test_wrong_thresholds_are_refused(bad):
    with pytest.raises(ValueError):
        credit_rules(bad)


def test_the_org_files_property_company_must_agree_within_a_compound():
    rows = building_rows()
    rows[1][9] = "别家物业"  # 粮食局小区 2号楼: another company than its compound's other rows
    with pytest.raises(OrgImportError) as refused:
        build_plan(parse_sheet("org.xlsx", "楼栋", BUILDING_HEADER, rows))
    assert [(p.row, p.column) for p in refused.value.problems] == [(3, "物业公司")]
    assert "one property company" in str(refused.value)
    rows = building_rows()
    rows[1][9] = None  # a blank on one row is fine: the compound's company comes from the others
    plan = build_plan(parse_sheet("org.xlsx", "楼栋", BUILDING_HEADER, rows))
    assert plan.property_companies() == {("东城社区", "粮食局小区"): "安居物业", ("东城社区", "东城花园"): "绿城物业"}


async def test_importing_sets_the_compounds_company_and_a_blank_keeps_it(db, now, tmp_path):
    await import_org(db, [write_xlsx(tmp_path / "org.xlsx", {"楼栋": [BUILDING_HEADER, *building_rows()]})], now)
    without = [row[:9] for row in building_rows()]
    await import_org(db, [write_xlsx(tmp_path / "again.xlsx", {"楼栋": [BUILDING_HEADER[:9], *without]})], now)
    changed = building_rows()
    for row in changed:
        if row[4] == "东城花园":
            row[9] = "新物业"
    report = await import_org(db, [write_xlsx(tmp_path / "new.xlsx", {"楼栋": [BUILDING_HEADER, *changed]})], now)
    async with db.uow() as uow:
        community = (await uow.places.communities())[0]
        companies = {c.name: c.property_company for c in await uow.places.compounds(community.id)}
    assert companies == {"粮食局小区": "安居物业", "东城花园": "新物业"} and report["compounds"].updated == 1


async def test_the_companies_page_grades_them_and_shows_the_thresholds(site):
    w = site
    async with w.db.engine.begin() as conn:
        for compound, company in (("粮食局小区", "安居物业"), ("东城花园", "绿城物业")):
            await conn.execute(update(tables.compounds).where(tables.compounds.c.id == w.compounds[compound].id)
                               .values(property_company=company))
    await sign_in(w, "chen")
    html = await (await w.client.get("/dashboard/companies?month=2026-11")).text()
    # 安居物业 (粮食局小区): cases 1, 2, 3, 5 closed, 3 on time (75%), ratings 5, 3, 2 (3.33) → C
    # 绿城物业 (东城花园): case 4 closed on time, rated 4 → B (A needs 4.5)
    assert re.findall(r'data-company="([^"]+)">(\w)</span>', html) == [("安居物业", "C"), ("绿城物业", "B")]
    assert "75.0%" in html and "3.33" in html
    thresholds = re.search(r'<section id="thresholds">(.*?)</section>', html, re.S).group(1)
    assert "≥ 95%" in thresholds and "≥ 4.5" in thresholds and "≥ 70%" in thresholds
