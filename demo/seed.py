"""The demo community's people: who you can be in the web chat.

The places come from the sample org file (`samples/demo_org.xlsx`); this adds an administrator,
a staff member, a department contact (城管), chat accounts for the four imported grid members,
six party members, three registered residents and one newcomer who has not registered yet
(to try onboarding); and for volunteering, two theme-day activities (the scheduler makes their
posts for the 28th) and one open service post the party members can claim at once.
Seeding twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path

from core import theme_day_services
from core.volunteering import common_services, posts_services
from core.cases import Actor
from core.consent import NOTICE_VERSION, Purpose
from core.consent_services import record_agreement
from core.onboarding import record, roles_of
from core.people import Department, Identity, Person, Role, RoleGrant
from core.theme_day import ThemeActivity
from core.workdays import CHINA_TZ, WorkCalendar
from core.ports import UnitOfWork
from storage.uow import Database

SAMPLE_ORG = Path(__file__).resolve().parent.parent / "samples" / "demo_org.xlsx"
CHANNEL = "telegram"


@dataclass(frozen=True)
class Persona:
    user_id: int
    name: str
    role_label: str
    language_code: str = "zh-hans"

    def as_dict(self) -> dict:
        return {"user_id": self.user_id, "name": self.name, "role_label": self.role_label,
                "language_code": self.language_code}


ADMIN = Persona(1001, "周管理员", "管理员")
STAFF = Persona(1002, "陈书记", "社区工作人员")
GRID_MEMBER_IDS = (1101, 1102, 1103, 1104)
PARTY_MEMBERS = [
    (Persona(1201, "刘建国", "党员志愿者"), "县供电公司"),
    (Persona(1202, "孙丽", "党员志愿者"), "城关镇中心小学"),
    (Persona(1203, "杨卫东", "党员志愿者"), "县人民医院"),
    (Persona(1204, "何敏", "党员志愿者"), "县税务局"),
    (Persona(1205, "马强", "党员志愿者"), "县住建局"),
    (Persona(1206, "Grace Lin", "party member", "en"), "County library"),
]
# (persona, compound, building): registered residents
RESIDENTS = [
    (Persona(1301, "王阿姨", "居民"), "粮食局小区", "3号楼"),
    (Persona(1302, "李大爷", "居民"), "粮食局小区", "5号楼"),
    (Persona(1303, "张女士", "居民"), "东城花园", "2号楼"),
]
NEWCOMER = Persona(1399, "新邻居", "新用户（未登记）")
DEPARTMENT = Persona(1401, "刘队长", "部门联系人 · 城管执法中队")
DEPARTMENT_NAME = "城管执法中队"


async def _identity_taken(uow: UnitOfWork, user_id: int) -> bool:
    return await uow.people.identity(CHANNEL, str(user_id)) is not None


async def _person_with_identity(uow: UnitOfWork, persona: Persona, now: datetime, *grants: RoleGrant) -> None:
    person = Person(None, persona.name, created_at=now,
                    language="en" if persona.language_code.startswith("en") else None)
    await uow.people.add(person)
    await uow.people.add_identity(Identity(None, person.id, CHANNEL, str(persona.user_id), str(persona.user_id)))
    for grant in grants:
        grant.person_id, grant.created_at = person.id, now
        await uow.people.add_grant(grant)
    await record(uow, "person", person.id, "demo_seeded", now, None,
                 after={"roles": [g.role.value for g in grants]})
    await _agreed(uow, person, now)


async def _agreed(uow: UnitOfWork, person: Person, now: datetime) -> None:
    """The demo's people stand for residents who agreed to the privacy notice (the newcomer has not)."""
    if person.notice_version is None or person.notice_version < NOTICE_VERSION:
        await record_agreement(uow, person, Purpose.NOTICE, NOTICE_VERSION, CHANNEL, now)


async def seed_people(db: Database, now: datetime) -> list[Persona]:
    """Add the demo people once (each agreed to the privacy notice); return every persona for the web
    chat, the newcomer first."""
    grid_members: list[Persona] = []
    volunteers: list[Persona] = []
    residents: list[Persona] = []
    async with db.uow() as uow:
        (community,) = [c for c in await uow.places.communities() if c.code == "DC"]
        if not await _identity_taken(uow, ADMIN.user_id):
            await _person_with_identity(uow, ADMIN, now, RoleGrant(None, 0, Role.ADMIN))
        if not await _identity_taken(uow, STAFF.user_id):
            await _person_with_identity(uow, STAFF, now, RoleGrant(None, 0, Role.STAFF, community_id=community.id))

        # the imported grid members (one per grid) get chat accounts
        for user_id, grid in zip(GRID_MEMBER_IDS, await uow.places.grids(community.id)):
            members = await uow.people.grid_members(grid.id)
            if not members:
                continue
            member = members[0]
            if not await _identity_taken(uow, user_id):
                await uow.people.add_identity(Identity(None, member.id, CHANNEL, str(user_id), str(user_id)))
                await record(uow, "person", member.id, "demo_seeded", now, None, after={"grid_id": grid.id})
                await _agreed(uow, member, now)
            grid_members.append(Persona(user_id, member.display_name, f"网格员 · {grid.name}"))

        if not await _identity_taken(uow, DEPARTMENT.user_id):
            department = await uow.people.department_named(DEPARTMENT_NAME)
            if department is None:
                department = Department(None, DEPARTMENT_NAME)
                await uow.people.add_department(department)
            await _person_with_identity(uow, DEPARTMENT, now, RoleGrant(None, 0, Role.DEPARTMENT,
                                                                        department_id=department.id))

        for persona, work_unit in PARTY_MEMBERS:
            if not await _identity_taken(uow, persona.user_id):
                await _person_with_identity(uow, persona, now, RoleGrant(
                    None, 0, Role.PARTY_MEMBER, community_id=community.id, work_unit=work_unit))
            volunteers.append(persona)

        for persona, compound_name, building_name in RESIDENTS:
            if not await _identity_taken(uow, persona.user_id):
                compound = await uow.places.compound_named(community.id, compound_name)
                building = await uow.places.building_named(compound.id, building_name)
                await _person_with_identity(uow, persona, now, RoleGrant(
                    None, 0, Role.RESIDENT, community_id=community.id, building_id=building.id))
            residents.append(persona)
        await uow.commit()
    return [NEWCOMER, *residents, *grid_members, STAFF, DEPARTMENT, ADMIN, *volunteers]


# the community's theme-day activities (主题党日, the 28th): a talk that can be held after work, and
# a clean-up that needs daylight (skipped when the 28th is a working day)
THEME_TEMPLATES = [
    dict(title="政策宣讲进社区", activity=ThemeActivity.POLICY_TALK, place="东城社区党群服务中心", capacity=20,
         points_per_person=5, duration=timedelta(hours=1, minutes=30)),
    dict(title="环境整治义务清扫", activity=ThemeActivity.CLEAN_UP, place="粮食局小区 中心广场", capacity=8,
         points_per_person=10, duration=timedelta(hours=2), workday_starts=None),
]
OPEN_POST = dict(title="清理楼道小广告", place="东城花园 2号楼", capacity=3, points_per_person=10)


def next_saturday_afternoon(now: datetime) -> datetime:
    """15:00 on the first Saturday at least two days ahead (China time): always in the future, and
    never at the same time as a theme-day activity (09:00 on a rest day, 18:30 after work)."""
    day = now.astimezone(CHINA_TZ).date() + timedelta(days=2)
    day += timedelta(days=(5 - day.weekday()) % 7)
    return datetime.combine(day, time(15, 0), tzinfo=CHINA_TZ)


async def seed_volunteering(db: Database, now: datetime) -> None:
    """Theme-day templates and one open post for the demo community, once (no templates yet)."""
    async with db.uow() as uow:
        (community,) = [c for c in await uow.places.communities() if c.code == "DC"]
        if await uow.volunteering.templates(community.id, active_only=False):
            return
        staff = await uow.people.by_identity(CHANNEL, str(STAFF.user_id))
        by = Actor.of(staff, await roles_of(uow, staff))
        for template in THEME_TEMPLATES:
            await theme_day_services.define_template(uow, by, community.id, now, **template)
        starts = next_saturday_afternoon(now)
        policy = common_services.VolunteerPolicy(calendar=WorkCalendar())
        await posts_services.create_post(uow, policy, by, community.id,
                                         now, starts_at=starts, ends_at=starts + timedelta(hours=2), **OPEN_POST)
        await uow.commit()
