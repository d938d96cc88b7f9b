"""The dashboard's pages: server-side HTML over core's queries, one handler per page.

Every page but sign-in needs a session (dashboard/session.py); its viewer is loaded again from the
database on each request (core.sign_in_services.viewer_of). What a viewer may see is decided in core
(core.statistics_services, core.dashboard_services): a place or case outside their communities is
core's NotFound, answered 404 here. Every POST carries the session's CSRF token.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Awaitable, Callable

from aiohttp import web

from core import dashboard_services, sign_in_services, statistics_services
from core.cases import Actor, PhotoKind
from core.clock import Clock
from core.errors import DomainError, NotAllowed, NotFound
from core.people import Person
from core.ports import Database, UnitOfWork
from core.companies import credit_rules
from core.statistics import (
    CaseRow, Overview, Period, PlaceLevel, days, figure_rows, month, month_of, rate_text,
)
from core.statistics_services import PlaceChoice
import dashboard.export as export
from dashboard.charts import charts_html, position_svg
from dashboard.config import Settings
from dashboard.html import e, link, page, section, table
from dashboard.session import PRE_COOKIE, SESSION_COOKIE, Session, Signer
from texts import Translator, moment_text

log = logging.getLogger(__name__)
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
PAGE_SIZE = 50
BOARD: web.AppKey["Dashboard"] = web.AppKey("dashboard")


@dataclass
class View:
    """One request's viewer: who, in which language, with their session and unit of work."""

    request: web.Request
    uow: UnitOfWork
    viewer: Actor
    person: Person
    session: Session
    tr: Translator
    now: datetime
    csrf: str


Handler = Callable[["Dashboard", View], Awaitable[web.StreamResponse]]


def viewer_page(handler: Handler) -> Callable[["Dashboard", web.Request], Awaitable[web.StreamResponse]]:
    """A page for a signed-in viewer: no session → the sign-in explanation; not theirs → 404."""

    async def wrapped(self: "Dashboard", request: web.Request) -> web.StreamResponse:
        now = self.clock.now()
        session = self.signer.read(request.cookies.get(SESSION_COOKIE), now)
        if session is None:
            return self.signed_out(request)
        async with self.db.uow() as uow:
            try:
                viewer = await sign_in_services.viewer_of(uow, session.person_id)
            except NotAllowed:
                return self.signed_out(request)
            person = await uow.people.get(viewer.person_id)
            assert person is not None
            view = View(request, uow, viewer, person, session, Translator(self.language_of(person)), now,
                        self.signer.csrf(session.nonce))
            if request.method == "POST":
                form = await request.post()
                if not self.signer.csrf_ok(session.nonce, str(form.get("csrf", ""))):
                    raise web.HTTPForbidden(text="CSRF token missing or wrong")
            try:
                response = await handler(self, view)
                await uow.commit()  # a page that showed someone's data wrote its audit row (core.disclosure)
                return response
            except NotFound:
                return self.not_found(view.tr)
            except DomainError as exc:
                return web.Response(status=400, content_type="text/html",
                                    text=page("redgrid", f"<section>{e(view.tr(exc.key, **exc.params))}</section>"))

    return wrapped


class Dashboard:
    def __init__(self, db: Database, settings: Settings, clock: Clock, photos: Any, signer: Signer,
                 prefix: str = "/dashboard") -> None:
        self.db, self.settings, self.clock, self.photos, self.signer = db, settings, clock, photos, signer
        self.prefix = prefix.rstrip("/")
        self.secure = settings.dashboard_url.startswith("https://")

    # --- helpers -----------------------------------------------------------------------------

    def language_of(self, person: Person) -> str:
        return person.language if person.language in ("zh", "en") else self.settings.default_language

    def url(self, path: str = "", **query: object) -> str:
        from urllib.parse import urlencode

        found = {k: v for k, v in query.items() if v not in (None, "")}
        return f"{self.prefix}/{path}" + (f"?{urlencode(found)}" if found else "")

    def moment(self, view: View, at: datetime | None) -> str:
        return moment_text(view.tr.lang, at, self.settings.tz, view.now)

    def nav(self, tr: Translator) -> list[tuple[str, str]]:
        return [(tr("dash.nav.overview"), self.url()), (tr("dash.nav.cases"), self.url("cases")),
                (tr("dash.nav.members"), self.url("members")), (tr("dash.nav.companies"), self.url("companies"))]

    def html(self, view: View, title: str, body: str) -> web.Response:
        logout = (f'<form method="post" action="{e(self.url("logout"))}" style="margin:0">'
                  f'<input type="hidden" name="csrf" value="{e(view.csrf)}">'
                  f'<button style="background:#7f0000">{e(view.tr("dash.sign_out"))}</button></form>')
        html = page(title, body, nav=self.nav(view.tr), brand=view.tr("dash.brand"), lang=view.tr.lang)
        return web.Response(text=html.replace("</header>", logout + "</header>", 1), content_type="text/html",
                            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})

    def signed_out(self, request: web.Request) -> web.Response:
        tr = Translator(self.settings.default_language)
        return web.Response(status=401, content_type="text/html", text=page(
            tr("dash.brand"), section(tr("dash.signed_out.title"), f"<p>{e(tr('dash.signed_out.how'))}</p>"),
            brand=tr("dash.brand")))

    def not_found(self, tr: Translator) -> web.Response:
        return web.Response(status=404, content_type="text/html", text=page(
            tr("dash.brand"), section(tr("dash.not_found"), f"<p>{link(self.url(), tr('dash.nav.overview'))}</p>"),
            nav=self.nav(tr), brand=tr("dash.brand")))

    def period_of(self, view: View) -> Period:
        q, tz = view.request.query, self.settings.tz
        try:
            if q.get("from") and q.get("to"):
                return days(date.fromisoformat(q["from"]), date.fromisoformat(q["to"]), tz)
            found = _MONTH.match(q.get("month", ""))
            if found and 1 <= int(found.group(2)) <= 12:
                return month(int(found.group(1)), int(found.group(2)), tz)
        except ValueError:
            pass
        return month_of(view.now, tz)

    @staticmethod
    def choice_of(view: View) -> PlaceChoice:
        level, _, ident = view.request.query.get("place", "").partition(":")
        if level in (PlaceLevel.COMMUNITY, PlaceLevel.COMPOUND, PlaceLevel.GRID) and ident.isdigit():
            return PlaceChoice(level, int(ident))
        return PlaceChoice()

    async def filter_form(self, view: View, action: str, period: Period, choice: PlaceChoice) -> str:
        """The period and place picker: a GET form (it changes nothing; the URL can be kept and shared)."""
        tr = view.tr
        options = [f'<option value="">{e(tr("stats.all_places"))}</option>']
        for level, ident, name, depth in await dashboard_services.places_of(view.uow, view.viewer):
            value = f"{level}:{ident}"
            chosen = " selected" if (choice.level, choice.id) == (level, ident) else ""
            options.append(f'<option value="{e(value)}"{chosen}>{"　" * depth}{e(name)}</option>')
        q = view.request.query
        month_value = q.get("month") or (period.label if _MONTH.match(period.label) else "")
        return (f'<form class="filter" method="get" action="{e(action)}">'
                f'<label>{e(tr("dash.month"))}<input type="month" name="month" value="{e(month_value)}"></label>'
                f'<label>{e(tr("dash.from"))}<input type="date" name="from" value="{e(q.get("from", ""))}"></label>'
                f'<label>{e(tr("dash.to"))}<input type="date" name="to" value="{e(q.get("to", ""))}"></label>'
                f'<label>{e(tr("dash.place"))}<select name="place">{"".join(options)}</select></label>'
                f'<button>{e(tr("dash.show"))}</button></form>')

    def place_query(self, choice: PlaceChoice) -> str:
        return f"{choice.level}:{choice.id}" if choice.id is not None else ""

    def case_rows(self, view: View, rows: list[CaseRow] | Any) -> str:
        tr = view.tr
        return table([tr("dash.case.number"), tr("dash.case.category"), tr("dash.case.state"), tr("dash.case.grid"),
                      tr("dash.case.reported"), tr("dash.case.deadline"), tr("dash.case.closed"), tr("dash.case.rating")],
                     [(link(self.url(f"cases/{r.number}"), r.number), tr(f"category.{r.category.value}"),
                       tr(f"state.{r.state}"), link(self.url(f"grids/{r.grid_id}"), r.grid),
                       self.moment(view, r.created_at), self.moment(view, r.deadline), self.moment(view, r.closed_at),
                       "★" * r.rating if r.rating else "—") for r in rows], raw=(0, 3))

    # --- sign-in -----------------------------------------------------------------------------

    async def sign_in_form(self, request: web.Request) -> web.Response:
        """The link from the chat opens this; the press signs in (a link preview fetching the URL does not)."""
        tr = Translator(self.settings.default_language)
        token = request.query.get("t", "")
        pre = secrets.token_urlsafe(12)
        body = section(tr("dash.sign_in.title"), (
            f'<form method="post" action="{e(self.url("login"))}">'
            f'<input type="hidden" name="t" value="{e(token)}">'
            f'<input type="hidden" name="csrf" value="{e(self.signer.csrf(pre))}">'
            f'<p>{e(tr("dash.sign_in.press"))}</p><button id="enter">{e(tr("dash.sign_in.button"))}</button></form>'))
        response = web.Response(text=page(tr("dash.brand"), body, brand=tr("dash.brand")), content_type="text/html",
                                headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})
        response.set_cookie(PRE_COOKIE, pre, httponly=True, samesite="Strict", secure=self.secure,
                            path=self.prefix + "/", max_age=900)
        return response

    async def sign_in(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        if not self.signer.csrf_ok(request.cookies.get(PRE_COOKIE), str(form.get("csrf", ""))):
            raise web.HTTPForbidden(text="CSRF token missing or wrong")
        now = self.clock.now()
        tr = Translator(self.settings.default_language)
        async with self.db.uow() as uow:
            try:
                viewer = await sign_in_services.take_link(uow, str(form.get("t", "")), now)
            except (DomainError,) as exc:
                return web.Response(status=403, content_type="text/html", text=page(
                    tr("dash.brand"), section(tr("dash.sign_in.title"), f"<p>{e(tr(exc.key))}</p>"),
                    brand=tr("dash.brand")))
            await uow.commit()
        cookie, session = self.signer.new_session(viewer.person_id, now)
        response = web.HTTPSeeOther(self.url())
        response.set_cookie(SESSION_COOKIE, cookie, httponly=True, samesite="Lax", secure=self.secure,
                            path=self.prefix + "/", max_age=int((session.expires - now).total_seconds()))
        response.del_cookie(PRE_COOKIE, path=self.prefix + "/")
        raise response

    @viewer_page
    async def sign_out(self, view: View) -> web.StreamResponse:
        response = web.HTTPSeeOther(self.url("login"))
        response.del_cookie(SESSION_COOKIE, path=self.prefix + "/")
        raise response

    # --- pages -------------------------------------------------------------------------------

    @viewer_page
    async def overview(self, view: View) -> web.StreamResponse:
        tr, period, choice = view.tr, self.period_of(view), self.choice_of(view)
        area = await statistics_services.area_for(view.uow, view.viewer, choice)
        ov = await statistics_services.overview_of(view.uow, area, period, view.now)
        numbers = await statistics_services.charts(view.uow, area, period, view.now, self.settings.tz)
        query = {"month": view.request.query.get("month"), "from": view.request.query.get("from"),
                 "to": view.request.query.get("to"), "place": self.place_query(choice)}
        exports = (f'<p>{link(self.url("export.xlsx", **query), tr("dash.export.xlsx"))} · '
                   f'{link(self.url("export.csv", **query), tr("dash.export.csv"))} · '
                   f'{link(self.url("cases", **query), tr("dash.nav.cases"))}</p>')
        body = (f"<h1>{e(self.title_of(tr, ov))}</h1>"
                + section(tr("dash.filter"), await self.filter_form(view, self.url(), period, choice) + exports)
                + self.figures_html(tr, ov)
                + charts_html(tr, numbers, self.url, query))
        return self.html(view, self.title_of(tr, ov), body)

    @staticmethod
    def title_of(tr: Translator, ov: Overview) -> str:
        place = ov.area.name if ov.area.level != PlaceLevel.ALL else (ov.area.name or tr("stats.all_places"))
        return tr("stats.title", place=place, period=ov.period.label).removeprefix("📊 ")

    @staticmethod
    def figures_html(tr: Translator, ov: Overview) -> str:
        parts, current, boxes = [], None, []
        for name, figure, value in figure_rows(ov) + [("", "", "")]:
            if name != current:
                if current is not None:
                    parts.append(section(tr(f"stats.s.{current}"), f'<div class="figures">{"".join(boxes)}</div>',
                                         id_=f"figures-{current}"))
                current, boxes = name, []
            if figure:
                boxes.append(f'<div class="figure" data-figure="{e(figure)}"><b>{e(value)}</b>'
                             f'<span>{e(tr(f"stats.f.{figure}"))}</span></div>')
        if ov.volunteering is None:
            parts.append(f'<p class="muted">{e(tr("stats.narrower"))}</p>')
        return "".join(parts)

    @viewer_page
    async def case_list(self, view: View) -> web.StreamResponse:
        tr, period, choice = view.tr, self.period_of(view), self.choice_of(view)
        area = await statistics_services.area_for(view.uow, view.viewer, choice)
        asked = view.request.query.get("page", "1")
        page_no = max(int(asked), 1) if asked.isdigit() else 1
        rows = await view.uow.statistics.cases(area, period, limit=PAGE_SIZE + 1, offset=(page_no - 1) * PAGE_SIZE)
        query = {k: view.request.query.get(k) for k in ("month", "from", "to", "place")}
        more = (f'<p>{link(self.url("cases", **query, page=page_no + 1), tr("nav.next"))}</p>'
                if len(rows) > PAGE_SIZE else "")
        title = f"{tr('dash.nav.cases')} · {area.name or tr('stats.all_places')} · {period.label}"
        body = (f"<h1>{e(title)}</h1>" + section(tr("dash.filter"), await self.filter_form(view, self.url("cases"), period, choice))
                + section(tr("dash.nav.cases"), self.case_rows(view, rows[:PAGE_SIZE]) + more))
        return self.html(view, title, body)

    @viewer_page
    async def case(self, view: View) -> web.StreamResponse:
        tr = view.tr
        shown = await dashboard_services.case_page(view.uow, view.viewer, view.request.match_info["number"], view.now)
        c = shown.case
        facts = table([tr("dash.field"), ""], [
            (tr("dash.case.category"), tr(f"category.{c.category.value}")), (tr("dash.case.state"), tr(f"state.{c.state.value}")),
            (tr("dash.case.place"), shown.address.full()), (tr("dash.case.grid"), shown.address.grid.name),
            (tr("dash.case.reported"), self.moment(view, c.created_at)), (tr("dash.case.deadline"), self.moment(view, c.deadline)),
            (tr("dash.case.resolved"), self.moment(view, c.resolved_at)), (tr("dash.case.closed"), self.moment(view, c.closed_at)),
            (tr("dash.case.rating"), "★" * c.rating if c.rating else "—"), (tr("dash.case.rework"), c.rework_count),
            (tr("dash.case.description"), c.description or "—"), (tr("dash.case.resolution"), c.resolution_note or "—"),
            (tr("dash.case.reporter"), f"{shown.reporter.name} {shown.reporter.phone}".strip()),
            (tr("dash.case.handler"), f"{shown.handler.name} {shown.handler.phone}".strip() if shown.handler else "—")])
        photos = []
        for kind in (PhotoKind.BEFORE, PhotoKind.DURING, PhotoKind.AFTER):
            refs = c.photos_of(kind)
            if not refs:
                photos.append(f'<figure><div class="muted">{e(tr("card.no_photo"))}</div>'
                              f'<figcaption>{e(tr(f"card.{kind.value}"))}</figcaption></figure>')
            for ref in refs[-1:] if kind != PhotoKind.BEFORE else refs[:1]:
                photos.append(f'<figure><img alt="{e(tr(f"card.{kind.value}"))}" loading="lazy" '
                              f'src="{e(self.url(f"photos/{c.number}/{ref.sha256}"))}">'
                              f'<figcaption>{e(tr(f"card.{kind.value}"))}</figcaption></figure>')
        history = table([tr("dash.when"), tr("dash.who"), tr("dash.what")], [
            (self.moment(view, ev.at), shown.names.get(ev.actor_id, tr("dash.system")) if ev.actor_id else tr("dash.system"),
             tr(f"event.{ev.kind}")) for ev in shown.history])
        body = (f"<h1>{e(c.number)}</h1>" + section(tr("dash.case.facts"), facts)
                + section(tr("dash.case.photos"), f'<div class="photos">{"".join(photos)}</div>')
                + section(tr("dash.case.position"), position_svg(shown, tr))
                + section(tr("dash.case.history"), history))
        return self.html(view, c.number, body)

    @viewer_page
    async def photo(self, view: View) -> web.StreamResponse:
        shown = await dashboard_services.case_page(view.uow, view.viewer, view.request.match_info["number"], view.now)
        sha = view.request.match_info["sha"]
        ref = next((p for p in shown.case.photos if p.sha256 == sha), None)
        if ref is None or self.photos is None:
            raise NotFound(what="photo")
        try:  # faces blurred unless core.disclosure says this viewer sees the original (staff do)
            data = await self.photos.load_for(view.viewer, shown.case, ref)
        except FileNotFoundError:
            raise NotFound(what="photo") from None
        return web.Response(body=data, content_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})

    @viewer_page
    async def grid(self, view: View) -> web.StreamResponse:
        tr = view.tr
        ident = view.request.match_info["grid_id"]
        if not ident.isdigit():
            raise NotFound(what="grid")
        shown = await dashboard_services.grid_page(view.uow, view.viewer, int(ident), view.now)
        title = f"{shown.community_name} {shown.compound.name} {shown.grid.name}"
        members = table([tr("dash.name"), tr("dash.phone")], [(m.name, m.phone or "—") for m in shown.members]) \
            if shown.members else f'<p class="muted">{e(tr("dash.grid.no_member"))}</p>'
        buildings = "、".join(b.name for b in shown.buildings) or "—"
        body = (f"<h1>{e(title)}</h1>"
                + f'<p>{link(self.url(place=f"grid:{shown.grid.id}"), tr("dash.grid.figures"))}</p>'
                + section(tr("dash.grid.members"), members) + section(tr("dash.grid.buildings"), f"<p>{e(buildings)}</p>")
                + section(tr("dash.grid.open"), self.case_rows(view, shown.open_cases))
                + section(tr("dash.grid.recent"), self.case_rows(view, shown.recent_cases)))
        return self.html(view, title, body)

    @viewer_page
    async def members(self, view: View) -> web.StreamResponse:
        tr = view.tr
        people = await dashboard_services.party_members(view.uow, view.viewer)
        body = section(tr("dash.nav.members"), table([tr("dash.name"), tr("dash.phone")],
                                                      [(link(self.url(f"members/{p.id}"), p.name), p.phone or "—")
                                                       for p in people], raw=(0,)))
        return self.html(view, tr("dash.nav.members"), body)

    @viewer_page
    async def member(self, view: View) -> web.StreamResponse:
        tr = view.tr
        ident = view.request.match_info["person_id"]
        if not ident.isdigit():
            raise NotFound(what="person")
        shown = await dashboard_services.member_page(view.uow, view.viewer, int(ident), view.now)
        facts = table([tr("dash.field"), ""], [
            (tr("dash.name"), shown.person.name), (tr("dash.phone"), shown.person.phone or "—"),
            (tr("dash.member.work_unit"), shown.work_unit or "—"), (tr("stats.f.hours"), f"{shown.hours:.1f}"),
            (tr("dash.member.points_earned"), shown.points_earned), (tr("dash.member.balance"), shown.points_balance),
            (tr("stats.f.no_shows"), shown.no_shows)])
        posts = table([tr("dash.member.post"), tr("dash.member.starts"), tr("dash.case.state"), tr("stats.f.hours")],
                      [(f"{p.number} {p.title}", self.moment(view, p.starts_at), tr(f"state.{c.state.value}"),
                        f"{c.served.total_seconds() / 3600:.1f}" if c.served else "—") for c, p in shown.claims])
        body = (f"<h1>{e(shown.person.name)}</h1>" + section(tr("dash.member.facts"), facts)
                + section(tr("dash.member.posts"), posts))
        return self.html(view, shown.person.name, body)


@viewer_page
async def companies(self: Dashboard, view: View) -> web.StreamResponse:
    """Property companies with their figures and credit grade; the thresholds are shown with them."""
    tr, period, choice = view.tr, self.period_of(view), self.choice_of(view)
    rules = credit_rules(self.settings.credit_grades)
    graded = await statistics_services.property_companies(view.uow, view.viewer, choice, period, view.now, rules)
    rows = [(f'<span class="grade" data-company="{e(f.company)}">{e(grade or "—")}</span>', f.company,
             "、".join(link(self.url(place=f"compound:{ident}", month=view.request.query.get("month")), name)
                      for ident, name in f.compounds),
             f.received, f.closed, rate_text(f.on_time_rate), "—" if f.mean_rating is None else f"{f.mean_rating:.2f}",
             f.rated, f.open_now) for f, grade in graded]
    listing = table([tr("dash.company.grade"), tr("dash.company.name"), tr("dash.company.compounds"),
                     tr("stats.f.received"), tr("stats.f.closed"), tr("stats.f.on_time_rate"), tr("stats.f.mean_rating"),
                     tr("stats.f.rated"), tr("stats.f.open_now")], rows, numeric=(3, 4, 5, 6, 7, 8), raw=(0, 2)) \
        if rows else f'<p class="muted">{e(tr("dash.company.none"))}</p>'
    thresholds = table([tr("dash.company.grade"), tr("stats.f.on_time_rate"), tr("stats.f.mean_rating")],
                       [(r.grade, f"≥ {r.min_on_time * 100:.0f}%", f"≥ {r.min_mean_rating:.1f}") for r in rules]
                       + [("D", tr("dash.company.below_c"), "")])
    title = f"{tr('dash.nav.companies')} · {period.label}"
    body = (f"<h1>{e(title)}</h1>" + section(tr("dash.filter"), await self.filter_form(view, self.url("companies"), period, choice))
            + section(tr("dash.nav.companies"), listing)
            + section(tr("dash.company.thresholds"), thresholds + f'<p class="muted">{e(tr("dash.company.how"))}</p>',
                      id_="thresholds"))
    return self.html(view, title, body)


async def _export(self: Dashboard, view: View, kind: str) -> web.StreamResponse:
    period, choice = self.period_of(view), self.choice_of(view)
    tz = self.settings.tz
    report = await statistics_services.monthly_report(view.uow, view.viewer, choice, period, view.now)
    name = f"redgrid-{period.label.replace(' ', '')}"
    if kind == "xlsx":
        return web.Response(body=export.workbook(report, view.tr, tz), headers={
            "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "Content-Disposition": f'attachment; filename="{name}.xlsx"', "Cache-Control": "no-store"})
    return web.Response(body=export.cases_csv(report.cases, view.tr, tz), headers={
        "Content-Type": "text/csv; charset=utf-8", "Content-Disposition": f'attachment; filename="{name}-cases.csv"',
        "Cache-Control": "no-store"})


@viewer_page
async def export_xlsx(self: Dashboard, view: View) -> web.StreamResponse:
    return await _export(self, view, "xlsx")


@viewer_page
async def export_csv(self: Dashboard, view: View) -> web.StreamResponse:
    return await _export(self, view, "csv")


def app(db: Database, settings: Settings, clock: Clock, photos: Any = None, *, secret: str | bytes = b"",
        prefix: str = "/dashboard", extra: Callable[[Dashboard, web.Application], None] | None = None) -> web.Application:
    """The dashboard as an aiohttp sub-application, to be mounted at `prefix` by the composition root
    (redgrid/bootstrap.py). `secret` signs the session cookies: empty gives a new one (sessions end
    with the process)."""
    signer = Signer(secret or secrets.token_bytes(32), settings.dashboard_session_hours)
    board = Dashboard(db, settings, clock, photos, signer, prefix)
    application = web.Application()
    application[BOARD] = board
    r = application.router

    def bind(method: Callable[..., Awaitable[web.StreamResponse]]) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(request: web.Request) -> web.StreamResponse:
            return await method(board, request)
        return handler

    r.add_get("/login", board.sign_in_form)
    r.add_post("/login", board.sign_in)
    r.add_post("/logout", bind(Dashboard.sign_out))
    r.add_get("/", bind(Dashboard.overview))
    r.add_get("/cases", bind(Dashboard.case_list))
    r.add_get("/cases/{number}", bind(Dashboard.case))
    r.add_get("/photos/{number}/{sha}", bind(Dashboard.photo))
    r.add_get("/grids/{grid_id}", bind(Dashboard.grid))
    r.add_get("/members", bind(Dashboard.members))
    r.add_get("/members/{person_id}", bind(Dashboard.member))
    r.add_get("/companies", bind(companies))
    r.add_get("/export.xlsx", bind(export_xlsx))
    r.add_get("/export.csv", bind(export_csv))
    if extra is not None:
        extra(board, application)
    return application
