"""Faces blurred before neighbours see a photo (issue #20): detection (media/faces.py), the rule
(core.disclosure.photo_disclosure), the blurred copy kept once (media.photos.PhotoStore), and what each
person is sent: a joiner the blurred photo, the handler and the reporter the original."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
from PIL import Image, ImageChops, ImageStat

import media.faces as faces
from bot.rendering.cases import CaseRenderer
from core import cases_services
from core.cases import Actor, Case, CaseState, Category, PhotoKind, PhotoRef
from core.clock import ManualClock
from core.disclosure import PhotoShown, photo_disclosure
from core.notifications import Notification
from core.onboarding import roles_of
from core.people import Role, RoleGrant, Roles
from media.faces import blur_regions, blurred_jpeg, detect_faces, grown
from media.photos import PhotoStore, encode_jpeg
from redgrid.bootstrap import build_dispatcher, report_policy
from redgrid.settings import Settings
from tests.botkit import ChatHarness
from tests.factories import seed_world
from tests.test_dashboard import site  # noqa: F401 (fixture)
from tests.test_statistics import month_of_work  # noqa: F401 (fixture)
from tests.test_wechat_conversation import kit  # noqa: F401 (fixture)
from tests.test_wechat_rendering import resolved  # noqa: F401 (fixture)
from tests.faces_kit import ASTRONAUT_FACE, astronaut, astronaut_head, matches, paste_face, stairwell


def composited(width: int = 1600, height: int = 1200, face_width: int = 360) -> tuple[Image.Image, tuple]:
    head, face_box = astronaut_head()
    scene = stairwell(width, height, seed=4)
    return scene, paste_face(scene, head, face_box, width // 3, height // 6, face_width)


def jpeg(image: Image.Image) -> bytes:
    return encode_jpeg(image, quality=92)


def decoded(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as opened:
        return opened.convert("RGB")


# --- detection ------------------------------------------------------------------------------------


def test_the_astronauts_face_is_found():
    found = detect_faces(astronaut())
    assert len(found) == 1 and matches(found[0], ASTRONAUT_FACE), found


def test_a_face_composited_into_a_stairwell_is_found_at_twelve_megapixels_too():
    for size, face_width in (((1600, 1200), 200), ((4000, 3000), 500)):
        scene, truth = composited(*size, face_width=face_width)
        found = detect_faces(scene)
        assert len(found) == 1 and matches(found[0], truth), (size, found, truth)


def test_a_plain_stairwell_has_no_face_and_its_blurred_copy_is_none():
    scene = stairwell(1600, 1200, seed=7)
    assert detect_faces(scene) == []
    assert blurred_jpeg(jpeg(scene)) is None


# --- blurring -------------------------------------------------------------------------------------


def test_the_blurred_region_differs_strongly_and_the_rest_is_identical():
    image = astronaut()
    boxes = detect_faces(image)
    out = blur_regions(image, boxes)
    left, top, w, h = grown(boxes[0], image.size)
    area = (left, top, left + w, top + h)
    difference = ImageChops.difference(image, out)
    assert sum(ImageStat.Stat(difference.crop(area)).mean) / 3 > 15  # the face is gone
    # the face's fine detail (edges) is gone too: the blurred patch is smooth
    edges = lambda im: ImageStat.Stat(ImageChops.difference(im, im.transform(im.size, Image.Transform.AFFINE, (1, 0, 1, 0, 1, 0)))).mean  # noqa: E731
    assert sum(edges(out.crop(area))) < sum(edges(image.crop(area))) / 3
    outside = Image.new("L", image.size, 255)
    outside.paste(0, area)
    assert ImageChops.difference(image, out).convert("L").point(lambda v: 255 if v else 0).getbbox() is not None
    masked = Image.composite(difference, Image.new("RGB", image.size), outside)
    assert masked.getbbox() is None  # not one pixel changed outside the grown box


def test_the_blurred_jpeg_hides_the_face_and_barely_moves_the_rest():
    scene, truth = composited()
    original = jpeg(scene)
    blurred = blurred_jpeg(original)
    assert blurred is not None and blurred != original
    assert detect_faces(decoded(blurred)) == []
    left, top, w, h = grown(truth, scene.size, 0.6)
    before, after = decoded(original), decoded(blurred)
    before.paste((0, 0, 0), (left, top, left + w, top + h))
    after.paste((0, 0, 0), (left, top, left + w, top + h))
    assert max(ImageStat.Stat(ImageChops.difference(before, after)).mean) < 1.5  # one more JPEG pass, no more


# --- the rule -------------------------------------------------------------------------------------


def _case(**changes) -> Case:
    from datetime import datetime, timezone

    at = datetime(2026, 11, 2, 9, tzinfo=timezone.utc)
    case = Case(None, "DC-2026-000001", reporter_id=1, community_id=10, grid_id=20, building_id=30,
                category=Category.LIGHTS, description="", photos=[], state=CaseState.ASSIGNED, created_at=at,
                updated_at=at, deadline=at,
                handler_id=2, me_too=[3])
    return replace(case, **changes)


def test_photo_disclosure_original_for_handler_staff_and_author_blurred_for_the_rest():
    case = _case()
    before, after = PhotoRef("a" * 64, PhotoKind.BEFORE), PhotoRef("b" * 64, PhotoKind.AFTER)
    staff = Actor(9, Roles([RoleGrant(None, 9, Role.STAFF, community_id=10)]))
    other_staff = Actor(8, Roles([RoleGrant(None, 8, Role.STAFF, community_id=11)]))
    reporter, handler, joiner = Actor(1, Roles([])), Actor(2, Roles([])), Actor(3, Roles([]))
    for who, photo, shown in [(handler, before, "original"), (handler, after, "original"),
                              (staff, before, "original"), (reporter, before, "original"),
                              (reporter, after, "blurred"), (joiner, before, "blurred"), (joiner, after, "blurred"),
                              (other_staff, before, "blurred"), (None, before, "blurred")]:
        assert photo_disclosure(who, case, photo) == PhotoShown(shown), (who, photo.kind)


# --- the store: made once, kept beside the original, removed with it --------------------------------


async def test_the_blurred_copy_is_made_once_kept_and_removed_with_the_original(tmp_path, monkeypatch):
    store = PhotoStore(tmp_path)
    saved = await store.save(jpeg(composited()[0]))
    plain = await store.save(jpeg(stairwell(1600, 1200, seed=7)))  # no face found in it (test above)
    calls = []
    real = faces.blurred_jpeg
    monkeypatch.setattr(faces, "blurred_jpeg", lambda data: calls.append(1) or real(data))
    assert await store.load_shown(saved.sha256, PhotoShown.ORIGINAL) == saved.jpeg
    first = await store.load_shown(saved.sha256, PhotoShown.BLURRED)
    again = await store.load_shown(saved.sha256, PhotoShown.BLURRED)
    assert first == again != saved.jpeg and len(calls) == 1
    assert store.blurred_path(saved.sha256).read_bytes() == first
    assert await store.load_shown(plain.sha256, PhotoShown.BLURRED) == plain.jpeg  # no face: the original
    assert await store.remove([saved.sha256, plain.sha256]) == 2
    assert not store.blurred_path(saved.sha256).exists() and not store.blurred_path(plain.sha256).exists()


# --- what people are sent ---------------------------------------------------------------------------


@pytest.fixture
async def chat(db, now, tmp_path):
    async with db.uow() as uow:
        world = await seed_world(uow)
    settings = Settings(_env_file=None, bot_token="4242:TEST", data_dir=tmp_path)
    harness = ChatHarness(build_dispatcher(db, settings, ManualClock(now)))
    harness.world, harness.db, harness.settings = world, db, settings
    harness.store = PhotoStore(tmp_path)
    yield harness
    await harness.bot.session.close()


async def _joined(chat, tester, grant: RoleGrant):
    await tester.sends_text("/help")
    await tester.agrees()  # the privacy notice comes first
    async with chat.db.uow() as uow:
        person = await uow.people.by_identity("telegram", str(tester.id))
        await uow.people.add_grant(replace(grant, person_id=person.id))
        await uow.commit()
    return person


async def _case_with_a_face(chat, now):
    """王阿姨 reports a stairwell photo with a neighbour's face, 李秀英 handles it, 赵大爷 joins."""
    community, building = chat.world.communities["东城社区"], chat.world.buildings["3号楼"]
    people = {}
    for name, grant in (("王阿姨", RoleGrant(None, 0, Role.RESIDENT, community_id=community.id, building_id=building.id)),
                        ("赵大爷", RoleGrant(None, 0, Role.RESIDENT, community_id=community.id, building_id=building.id)),
                        ("李秀英", RoleGrant(None, 0, Role.GRID_MEMBER, grid_id=building.grid_id))):
        tester = chat.person(name)
        people[name] = (tester, await _joined(chat, tester, grant))
    photo = await chat.store.save(jpeg(composited()[0]))
    policy = report_policy(chat.settings)
    async with chat.db.uow() as uow:
        actors = {n: Actor(p.id, await roles_of(uow, p)) for n, (_, p) in people.items()}
        case = await cases_services.report_problem(uow, policy, actors["王阿姨"], building.id, Category.LIGHTS,
                                                   [photo.ref(PhotoKind.BEFORE)], "楼道灯坏了", now)
        await cases_services.join_same_problem(uow, policy, actors["赵大爷"], case.number, building.id,
                                               Category.LIGHTS, now)
        await uow.commit()
    assert case.handler_id == people["李秀英"][1].id
    return case, photo, people


async def test_a_joiner_is_sent_the_blurred_photo_the_handler_and_reporter_the_original(chat, now):
    case, photo, people = await _case_with_a_face(chat, now)
    sent = {}
    for name, (tester, _) in people.items():
        await tester.presses_data(f"ca:history:{case.number}:")
        (picture,) = [m for m in tester.messages if m.photo]
        sent[name] = picture.photo_data
    assert sent["李秀英"] == photo.jpeg and sent["王阿姨"] == photo.jpeg
    assert sent["赵大爷"] != photo.jpeg
    assert sent["赵大爷"] == chat.store.blurred_path(photo.sha256).read_bytes()
    assert detect_faces(decoded(photo.jpeg)) and detect_faces(decoded(sent["赵大爷"])) == []


async def test_the_card_is_blurred_for_a_joiner_and_the_handlers_notification_is_the_original(chat, now):
    case, photo, people = await _case_with_a_face(chat, now)
    (_, li), (_, wang), (_, zhao) = people["李秀英"], people["王阿姨"], people["赵大爷"]
    after = await chat.store.save(jpeg(stairwell(1600, 1200, seed=11)))
    async with chat.db.uow() as uow:
        handler = Actor(li.id, await roles_of(uow, li))
        await cases_services.accept_case(uow, handler, case.number, now)
        await cases_services.resolve_case(uow, handler, case.number, after.ref(PhotoKind.AFTER), "换了灯泡", now)
        await uow.commit()
    renderer = CaseRenderer(chat.settings, chat.store, ManualClock(now))
    async with chat.db.uow() as uow:
        for_handler = await renderer.render(uow, Notification(li.id, "case.new_for_handler", {"case": case.number}),
                                            li, "zh")
        for_joiner = await renderer.render(uow, Notification(zhao.id, "case.resolved", {"case": case.number}), zhao, "zh")
        for_reporter = await renderer.render(uow, Notification(wang.id, "case.resolved", {"case": case.number}),
                                             wang, "zh")
    assert for_handler.photo == photo.jpeg
    assert detect_faces(decoded(for_reporter.photo))  # her own photo, on the card as she took it
    assert detect_faces(decoded(for_joiner.photo)) == []  # the neighbour's face, blurred on the card
    assert for_joiner.photo != for_reporter.photo


# --- the dashboard: its viewers are staff, who see the original; the route asks the rule -------------


async def test_the_dashboards_photo_is_the_original_for_staff_and_blurred_once_they_are_not(site, tmp_path,
                                                                                           monkeypatch):
    from sqlalchemy import insert, select

    from storage.case_tables import case_photos, cases
    from tests.test_dashboard import sign_in

    w = site
    store = PhotoStore(tmp_path)  # the site's DATA_DIR
    photo = await store.save(jpeg(composited()[0]))
    async with w.db.engine.begin() as conn:
        case_id = (await conn.execute(select(cases.c.id).where(cases.c.number == "C-1"))).scalar_one()
        await conn.execute(insert(case_photos).values(case_id=case_id, sha256=photo.sha256, kind="before",
                                                      width=photo.width, height=photo.height))
    await sign_in(w, "chen")  # staff of the community
    got = await w.client.get(f"/dashboard/photos/C-1/{photo.sha256}")
    assert got.status == 200 and await got.read() == photo.jpeg
    # the same route for a viewer the rule blurs for (an admin of no community: none exists, so the
    # rule is made to say so) sends the blurred copy, never the original
    monkeypatch.setattr("media.photos.photo_disclosure", lambda viewer, case, ref: PhotoShown.BLURRED)
    body = await (await w.client.get(f"/dashboard/photos/C-1/{photo.sha256}")).read()
    assert body != photo.jpeg and body == store.blurred_path(photo.sha256).read_bytes()
    assert detect_faces(decoded(body)) == []


# --- WeChat: the same rule through its renderer ------------------------------------------------------


async def test_on_wechat_the_outcome_card_is_blurred_for_a_neighbour_and_not_for_the_reporter(resolved):
    from core.people import Person
    from tests.test_wechat_rendering import _render

    kit = resolved
    async with kit.db.uow() as uow:
        case = await uow.cases.by_number(kit.number)
    before = case.photos_of(PhotoKind.BEFORE)[0]
    # the resident's photo, as if it had shown a neighbour: the file under its name gets a face
    store = kit.renderer.photos
    store.path(before.sha256).write_bytes(jpeg(composited()[0]))
    neighbour = Person(kit.world.people["chen"].id + 1000, "邻居")  # no case of theirs, no role
    for_reporter = await _render(kit, "case.resolved", {"case": kit.number}, kit.wang)
    for_neighbour = await _render(kit, "case.resolved", {"case": kit.number}, neighbour)
    assert detect_faces(decoded(for_reporter[0].image))
    assert detect_faces(decoded(for_neighbour[0].image)) == []
