"""Open311 GeoReport v2 (SQLite and PostgreSQL): every answer validated with jsonschema against a schema
transcribed from the published specification (https://wiki.open311.org/GeoReport_v2/, the field tables of
GET Service List, GET Service Requests, POST Service Request, GET request_id from a token, Errors), and
driven by a client written here from that specification — it knows URLs, parameters and field names,
not redgrid's code.

(The only machine-readable schemas published for GeoReport v2 are FIWARE's NGSI wrappers, which add
`id`/`type` and refer to remote definitions: they describe an NGSI entity, not a GeoReport answer.)
"""

from __future__ import annotations

import io
import re
from xml.etree import ElementTree as ET

import jsonschema
import pytest
from aiohttp import ClientSession, FormData, web
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image
from sqlalchemy import update

from core.clock import ManualClock
from core.open311_services import issue_key
from redgrid.bootstrap import web_app
from redgrid.settings import Settings
from storage.case_tables import cases
from tests.test_statistics import NOW, month_of_work  # noqa: F401  (fixture)

W3C = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:\d{2})$"
SERVICE = {
    "type": "object",
    "required": ["service_code", "service_name", "metadata", "type"],
    "properties": {
        "service_code": {"type": "string", "minLength": 1}, "service_name": {"type": "string", "minLength": 1},
        "description": {"type": "string"}, "metadata": {"type": "boolean"},
        "type": {"enum": ["realtime", "batch", "blackbox"]}, "keywords": {"type": "string"},
        "group": {"type": "string"},
    },
}
REQUEST = {
    "type": "object",
    "required": ["service_request_id", "status", "service_code", "requested_datetime"],
    "properties": {
        "service_request_id": {"type": "string", "minLength": 1}, "status": {"enum": ["open", "closed"]},
        "status_notes": {"type": "string"}, "service_name": {"type": "string"}, "service_code": {"type": "string"},
        "description": {"type": "string"}, "agency_responsible": {"type": "string"},
        "service_notice": {"type": "string"},
        "requested_datetime": {"type": "string", "pattern": W3C}, "updated_datetime": {"type": "string", "pattern": W3C},
        "expected_datetime": {"type": "string", "pattern": W3C}, "address": {"type": "string"},
        "address_id": {"type": "string"}, "zipcode": {"type": "string"},
        "lat": {"type": "number", "minimum": -90, "maximum": 90}, "long": {"type": "number", "minimum": -180, "maximum": 180},
        "media_url": {"type": "string", "format": "uri"},
    },
    # what GeoReport never carries about the person who reported (redgrid adds nothing else either)
    "not": {"anyOf": [{"required": [f]} for f in ("email", "first_name", "last_name", "phone", "device_id", "account_id")]},
}
POST_ANSWER = {"type": "object", "anyOf": [{"required": ["service_request_id"]}, {"required": ["token"]}],
               "properties": {"service_request_id": {"type": "string"}, "token": {"type": "string"},
                              "service_notice": {"type": "string"}, "account_id": {"type": "string"}},
               "additionalProperties": False}
TOKEN_ANSWER = {"type": "object", "required": ["token"], "properties": {
    "service_request_id": {"type": "string"}, "token": {"type": "string"}}, "additionalProperties": False}
ERROR = {"type": "object", "required": ["code", "description"],
         "properties": {"code": {"type": "integer"}, "description": {"type": "string"}}, "additionalProperties": False}


def array_of(item: dict) -> dict:
    return {"type": "array", "items": item}


class GeoReport:
    """A GeoReport v2 client as the specification describes one: `{endpoint}/{resource}.{format}`."""

    def __init__(self, session: ClientSession, endpoint: str) -> None:
        self.session, self.endpoint = session, endpoint

    async def get(self, resource: str, fmt: str = "json", **params):
        async with self.session.get(f"{self.endpoint}/{resource}.{fmt}", params=params) as got:
            body = await got.read()
            return got.status, (self.parse_xml(body) if fmt == "xml" else __import__("json").loads(body))

    async def post(self, fmt: str = "json", photo: bytes | None = None, **fields):
        form = FormData()
        for key, value in fields.items():
            form.add_field(key, str(value))
        if photo is not None:
            form.add_field("media", photo, filename="photo.jpg", content_type="image/jpeg")
        async with self.session.post(f"{self.endpoint}/requests.{fmt}", data=form) as got:
            body = await got.read()
            return got.status, (self.parse_xml(body) if fmt == "xml" else __import__("json").loads(body))

    @staticmethod
    def parse_xml(body: bytes) -> list[dict]:
        """<services>/<service_requests>/<errors> with one element per item, fields as child elements."""
        root = ET.fromstring(body)
        numeric = {"lat", "long", "code"}
        items = []
        for item in root:
            fields: dict = {}
            for child in item:
                text = child.text or ""
                fields[child.tag] = (float(text) if child.tag in ("lat", "long") else int(text) if child.tag == "code"
                                     else text == "true" if child.tag == "metadata" else text) \
                    if child.tag in numeric | {"metadata"} else text
            items.append(fields)
        return items


def jpeg(colour=(200, 40, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), colour).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
async def city(month_of_work, tmp_path):
    w = month_of_work
    async with w.db.engine.begin() as conn:  # a resident's words, which must not leave
        await conn.execute(update(cases).where(cases.c.number == "C-1").values(description="王阿姨家门口 13812341234"))
    settings = Settings(_env_file=None, bot_token="4242:TEST", data_dir=tmp_path)
    server = TestClient(TestServer(web_app(w.db, settings, ManualClock(NOW))))
    await server.start_server()
    async with w.db.uow() as uow:
        w.api_key = await issue_key(uow, "12345热线", NOW)
        w.other_key = await issue_key(uow, "地图门户", NOW)
        await uow.commit()
    w.api = GeoReport(server.session, str(server.make_url("/open311/v2")))
    yield w
    await server.close()


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_services_are_the_report_categories(city, fmt):
    status, services = await city.api.get("services", fmt)
    assert status == 200
    jsonschema.validate(services, array_of(SERVICE))
    assert [s["service_code"] for s in services][:3] == ["garbage", "drains_pipes", "parking"] and len(services) == 10
    assert services[4]["service_name"] == "路灯/楼道灯"


async def test_requests_filter_page_and_carry_no_personal_data(city):
    api = city.api
    status, everything = await api.get("requests", page_size=100)
    assert status == 200
    jsonschema.validate(everything, array_of(REQUEST))
    assert len(everything) == 10  # the last 90 days of both communities
    assert not re.search(r"王阿姨|1381234|陈书记", str(everything))
    _, lights_open = await api.get("requests", service_code="lights", status="open")
    assert [r["service_request_id"] for r in lights_open] == ["C-7"]
    _, november = await api.get("requests", start_date="2026-11-10T00:00:00+08:00",
                                end_date="2026-11-20T23:59:59+08:00", status="closed")
    assert sorted(r["service_request_id"] for r in november) == ["C-3", "C-4", "C-8"]
    first = next(r for r in everything if r["service_request_id"] == "C-1")
    assert first["status"] == "closed" and first["expected_datetime"] == "2026-11-04T18:00:00+08:00"
    assert first["address"] == "东城社区 粮食局小区 1号楼" and first["status_notes"] == "已解决"
    # paging: pages of three, newest first, together everything once
    pages = []
    for page in range(1, 5):
        _, got = await api.get("requests", page=page, page_size=3)
        pages += [r["service_request_id"] for r in got]
    assert pages == [r["service_request_id"] for r in everything]
    # places: a box around 东城花园 (A栋, B栋), and 30 m around 4号楼
    _, garden = await api.get("requests", bbox="116.7145,32.7075,116.7160,32.7090")
    assert sorted(r["service_request_id"] for r in garden) == ["C-4", "C-7"]
    _, near = await api.get("requests", lat="32.7060", long="116.7112", radius="30")
    assert sorted(r["service_request_id"] for r in near) == ["C-3", "C-8"]


async def test_a_client_files_a_report_routed_like_a_chat_report_and_reads_its_own_words(city):
    api = city.api
    status, answer = await api.post(api_key=city.api_key, service_code="parking", lat="32.70561", long="116.71081",
                                    description="消防通道口长期停车", photo=jpeg(),
                                    email="x@example.com", first_name="张", phone="13900001111")
    assert status == 200
    jsonschema.validate(answer, array_of(POST_ANSWER))
    number, token = answer[0]["service_request_id"], answer[0]["token"]
    assert number.startswith("DC-2026-")
    _, by_token = await api.get(f"tokens/{token}")
    jsonschema.validate(by_token, array_of(TOKEN_ANSWER))
    assert by_token == [{"service_request_id": number, "token": token}]
    _, mine = await api.get(f"requests/{number}", api_key=city.api_key)
    _, theirs = await api.get(f"requests/{number}", api_key=city.other_key)
    _, public = await api.get(f"requests/{number}")
    for got in (mine, theirs, public):
        jsonschema.validate(got, array_of(REQUEST))
    assert mine[0]["description"] == "消防通道口长期停车" and "description" not in theirs[0] and "description" not in public[0]
    assert public[0]["address"] == "东城社区 粮食局小区 3号楼" and public[0]["status"] == "open"
    async with city.db.uow() as uow:
        case = await uow.cases.by_number(number)
        events = [e.kind for e in await uow.events.of("case", number)]
    # the same command as a chat report: the nearest building, numbered, routed (no grid member: the desk)
    assert case.building_id == city.buildings["3号楼"].id and case.state.value == "submitted"
    assert events == ["submitted", "sent_to_desk"] and len(case.photos) == 1
    assert "13900001111" not in str(mine) and "张" not in str(mine)


async def test_the_same_in_xml(city):
    api = city.api
    status, answer = await api.post("xml", api_key=city.api_key, service_code="garbage", address_id=city.buildings["A栋"].id,
                                    photo=jpeg((10, 200, 10)))
    assert status == 200
    jsonschema.validate(answer, array_of(POST_ANSWER))
    _, one = await api.get(f"requests/{answer[0]['service_request_id']}", "xml")
    jsonschema.validate(one, array_of(REQUEST))
    assert one[0]["service_code"] == "garbage" and one[0]["address"].endswith("A栋")


async def test_errors_are_georeports(city):
    api = city.api
    cases_ = [
        (dict(api_key="wrong", service_code="lights", lat="32.7056", long="116.7108"), jpeg(), 403),
        (dict(api_key=city.api_key, service_code="lights", lat="32.7056", long="116.7108"), None, 400),  # no photo
        (dict(api_key=city.api_key, service_code="lights", lat="40.0", long="116.0"), jpeg(), 400),  # far away
        (dict(api_key=city.api_key, service_code="potholes", lat="32.7056", long="116.7108"), jpeg(), 404),
        (dict(api_key=city.api_key, service_code="lights", lat="32.7056", long="116.7108"), b"not a photo", 400),
    ]
    for fields, photo, expected in cases_:
        status, errors = await api.post(photo=photo, **fields)
        assert status == expected, fields
        jsonschema.validate(errors, array_of(ERROR))
        assert errors[0]["code"] == expected
    status, errors = await api.get("requests/NO-SUCH")
    assert status == 404 and errors[0]["code"] == 404
    status, errors = await api.get("requests", "xml", status="pending")
    assert status == 400
    jsonschema.validate(errors, array_of(ERROR))
    async with city.db.uow() as uow:
        assert len(await uow.statistics.cases(__import__("core.statistics_services", fromlist=["x"]).Area(
            tuple(c.id for c in await uow.places.communities())), None)) == 10  # nothing was filed


async def test_a_photo_by_media_url(city):
    async def photo(request):
        return web.Response(body=jpeg((0, 0, 200)), content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/p.jpg", photo)
    server = TestServer(app)
    await server.start_server()
    try:
        status, answer = await city.api.post(api_key=city.api_key, service_code="flyers",
                                             media_url=str(server.make_url("/p.jpg")), lat="32.7050", long="116.7100")
    finally:
        await server.close()
    assert status == 200 and answer[0]["service_request_id"].startswith("DC-")
