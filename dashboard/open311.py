"""Open311 GeoReport v2 under /open311/v2/ (JSON and XML), over core's Open311 queries and commands.

    GET  services.{json,xml}              the report categories
    GET  requests.{json,xml}              filters: service_request_id, service_code, status, start_date,
                                          end_date, bbox=min_long,min_lat,max_long,max_lat or lat+long+radius
                                          (metres); paged: page (from 1), page_size (≤ 200); newest first;
                                          without dates the last 90 days (the spec's default)
    POST requests.{json,xml}              api_key, service_code, lat+long or address_id (a building's id),
                                          description, and a photo: media (an upload) or media_url
    GET  requests/{id}.{json,xml}         one request
    GET  tokens/{token}.{json,xml}        the service_request_id a POST's token stands for

Errors are GeoReport's: a list of {code, description} with the HTTP status. What may leave is decided
in core (core/open311.py): no names, no phones; a client's own report's description only to that
client (GET with its api_key). The fields a POST may carry about a person (email, first_name,
last_name, phone, device_id, account_id) are ignored: redgrid keeps none of them.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime
from typing import Any, Callable
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

from core import open311_services
from core.cases import Category, PhotoKind
from core.cases_services import ReportPolicy
from core.clock import Clock
from core.errors import DomainError, NotFound
from core.open311 import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Open311Client, PublicRequest, RequestFilter
from core.places import bounding_box, distance_m
from core.ports import Database
from texts import Translator

log = logging.getLogger(__name__)
MAX_MEDIA_BYTES = 20 * 1024 * 1024


class Problem(Exception):
    def __init__(self, status: int, description: str) -> None:
        self.status, self.description = status, description
        super().__init__(description)


def _w3c(moment: datetime | None, tz: ZoneInfo) -> str | None:
    return None if moment is None else moment.astimezone(tz).isoformat(timespec="seconds")


def _plain(label: str) -> str:
    return label.split(" ", 1)[1] if " " in label and not label[0].isalnum() else label


def _xml(root: str, item: str, rows: list[dict[str, Any]]) -> bytes:
    top = ET.Element(root)
    for row in rows:
        element = ET.SubElement(top, item)
        for key, value in row.items():
            if value is None:
                continue
            child = ET.SubElement(element, key)
            child.text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="utf-8")


def reply(fmt: str, root: str, item: str, rows: list[dict[str, Any]], status: int = 200) -> web.Response:
    if fmt == "xml":
        return web.Response(body=_xml(root, item, rows), status=status, content_type="text/xml", charset="utf-8")
    return web.json_response([{k: v for k, v in row.items() if v is not None} for row in rows], status=status)


def _number(text: str | None, name: str) -> float | None:
    if text in (None, ""):
        return None
    try:
        value = float(str(text))
    except ValueError:
        raise Problem(400, f"{name} must be a number") from None
    if not math.isfinite(value):
        raise Problem(400, f"{name} must be a number")
    return value


def _moment(text: str | None, name: str, tz: ZoneInfo) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Problem(400, f"{name} must be a W3C datetime, e.g. 2026-11-01T00:00:00+08:00") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


def _category(code: str) -> Category:
    try:
        return Category(code)
    except ValueError:
        raise Problem(404, f"service_code {code} not found") from None


class Open311:
    def __init__(self, db: Database, settings: Any, clock: Clock, photos: Any, policy: ReportPolicy) -> None:
        self.db, self.settings, self.clock, self.photos, self.policy = db, settings, clock, photos, policy
        self.tz: ZoneInfo = settings.tz

    def tr(self, request: web.Request) -> Translator:
        lang = request.query.get("lang", "")
        return Translator(lang if lang in ("zh", "en") else self.settings.default_language)

    # --- the shapes ----------------------------------------------------------------------------

    def service(self, tr: Translator, category: Category) -> dict[str, Any]:
        return {"service_code": category.value, "service_name": _plain(tr(f"category.{category.value}")),
                "description": tr(f"open311.service.{category.value}"), "metadata": False, "type": "realtime",
                "keywords": category.value.replace("_", ", "), "group": tr("open311.group")}

    def request_row(self, tr: Translator, r: PublicRequest) -> dict[str, Any]:
        notes = []
        if r.closure_reason:
            notes.append(tr(f"closure.{r.closure_reason}"))
        if r.resolution_note:
            notes.append(r.resolution_note)
        return {"service_request_id": r.number, "status": r.status,
                "status_notes": "；".join(notes) if notes else None,
                "service_name": _plain(tr(f"category.{r.category.value}")), "service_code": r.category.value,
                "description": r.description,
                "agency_responsible": tr(f"open311.agency.{r.handler_kind.value}") if r.handler_kind else tr("open311.agency.desk"),
                "service_notice": tr("open311.notice"),
                "requested_datetime": _w3c(r.requested, self.tz), "updated_datetime": _w3c(r.updated, self.tz),
                "expected_datetime": _w3c(r.expected, self.tz), "address": r.address, "address_id": None,
                "lat": r.lat, "long": r.lon}

    # --- handlers ------------------------------------------------------------------------------

    async def guarded(self, request: web.Request, work: Callable[..., Any]) -> web.StreamResponse:
        fmt = request.match_info.get("fmt", "json")
        try:
            return await work(request, fmt)
        except Problem as p:
            return reply(fmt, "errors", "error", [{"code": p.status, "description": p.description}], status=p.status)
        except NotFound:
            return reply(fmt, "errors", "error", [{"code": 404, "description": "not found"}], status=404)
        except DomainError as exc:
            text = self.tr(request)(exc.key, **exc.params)
            status = 403 if exc.key == "open311.api_key_invalid" else 400
            return reply(fmt, "errors", "error", [{"code": status, "description": text}], status=status)

    async def services(self, request: web.Request) -> web.StreamResponse:
        async def work(request: web.Request, fmt: str) -> web.Response:
            tr = self.tr(request)
            return reply(fmt, "services", "service", [self.service(tr, c) for c in Category])
        return await self.guarded(request, work)

    async def _client(self, uow: Any, api_key: str | None) -> Open311Client | None:
        return await open311_services.client_of(uow, api_key) if api_key else None

    def _filter(self, request: web.Request) -> tuple[RequestFilter, tuple[float, float, float] | None]:
        q = request.query
        ids = tuple(x.strip() for x in q.get("service_request_id", "").split(",") if x.strip())
        codes = tuple(_category(x.strip()) for x in q.get("service_code", "").split(",") if x.strip())
        statuses = tuple(x.strip() for x in q.get("status", "").split(",") if x.strip())
        if any(s not in ("open", "closed") for s in statuses):
            raise Problem(400, "status is open or closed")
        circle, bbox = None, None
        if q.get("bbox"):
            parts = q["bbox"].split(",")
            if len(parts) != 4:
                raise Problem(400, "bbox is min_long,min_lat,max_long,max_lat")
            west, south, east, north = (_number(p, "bbox") or 0.0 for p in parts)
            bbox = (south, north, west, east)
        elif q.get("lat") or q.get("long"):
            lat, lon, radius = _number(q.get("lat"), "lat"), _number(q.get("long"), "long"), _number(q.get("radius"), "radius")
            if lat is None or lon is None:
                raise Problem(400, "lat and long go together")
            radius = radius if radius is not None else 1000.0
            bbox, circle = bounding_box(lat, lon, radius), (lat, lon, radius)
        page = int(_number(q.get("page"), "page") or 1)
        size = int(_number(q.get("page_size"), "page_size") or DEFAULT_PAGE_SIZE)
        if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
            raise Problem(400, f"page starts at 1; page_size is 1 to {MAX_PAGE_SIZE}")
        return RequestFilter(numbers=ids, categories=codes, statuses=statuses,
                             start=_moment(q.get("start_date"), "start_date", self.tz),
                             end=_moment(q.get("end_date"), "end_date", self.tz), bbox=bbox, page=page,
                             page_size=size), circle

    async def list_requests(self, request: web.Request) -> web.StreamResponse:
        async def work(request: web.Request, fmt: str) -> web.Response:
            wanted, circle = self._filter(request)
            async with self.db.uow() as uow:
                client = await self._client(uow, request.query.get("api_key"))
                found = await open311_services.requests(uow, wanted, self.clock.now(), client)
            if circle is not None:
                lat, lon, radius = circle
                found = [r for r in found if r.lat is not None and r.lon is not None
                         and distance_m(lat, lon, r.lat, r.lon) <= radius]
            tr = self.tr(request)
            return reply(fmt, "service_requests", "request", [self.request_row(tr, r) for r in found])
        return await self.guarded(request, work)

    async def one_request(self, request: web.Request) -> web.StreamResponse:
        async def work(request: web.Request, fmt: str) -> web.Response:
            async with self.db.uow() as uow:
                client = await self._client(uow, request.query.get("api_key"))
                found = await open311_services.request(uow, request.match_info["id"], client)
            return reply(fmt, "service_requests", "request", [self.request_row(self.tr(request), found)])
        return await self.guarded(request, work)

    async def token(self, request: web.Request) -> web.StreamResponse:
        async def work(request: web.Request, fmt: str) -> web.Response:
            async with self.db.uow() as uow:
                number = await open311_services.request_of_token(uow, request.match_info["token"])
            return reply(fmt, "service_requests", "request",
                         [{"service_request_id": number, "token": request.match_info["token"]}])
        return await self.guarded(request, work)

    async def _photo(self, form: Any) -> bytes:
        media = form.get("media")
        if media is not None and hasattr(media, "file"):
            data = media.file.read(MAX_MEDIA_BYTES + 1)
        elif form.get("media_url"):
            url = str(form["media_url"])
            if not url.startswith(("http://", "https://")):
                raise Problem(400, "media_url must be an http(s) URL")
            try:
                async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
                    async with session.get(url) as got:
                        if got.status != 200:
                            raise Problem(400, f"media_url answered {got.status}")
                        data = await got.content.read(MAX_MEDIA_BYTES + 1)
            except aiohttp.ClientError as exc:
                raise Problem(400, f"media_url could not be fetched: {exc.__class__.__name__}") from None
        else:
            raise Problem(400, "a photo is required: media (upload) or media_url")
        if len(data) > MAX_MEDIA_BYTES:
            raise Problem(400, "the photo is larger than 20 MB")
        return data

    async def create(self, request: web.Request) -> web.StreamResponse:
        async def work(request: web.Request, fmt: str) -> web.Response:
            form = await request.post()
            code = str(form.get("service_code", ""))
            if not code:
                raise Problem(400, "service_code is required")
            category = _category(code)
            address_id = str(form.get("address_id", "") or "")
            lat, lon = _number(form.get("lat"), "lat"), _number(form.get("long"), "long")
            if not address_id.isdigit() and (lat is None or lon is None):
                raise Problem(400, "lat and long, or address_id, are required")
            now = self.clock.now()
            async with self.db.uow() as uow:
                client = await open311_services.client_of(uow, str(form.get("api_key", "")))
                photo = (await self.photos.save(await self._photo(form))).ref(PhotoKind.BEFORE)
                case, token = await open311_services.file_request(
                    uow, self.policy, client, category, photos=[photo],
                    description=str(form.get("description", ""))[:500], now=now,
                    building_id=int(address_id) if address_id.isdigit() else None, lat=lat, lon=lon,
                    max_m=self.settings.nearest_building_max_m)
                await uow.commit()
            tr = self.tr(request)
            return reply(fmt, "service_requests", "request", [
                {"service_request_id": case.number, "token": token, "service_notice": tr("open311.notice")}])
        return await self.guarded(request, work)


def app(db: Database, settings: Any, clock: Clock, photos: Any, policy: ReportPolicy) -> web.Application:
    """GeoReport v2 as an aiohttp sub-application, mounted at /open311/v2/ by the composition root."""
    api = Open311(db, settings, clock, photos, policy)
    application = web.Application(client_max_size=MAX_MEDIA_BYTES + 1024 * 1024)
    r = application.router
    fmt = "{fmt:(json|xml)}"
    r.add_get(f"/services.{fmt}", api.services)
    r.add_get(f"/requests.{fmt}", api.list_requests)
    r.add_post(f"/requests.{fmt}", api.create)
    r.add_get("/requests/{id}.%s" % fmt, api.one_request)
    r.add_get("/tokens/{token}.%s" % fmt, api.token)
    return application
