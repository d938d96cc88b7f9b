"""The dashboard's pages through HTTP (aiohttp's test client), on SQLite and PostgreSQL: signing in with a
one-time link, sessions and CSRF, who sees which community, the drill-down pages, masked phones."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update

from core.clock import ManualClock
from core.onboarding import roles_of
from core.cases import Actor
from core.sign_in_services import issue_link
from redgrid.bootstrap import web_app
from redgrid.settings import Settings
from storage import tables
from storage.case_tables import cases
from tests.test_statistics import NOW, month_of_work  # noqa: F401  (fixture)


@pytest.fixture
async def site(month_of_work, tmp_path):
    w = month_of_work
    clock = ManualClock(NOW)
    settings = Settings(_env_file=None, bot_token="4242:TEST", data_dir=tmp_path, dashboard_secret="s3cret")
    client = TestClient(TestServer(web_app(w.db, settings, clock)))
    await client.start_server()
    w.client, w.clock = client, clock
    yield w
    await client.close()


async def link_for(w, key) -> str:
    async with w.db.uow() as uow:
        person = w.people[key]
        token = await issue_link(uow, Actor(person.id, await roles_of(uow, person)), w.clock.now())
        await uow.commit()
    return token


async def sign_in(w, key, client=None):
    """Open the link as the chat gives it, press the button: the session cookie is set."""
    client = client or w.client
    token = await link_for(w, key)
    form = await client.get(f"/dashboard/login?t={token}")
    csrf = re.search(r'name="csrf" value="([^"]+)"', await form.text()).group(1)
    return await client.post("/dashboard/login", data={"t": token, "csrf": csrf}, allow_redirects=False), token


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


async def test_a_one_time_link_signs_in_once_and_the_overview_shows_the_month(site):
    w = site
    entered, token = await sign_in(w, "chen")
    assert entered.status == 303 and entered.headers["Location"] == "/dashboard/"
    page = await w.client.get("/dashboard/?month=2026-11")
    html = await page.text()
    assert page.status == 200 and "东城社区 · 2026-11" in html
    assert re.search(r'data-figure="received"><b>8</b>', html) and re.search(r'data-figure="one_time_rate"><b>80.0%</b>', html)
    assert "<svg" in html and "<script" not in html and "http://" not in html.split("<main>")[1].replace(
        "http://www.w3.org", "")  # charts inline, nothing fetched from elsewhere
    # the same link again, from another browser: refused
    other = TestClient(TestServer(w.client.server.app))
    await other.start_server()
    try:
        form = await other.get(f"/dashboard/login?t={token}")
        again = await other.post("/dashboard/login", data={"t": token, "csrf": csrf_of(await form.text())},
                                 allow_redirects=False)
        assert again.status == 403 and "已失效" in await again.text()
        assert (await other.get("/dashboard/")).status == 401
    finally:
        await other.close()


async def test_a_link_older_than_ten_minutes_and_a_forged_session_do_not_open(site):
    w = site
    token = await link_for(w, "chen")
    form = await w.client.get(f"/dashboard/login?t={token}")
    w.clock.advance(minutes=10, seconds=1)
    late = await w.client.post("/dashboard/login", data={"t": token, "csrf": csrf_of(await form.text())},
                               allow_redirects=False)
    assert late.status == 403
    w.client.session.cookie_jar.update_cookies({"rg_session": "1.9999999999.abc.forged"})
    assert (await w.client.get("/dashboard/")).status == 401


async def test_a_post_without_the_csrf_token_is_refused(site):
    w = site
    token = await link_for(w, "chen")
    await w.client.get(f"/dashboard/login?t={token}")
    assert (await w.client.post("/dashboard/login", data={"t": token}, allow_redirects=False)).status == 403
    entered, _ = await sign_in(w, "chen")
    assert entered.status == 303
    assert (await w.client.post("/dashboard/logout", data={}, allow_redirects=False)).status == 403
    page = await w.client.get("/dashboard/")
    out = await w.client.post("/dashboard/logout", data={"csrf": csrf_of(await page.text())}, allow_redirects=False)
    assert out.status == 303 and (await w.client.get("/dashboard/")).status == 401


async def test_another_communitys_case_grid_or_member_is_not_found(site):
    w = site
    await sign_in(w, "xi")  # staff of 西城社区
    assert (await w.client.get("/dashboard/cases/C-9")).status == 200   # their own
    for url in ("/dashboard/cases/C-1", f"/dashboard/grids/{w.grids['粮食局第一网格'].id}",
                f"/dashboard/members/{w.people['A'].id}", f"/dashboard/photos/C-1/{'0' * 64}",
                f"/dashboard/?place=community:{w.communities['东城社区'].id}", "/dashboard/cases/NO-SUCH"):
        got = await w.client.get(url)
        assert got.status == 404, url
    staff_page = await w.client.get("/dashboard/?month=2026-11")
    assert "西城社区" in await staff_page.text() and "东城社区" not in await staff_page.text()


async def test_a_resident_cannot_get_a_link_and_an_admin_sees_every_community(site):
    w = site
    from core.errors import NotAllowed

    with pytest.raises(NotAllowed):
        await link_for(w, "wang")
    await sign_in(w, "admin")
    html = await (await w.client.get("/dashboard/?month=2026-11")).text()
    assert re.search(r'data-figure="received"><b>9</b>', html)
    assert (await w.client.get("/dashboard/cases/C-1")).status == 200 and (await w.client.get("/dashboard/cases/C-9")).status == 200


async def test_the_case_grid_and_member_pages(site):
    w = site
    async with w.db.engine.begin() as conn:
        await conn.execute(update(tables.persons).where(tables.persons.c.id == w.people["wang"].id)
                           .values(phone="13812341234"))
        await conn.execute(update(cases).where(cases.c.number == "C-6").values(handler_id=w.people["chen"].id))
    await sign_in(w, "chen")
    case = await (await w.client.get("/dashboard/cases/C-1")).text()
    assert "C-1" in case and "粮食局小区" in case and "事前" in case and "<svg" in case
    assert "138****1234" in case and "13812341234" not in case  # not the handler: masked
    handled = await (await w.client.get("/dashboard/cases/C-6")).text()
    assert "13812341234" in handled  # the case's own handler reads the phone
    grid = await (await w.client.get(f"/dashboard/grids/{w.grids['粮食局第一网格'].id}")).text()
    assert "C-6" in grid and "1号楼" in grid
    member = await (await w.client.get(f"/dashboard/members/{w.people['A'].id}")).text()
    assert "党员A" in member and "P-1" in member and "3.0" in member  # 2 h + 1 h confirmed
    listed = await (await w.client.get("/dashboard/cases?month=2026-11")).text()
    assert listed.count('href="/dashboard/cases/C-') == 8


async def test_the_session_lasts_a_working_day(site):
    w = site
    await sign_in(w, "chen")
    w.clock.advance(hours=9, minutes=59)
    assert (await w.client.get("/dashboard/")).status == 200
    w.clock.advance(minutes=2)
    assert (await w.client.get("/dashboard/")).status == 401


async def test_revoking_the_staff_grant_closes_the_dashboard_at_once(site):
    w = site
    await sign_in(w, "chen")
    async with w.db.engine.begin() as conn:
        await conn.execute(update(tables.role_grants).where(tables.role_grants.c.person_id == w.people["chen"].id)
                           .values(status="revoked"))
    assert (await w.client.get("/dashboard/")).status == 401


async def test_a_look_at_a_case_or_a_party_member_is_written_to_the_audit_log(site):
    """PIPL: staff reading a reporter's or a party member's data on the dashboard is recorded, as in chat."""
    from sqlalchemy import select

    from storage.audit_tables import audit_log

    w = site
    await sign_in(w, "chen")
    assert (await w.client.get("/dashboard/cases/C-1")).status == 200
    assert (await w.client.get(f"/dashboard/members/{w.people['A'].id}")).status == 200
    assert (await w.client.get("/dashboard/cases/C-9")).status == 404  # not theirs: nothing shown, nothing written
    async with w.db.engine.connect() as conn:
        rows = (await conn.execute(select(audit_log.c.viewer_id, audit_log.c.person_id, audit_log.c.what,
                                          audit_log.c.subject).order_by(audit_log.c.id))).all()
    chen = w.people["chen"].id
    assert [tuple(r) for r in rows] == [(chen, w.people["wang"].id, "dashboard.case", "C-1"),
                                        (chen, w.people["A"].id, "dashboard.member", str(w.communities["东城社区"].id))]


async def test_the_charts_are_inline_svg_with_their_numbers_beside(site):
    w = site
    await sign_in(w, "chen")
    html = await (await w.client.get("/dashboard/?month=2026-11")).text()
    sections = dict(re.findall(r'<section id="chart-(\w+)">(.*?)</section>', html, re.S))
    assert set(sections) == {"weeks", "closure", "league", "hours"}
    assert all(s.count("<svg") >= 1 and "<table>" in s for s in sections.values())
    weeks = sections["weeks"]
    assert "路灯/楼道灯" in weeks and "<td>2026-11-23</td>" in weeks  # the week of the 23rd: two lights
    # columns: garbage, parking, lights, noise (the categories reported), total
    assert "<td>2026-11-23</td>" + "".join(f"<td class=n>{n}</td>" for n in (0, 0, 2, 0, 2)) in weeks
    league = sections["league"]
    order = [league.index(name, league.index("<table>")) for name in ("粮食局第二网格", "东城花园网格", "粮食局第一网格")]
    assert order == sorted(order)
    assert "<td>8–24 h</td><td class=n>1</td>" in sections["closure"]
    assert "<td>2026-11</td><td class=n>4.5</td>" in sections["hours"]
