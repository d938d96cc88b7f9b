"""The org chart import: a community's places and grid members, read from its spreadsheets.

Two kinds of sheet, told apart by their header (Chinese or English column names):

- buildings (楼栋): 区县 district, 街道 street, 社区 community, 社区代码 community_code, 小区 compound,
  网格 grid, 楼栋 building, and optionally 纬度 lat, 经度 lon, 物业公司 property_company (the company
  serving the compound: the same on every row of a compound that names one; a blank keeps what is stored);
- grid members (网格员): 社区 community, 小区 compound, 网格 grid, 姓名 name, 电话 phone.

Everything is checked before anything is written: `parse_sheet` checks each cell, `build_plan` checks
the rows of all files against each other, `apply_plan` checks what needs the database (a member's grid
that no building row defines) and then upserts by names. Any problem stops the whole import; the
problems name file, sheet, row and column so a community worker can fix the spreadsheet.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Callable, Hashable, Iterable, Sequence, TypeVar

from core.errors import DomainError
from core.ids import saved_id
from core.onboarding import record
from core.people import GrantStatus, Person, Role, RoleGrant
from core.places import Building, Community, Compound, District, Grid, Street
from core.ports import UnitOfWork

# ---------------------------------------------------------------------------------------------
# Problems


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the files, where a person can find it."""

    file: str
    sheet: str | None
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = [self.file]
        if self.sheet is not None:
            where.append(f"sheet {self.sheet}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}"


MAX_PROBLEM_LINES = 50


class OrgImportError(DomainError):
    """The files cannot be imported; `problems` says every reason found."""

    key = "org.invalid"

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__(count=len(self.problems))

    def __str__(self) -> str:
        lines = [str(p) for p in self.problems[:MAX_PROBLEM_LINES]]
        if len(self.problems) > MAX_PROBLEM_LINES:
            lines.append(f"… and {len(self.problems) - MAX_PROBLEM_LINES} more")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Rows


@dataclass(frozen=True)
class Source:
    """Where a row came from: file, sheet (None for CSV), row number as the spreadsheet shows it."""

    file: str
    sheet: str | None
    row: int
    columns: tuple[tuple[str, str], ...] = ()  # (field, header as written in the file)

    def column(self, name: str) -> str:
        return dict(self.columns).get(name, COLUMN_LABELS.get(name, name))

    def problem(self, column: str | None, message: str) -> Problem:
        return Problem(self.file, self.sheet, self.row, self.column(column) if column else None, message)

    def cite(self) -> str:
        sheet = f", sheet {self.sheet}" if self.sheet is not None else ""
        return f"{self.file}{sheet}, row {self.row}"


NOWHERE = Source("", None, 0)


@dataclass(frozen=True)
class BuildingRow:
    district: str
    street: str
    community: str
    community_code: str
    compound: str
    grid: str
    building: str
    lat: float | None = None
    lon: float | None = None
    property_company: str = ""  # "": not given on this row
    source: Source = field(default=NOWHERE, compare=False, repr=False)

    @property
    def compound_key(self) -> tuple[str, str]:
        return (self.community, self.compound)

    @property
    def building_key(self) -> tuple[str, str, str]:
        return (self.community, self.compound, self.building)

    @property
    def grid_key(self) -> tuple[str, str, str]:
        return (self.community, self.compound, self.grid)


@dataclass(frozen=True)
class MemberRow:
    community: str
    compound: str
    grid: str
    name: str
    phone: str  # digits only, as stored
    source: Source = field(default=NOWHERE, compare=False, repr=False)

    @property
    def grid_key(self) -> tuple[str, str, str]:
        return (self.community, self.compound, self.grid)


# ---------------------------------------------------------------------------------------------
# Reading one sheet

COLUMN_LABELS = {
    "district": "区县", "street": "街道", "community": "社区", "community_code": "社区代码",
    "compound": "小区", "grid": "网格", "building": "楼栋", "lat": "纬度", "lon": "经度",
    "name": "姓名", "phone": "电话", "property_company": "物业公司",
}
ALIASES = {
    "district": ("区县", "区/县", "县区", "district"),
    "street": ("街道", "街道/乡镇", "乡镇", "镇街", "street", "town"),
    "community": ("社区", "社区名称", "community"),
    "community_code": ("社区代码", "社区编码", "community_code", "community code", "code"),
    "compound": ("小区", "小区名称", "compound"),
    "grid": ("网格", "网格名称", "grid"),
    "building": ("楼栋", "楼号", "楼栋号", "building"),
    "lat": ("纬度", "lat", "latitude"),
    "lon": ("经度", "lon", "lng", "longitude"),
    "name": ("姓名", "网格员", "网格员姓名", "name"),
    "phone": ("电话", "手机", "手机号", "手机号码", "联系电话", "phone", "mobile"),
    "property_company": ("物业公司", "物业", "物业企业", "物业服务企业", "property_company", "property company"),
}
BUILDING_COLUMNS = ("district", "street", "community", "community_code", "compound", "grid", "building")
BUILDING_OPTIONAL = ("lat", "lon", "property_company")
MEMBER_COLUMNS = ("community", "compound", "grid", "name", "phone")
KIND_NAMES = {"buildings": "a building sheet", "members": "a grid member sheet"}

MAX_PLACE_NAME = 100  # storage: places' name columns
MAX_PERSON_NAME = 64  # storage: persons.display_name


def _normalized(header: object) -> str:
    text = unicodedata.normalize("NFKC", "" if header is None else str(header))
    return re.sub(r"[\s_\-/()]+", "", text).lower()


_FIELD_OF = {_normalized(alias): name for name, aliases in ALIASES.items() for alias in aliases}


def _labels(names: Iterable[str]) -> str:
    return ", ".join(COLUMN_LABELS[n] for n in names)


def _label(name: str) -> str:
    return f"{COLUMN_LABELS[name]}/{name}"


def _header_columns(where: Source, header: Sequence[object]) -> tuple[dict[str, int], list[Problem]]:
    """Each known column's position; a column given twice is a problem."""
    positions: dict[str, int] = {}
    problems = []
    for index, cell in enumerate(header):
        name = _FIELD_OF.get(_normalized(cell))
        if name is None:
            continue  # notes and other extra columns are allowed
        if name in positions:
            problems.append(Problem(where.file, where.sheet, where.row, str(cell).strip(),
                                    f"the column {_label(name)} appears twice"))
        positions.setdefault(name, index)
    return positions, problems


def _kind_of(positions: dict[str, int]) -> tuple[str, list[str]]:
    """"buildings" or "members", and the columns it misses (none when the header is complete)."""
    missing = {kind: [c for c in columns if c not in positions]
               for kind, columns in (("buildings", BUILDING_COLUMNS), ("members", MEMBER_COLUMNS))}
    for kind in ("buildings", "members"):
        if not missing[kind]:
            return kind, []
    share = {kind: 1 - len(missing[kind]) / len(cols)
             for kind, cols in (("buildings", BUILDING_COLUMNS), ("members", MEMBER_COLUMNS))}
    closer = "members" if share["members"] > share["buildings"] else "buildings"
    return closer, missing[closer]


def cell_text(value: object) -> str:
    """A cell as text, trimmed; a whole number that came as a float (1.0) reads "1"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _number(value: object) -> float | None:
    """A number, None for an empty cell; ValueError for anything else."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = unicodedata.normalize("NFKC", cell_text(value))
        if not text:
            return None
        number = float(text)
    if not math.isfinite(number):
        raise ValueError(value)
    return number


def community_code(text: str) -> str | None:
    """2–8 ASCII letters, uppercased; None when the text is not one."""
    code = unicodedata.normalize("NFKC", text).strip()
    return code.upper() if re.fullmatch(r"[A-Za-z]{2,8}", code) else None


def phone_number(text: str) -> str | None:
    """Digits only, without spaces, dashes and +86; None unless 7–15 digits remain."""
    digits = re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", text))
    if digits.startswith("+86"):
        digits = digits[3:]
    return digits if re.fullmatch(r"[0-9]{7,15}", digits) else None


class _RowReader:
    """Reads the cells of one row, collecting what is wrong with them."""

    def __init__(self, source: Source, positions: dict[str, int], cells: Sequence[object]) -> None:
        self.source, self.positions, self.cells = source, positions, cells
        self.problems: list[Problem] = []

    def raw(self, name: str) -> object:
        index = self.positions.get(name)
        return self.cells[index] if index is not None and index < len(self.cells) else None

    def required(self, name: str, limit: int = MAX_PLACE_NAME) -> str:
        text = cell_text(self.raw(name))
        if not text:
            self.problems.append(self.source.problem(name, "empty"))
        elif len(text) > limit:
            self.problems.append(self.source.problem(name, f"longer than {limit} characters"))
        return text

    def optional(self, name: str, limit: int = MAX_PLACE_NAME) -> str:
        text = cell_text(self.raw(name))
        if len(text) > limit:
            self.problems.append(self.source.problem(name, f"longer than {limit} characters"))
        return text

    def coordinate(self, name: str, limit: float) -> float | None:
        raw = self.raw(name)
        try:
            number = _number(raw)
        except ValueError:
            self.problems.append(self.source.problem(name, f'not a number ("{cell_text(raw)}")'))
            return None
        if number is not None and not -limit <= number <= limit:
            self.problems.append(self.source.problem(name, f"out of range (−{limit:g} to {limit:g}): {number:g}"))
            return None
        return number

    def code(self) -> str:
        text = self.required("community_code", limit=16)
        code = community_code(text) if text else None
        if text and code is None:
            self.problems.append(self.source.problem(
                "community_code", f'must be 2 to 8 letters A–Z, as in "DC" ("{text}")'))
        return code or text

    def phone(self) -> str:
        text = self.required("phone", limit=40)
        phone = phone_number(text) if text else None
        if text and phone is None:
            self.problems.append(self.source.problem("phone", f'not a phone number: 7 to 15 digits ("{text}")'))
        return phone or text


def _building_row(reader: _RowReader) -> BuildingRow:
    r = reader
    row = BuildingRow(r.required("district"), r.required("street"), r.required("community"), r.code(),
                      r.required("compound"), r.required("grid"), r.required("building"),
                      r.coordinate("lat", 90), r.coordinate("lon", 180), r.optional("property_company"),
                      source=r.source)
    given = [name for name in ("lat", "lon") if cell_text(r.raw(name))]
    if len(given) == 1:
        other = "lon" if given == ["lat"] else "lat"
        r.problems.append(r.source.problem(other, f"empty, but {COLUMN_LABELS[given[0]]} is given: give both or neither"))
    return row


def _member_row(reader: _RowReader) -> MemberRow:
    r = reader
    return MemberRow(r.required("community"), r.required("compound"), r.required("grid"),
                     r.required("name", limit=MAX_PERSON_NAME), r.phone(), source=r.source)


def _is_blank(cells: Sequence[object]) -> bool:
    return all(not cell_text(c) for c in cells)


def parse_sheet(file: str, sheet: str | None, header: list[object], rows: list[list[object]], *,
                header_row: int = 1) -> list[BuildingRow] | list[MemberRow]:
    """The rows of one sheet (or CSV file), each cell checked; every problem found is raised at once.

    The header says which kind of sheet it is; `header_row` is its row number, the data follows it.
    Blank rows are skipped; columns the import does not know are ignored.
    """
    where = Source(file, sheet, header_row)
    positions, problems = _header_columns(where, header)
    kind, missing = _kind_of(positions)
    if missing:
        needs = _labels(BUILDING_COLUMNS if kind == "buildings" else MEMBER_COLUMNS)
        problems += [Problem(file, sheet, header_row, _label(name),
                             f"missing column ({KIND_NAMES[kind]} needs {needs})") for name in missing]
    if problems:
        raise OrgImportError(problems)
    columns = tuple((name, cell_text(header[i])) for name, i in positions.items())
    make = _building_row if kind == "buildings" else _member_row
    parsed: list[Any] = []  # rows of one kind: `make` is one of the two
    for number, cells in enumerate(rows, start=header_row + 1):
        if _is_blank(cells):
            continue
        reader = _RowReader(Source(file, sheet, number, columns), positions, cells)
        row = make(reader)
        problems += reader.problems
        if not reader.problems:
            parsed.append(row)
    if problems:
        raise OrgImportError(problems)
    return parsed


# ---------------------------------------------------------------------------------------------
# Checking all rows together


@dataclass(frozen=True)
class OrgPlan:
    """What the files say, checked and without repeats; `apply_plan` writes it."""

    buildings: tuple[BuildingRow, ...] = ()
    members: tuple[MemberRow, ...] = ()

    def communities(self) -> dict[str, BuildingRow]:
        """Each community named by a building row, with its first row (district, street, code)."""
        first: dict[str, BuildingRow] = {}
        for row in self.buildings:
            first.setdefault(row.community, row)
        return first

    def grid_keys(self) -> set[tuple[str, str, str]]:
        return {row.grid_key for row in self.buildings}

    def property_companies(self) -> dict[tuple[str, str], str]:
        """The company each compound's rows name (compounds whose rows name none are left out)."""
        return {row.compound_key: row.property_company for row in self.buildings if row.property_company}


_Row = TypeVar("_Row", BuildingRow, MemberRow)


def _must_agree(rows: Iterable[_Row], key: Callable[[_Row], Hashable], value: Callable[[_Row], object],
                problems: list[Problem], column: str, describe: Callable[[_Row, _Row], str]) -> None:
    """Rows with the same `key` must have the same `value`; a row that differs from the first is a problem."""
    first: dict[Hashable, _Row] = {}
    for row in rows:
        earlier = first.setdefault(key(row), row)
        if value(earlier) != value(row):
            problems.append(row.source.problem(column, describe(earlier, row)))


def _check_communities(rows: Sequence[BuildingRow], problems: list[Problem]) -> None:
    _must_agree(rows, lambda r: r.community, lambda r: r.community_code, problems, "community_code",
                     lambda a, b: f"{b.community} has code {a.community_code} in {a.source.cite()}, "
                                  f"but {b.community_code} here")
    _must_agree(rows, lambda r: r.community_code, lambda r: r.community, problems, "community_code",
                     lambda a, b: f"code {b.community_code} already names {a.community} in {a.source.cite()}; "
                                  f"each community needs its own code")
    _must_agree(rows, lambda r: r.community, lambda r: (r.district, r.street), problems, "street",
                     lambda a, b: f"{b.community} is in {a.district} {a.street} in {a.source.cite()}, "
                                  f"but in {b.district} {b.street} here")


def _check_buildings(rows: Sequence[BuildingRow], problems: list[Problem]) -> None:
    _must_agree(rows, lambda r: r.building_key, lambda r: r.grid, problems, "grid",
                     lambda a, b: f"{b.compound} {b.building} is in grid {a.grid} in {a.source.cite()}, "
                                  f"but in {b.grid} here; a building belongs to one grid")
    _must_agree(rows, lambda r: r.building_key, lambda r: (r.lat, r.lon), problems, "lat",
                     lambda a, b: f"{b.compound} {b.building} has other coordinates in {a.source.cite()}")
    _must_agree([r for r in rows if r.property_company], lambda r: r.compound_key, lambda r: r.property_company,
                problems, "property_company",
                lambda a, b: f"{b.compound} is served by {a.property_company} in {a.source.cite()}, "
                             f"but by {b.property_company} here; a compound has one property company")


def _check_members(rows: Sequence[MemberRow], problems: list[Problem]) -> None:
    _must_agree(rows, lambda r: r.phone, lambda r: r.name, problems, "name",
                     lambda a, b: f"phone {b.phone} belongs to {a.name} in {a.source.cite()}, not {b.name}")


_T = TypeVar("_T")


def _without_repeats(rows: Iterable[_T]) -> tuple[_T, ...]:
    return tuple(dict.fromkeys(rows))


def build_plan(rows: Iterable[BuildingRow | MemberRow]) -> OrgPlan:
    """All files' rows checked against each other; exact repeats are fine, contradictions are not.

    A member row naming a grid no building row defines is accepted here: `apply_plan` looks for the
    grid in the database.
    """
    rows = list(rows)
    buildings = [r for r in rows if isinstance(r, BuildingRow)]
    members = [r for r in rows if isinstance(r, MemberRow)]
    problems: list[Problem] = []
    _check_communities(buildings, problems)
    _check_buildings(buildings, problems)
    _check_members(members, problems)
    if problems:
        raise OrgImportError(problems)
    return OrgPlan(_without_repeats(buildings), _without_repeats(members))


# ---------------------------------------------------------------------------------------------
# Writing the plan

KINDS = ("districts", "streets", "communities", "compounds", "grids", "buildings", "members")
_KIND_OF_PLACE = {District: "district", Street: "street", Community: "community", Compound: "compound",
                  Grid: "grid", Building: "building"}
_PLURAL = {"district": "districts", "street": "streets", "community": "communities", "compound": "compounds",
           "grid": "grids", "building": "buildings"}


@dataclass
class Tally:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class ImportReport:
    """How many of each kind were created, updated or left as they were."""

    tallies: dict[str, Tally] = field(default_factory=lambda: {kind: Tally() for kind in KINDS})

    def __getitem__(self, kind: str) -> Tally:
        return self.tallies[kind]

    def count(self, kind: str, outcome: str) -> None:
        tally = self.tallies[kind]
        setattr(tally, outcome, getattr(tally, outcome) + 1)

    def recount(self, kind: str, was: str, became: str) -> None:
        """One place counted `was` turned out `became` (a grid placed after it was met unchanged)."""
        tally = self.tallies[kind]
        setattr(tally, was, getattr(tally, was) - 1)
        setattr(tally, became, getattr(tally, became) + 1)

    @property
    def created(self) -> int:
        return sum(t.created for t in self.tallies.values())

    @property
    def updated(self) -> int:
        return sum(t.updated for t in self.tallies.values())

    @property
    def unchanged(self) -> int:
        return sum(t.unchanged for t in self.tallies.values())

    def _listed(self, outcome: str) -> str:
        singular = {plural: kind for kind, plural in _PLURAL.items()} | {"members": "member"}
        parts = [f"{n} {kind if n > 1 else singular[kind]}"
                 for kind, n in ((kind, getattr(t, outcome)) for kind, t in self.tallies.items()) if n]
        return f" ({', '.join(parts)})" if parts else ""

    def summary(self) -> str:
        return (f"org import: {self.created} created{self._listed('created')}, "
                f"{self.updated} updated{self._listed('updated')}, {self.unchanged} unchanged")


Place = District | Street | Community | Compound | Grid | Building
_P = TypeVar("_P", District, Street, Community, Compound, Grid, Building)


def _place_view(place: Place) -> dict[str, Any]:
    return {k: v for k, v in asdict(place).items() if k != "id"}


def _grant_view(grant: RoleGrant) -> dict[str, Any]:
    return {"role": grant.role.value, "status": grant.status.value, "grid_id": grant.grid_id,
            "community_id": grant.community_id}


def _mean_position(buildings: Iterable[Building]) -> tuple[float, float] | None:
    placed = [(b.lat, b.lon) for b in buildings if b.lat is not None and b.lon is not None]
    if not placed:
        return None
    return (round(sum(lat for lat, _ in placed) / len(placed), 7),
            round(sum(lon for _, lon in placed) / len(placed), 7))


class _Import:
    """One run of `apply_plan`: the places met so far by their names, and the tally."""

    def __init__(self, uow: UnitOfWork, plan: OrgPlan, now: datetime) -> None:
        self.uow, self.plan, self.now = uow, plan, now
        self.report = ImportReport()
        self.companies = plan.property_companies()
        self.districts: dict[str, District] = {}
        self.streets: dict[tuple[str, str], Street] = {}
        self.communities: dict[str, Community] = {}
        self.compounds: dict[tuple[str, str], Compound] = {}
        self.grids: dict[tuple[str, str, str], Grid] = {}
        self.created_grids: set[int] = set()
        self.emptied_grids: set[int] = set()  # grids a building moved out of
        self.stored_grids: dict[tuple[str, str, str], tuple[Grid, int]] = {}  # members' grids not in the plan

    async def _upsert(self, existing: _P | None, new: _P, changes: dict[str, Any]) -> _P:
        """Add `new` when nothing of that name exists, else apply `changes` to `existing` if they differ."""
        kind = _KIND_OF_PLACE[type(new)]
        if existing is None:
            await self.uow.places.add(new)
            await record(self.uow, "place", f"{kind}:{new.id}", "place_created", self.now, None, None,
                         _place_view(new))
            self.report.count(_PLURAL[kind], "created")
            return new
        if all(getattr(existing, name) == value for name, value in changes.items()):
            self.report.count(_PLURAL[kind], "unchanged")
            return existing
        await self._change(existing, changes)
        self.report.count(_PLURAL[kind], "updated")
        return existing

    async def _change(self, place: Place, changes: dict[str, Any]) -> None:
        before = {name: getattr(place, name) for name in changes}
        for name, value in changes.items():
            setattr(place, name, value)
        await self.uow.places.update(place)
        kind = _KIND_OF_PLACE[type(place)]
        await record(self.uow, "place", f"{kind}:{place.id}", "place_updated", self.now, None, before, changes)

    # -- places ----------------------------------------------------------------------------

    async def district(self, row: BuildingRow) -> District:
        if row.district not in self.districts:
            existing = await self.uow.places.district_named(row.district)
            self.districts[row.district] = await self._upsert(existing, District(None, row.district), {})
        return self.districts[row.district]

    async def street(self, row: BuildingRow) -> Street:
        key = (row.district, row.street)
        if key not in self.streets:
            district = await self.district(row)
            existing = await self.uow.places.street_named(saved_id(district), row.street)
            self.streets[key] = await self._upsert(existing, Street(None, saved_id(district), row.street), {})
        return self.streets[key]

    async def community(self, row: BuildingRow) -> Community:
        if row.community not in self.communities:
            street = await self.street(row)
            existing = await self.uow.places.community_named(saved_id(street), row.community)
            new = Community(None, saved_id(street), row.community, row.community_code)
            self.communities[row.community] = await self._upsert(existing, new, {"code": row.community_code})
        return self.communities[row.community]

    async def compound(self, row: BuildingRow) -> Compound:
        key = (row.community, row.compound)
        if key not in self.compounds:
            community = await self.community(row)
            existing = await self.uow.places.compound_named(saved_id(community), row.compound)
            company = self.companies.get(key)
            changes = {"property_company": company} if company else {}  # a blank keeps the stored one
            self.compounds[key] = await self._upsert(
                existing, Compound(None, saved_id(community), row.compound, company), changes)
        return self.compounds[key]

    async def grid(self, row: BuildingRow) -> Grid:
        if row.grid_key not in self.grids:
            compound = await self.compound(row)
            existing = await self.uow.places.grid_named(saved_id(compound), row.grid)
            grid = self.grids[row.grid_key] = await self._upsert(existing, Grid(None, saved_id(compound), row.grid), {})
            if existing is None:
                self.created_grids.add(saved_id(grid))
        return self.grids[row.grid_key]

    async def building(self, row: BuildingRow) -> None:
        """A building by compound and name; listed under another grid, it moves there."""
        grid = await self.grid(row)
        compound = self.compounds[(row.community, row.compound)]
        existing = await self.uow.places.building_named(saved_id(compound), row.building)
        changes: dict[str, Any] = {"grid_id": grid.id}
        if row.lat is not None:  # a blank position keeps the stored one
            changes.update(lat=row.lat, lon=row.lon)
        if existing is not None and existing.grid_id != grid.id:
            self.emptied_grids.add(existing.grid_id)
        await self._upsert(existing, Building(None, saved_id(grid), row.building, row.lat, row.lon), changes)

    async def place_grids(self) -> None:
        """Each grid sits at the mean of its buildings' positions, when any building has one."""
        planned = {g.id: g for g in self.grids.values()}
        others = [await self.uow.places.grid(i) for i in sorted(self.emptied_grids - planned.keys())]
        for grid in [*planned.values(), *others]:
            assert grid is not None  # a building of this import moved out of it: it is stored
            buildings = await self.uow.places.buildings_of_compound(grid.compound_id)
            position = _mean_position(b for b in buildings if b.grid_id == grid.id)
            if position is None or position == (grid.lat, grid.lon):
                continue
            await self._change(grid, {"lat": position[0], "lon": position[1]})
            if saved_id(grid) in self.created_grids:
                continue  # placing a new grid is part of creating it
            if grid.id in planned:
                self.report.recount("grids", "unchanged", "updated")
            else:
                self.report.count("grids", "updated")

    # -- members ---------------------------------------------------------------------------

    async def find_stored_grids(self) -> list[Problem]:
        """Members' grids that no building row defines must already be in the database."""
        problems = []
        planned = self.plan.grid_keys()
        for row in self.plan.members:
            if row.grid_key in planned or row.grid_key in self.stored_grids:
                continue
            found = await _stored_grid(self.uow, row)
            if found is None:
                problems.append(row.source.problem(
                    "grid", f"no grid {row.grid} in {row.community} {row.compound}, neither in the building "
                            f"rows nor in the database"))
            else:
                self.stored_grids[row.grid_key] = found
        return problems

    def _grid_of_member(self, row: MemberRow) -> tuple[int, int]:
        """The grid's id and its community's id."""
        if row.grid_key in self.grids:
            return saved_id(self.grids[row.grid_key]), saved_id(self.communities[row.community])
        grid, community_id = self.stored_grids[row.grid_key]
        return saved_id(grid), community_id

    async def member(self, rows: list[MemberRow]) -> None:
        """One person (keyed by phone) and a grid member grant for each grid their rows name."""
        first = rows[0]
        person = await self.uow.people.by_phone(first.phone)
        created = person is None
        if person is None:
            person = Person(None, first.name, phone=first.phone, created_at=self.now)
            await self.uow.people.add(person)
        changed = False if created else await self._rename(person, first.name)
        for row in rows:
            changed = await self._ensure_grant(person, row, created) or changed
        self.report.count("members", "created" if created else "updated" if changed else "unchanged")

    async def _rename(self, person: Person, name: str) -> bool:
        if person.display_name == name:
            return False
        before = {"display_name": person.display_name}
        person.display_name = name
        await self.uow.people.update(person)
        await record(self.uow, "person", person.id, "person_updated", self.now, None, before, {"display_name": name})
        return True

    async def _ensure_grant(self, person: Person, row: MemberRow, new_person: bool) -> bool:
        """An active grid member grant for the row's grid: added, or re-activated if revoked."""
        grid_id, community_id = self._grid_of_member(row)
        grants = [g for g in await self.uow.people.grants(saved_id(person))
                  if g.role == Role.GRID_MEMBER and g.grid_id == grid_id]
        if any(g.active for g in grants):
            return False
        before = _grant_view(grants[0]) if grants else None
        if grants:
            grant = grants[0]
            grant.status = GrantStatus.ACTIVE
            await self.uow.people.update_grant(grant)
        else:
            grant = RoleGrant(None, saved_id(person), Role.GRID_MEMBER, community_id=community_id,
                              grid_id=grid_id, created_at=self.now)
            await self.uow.people.add_grant(grant)
        after = _grant_view(grant)
        if new_person:
            after.update(display_name=person.display_name, phone=person.phone)
        await record(self.uow, "person", person.id, "grid_member_imported", self.now, None, before, after)
        return True


async def _stored_community(uow: UnitOfWork, row: BuildingRow) -> tuple[Community | None, int | None]:
    """The community of that name under that district and street, and the street's id, if stored."""
    district = await uow.places.district_named(row.district)
    street = await uow.places.street_named(saved_id(district), row.street) if district else None
    if street is None:
        return None, None
    return await uow.places.community_named(saved_id(street), row.community), street.id


async def _stored_grid(uow: UnitOfWork, row: MemberRow) -> tuple[Grid, int] | None:
    """A grid already in the database, found by community, compound and grid names."""
    for community in await uow.places.communities():
        if community.name != row.community:
            continue
        compound = await uow.places.compound_named(saved_id(community), row.compound)
        grid = await uow.places.grid_named(saved_id(compound), row.grid) if compound else None
        if grid is not None:
            return grid, saved_id(community)
    return None


async def _code_conflicts(uow: UnitOfWork, plan: OrgPlan) -> list[Problem]:
    """A community code already used by another stored community (codes are unique)."""
    stored = list(await uow.places.communities())
    problems = []
    for row in plan.communities().values():
        mine, _ = await _stored_community(uow, row)
        for other in stored:
            if other.code == row.community_code and (mine is None or other.id != mine.id):
                problems.append(row.source.problem(
                    "community_code", f"code {row.community_code} already belongs to {other.name} in the database"))
    return problems


def _members_by_phone(rows: Iterable[MemberRow]) -> dict[str, list[MemberRow]]:
    people: dict[str, list[MemberRow]] = {}
    for row in rows:
        people.setdefault(row.phone, []).append(row)
    return people


async def apply_plan(uow: UnitOfWork, plan: OrgPlan, now: datetime) -> ImportReport:
    """Upsert the plan's places and grid members by their names; the caller commits.

    Places are matched by name under their parent (a building by compound and name, so a building
    listed under another grid moves there, keeping its id); people by phone. Every creation and update
    is recorded as an event. Places and people missing from the files are NOT deleted or revoked: an
    import only adds and updates. Problems that need the database (a member's grid that neither the
    files nor the database know, a community code taken by another community) raise `OrgImportError`
    before anything is written.
    """
    run = _Import(uow, plan, now)
    problems = await _code_conflicts(uow, plan) + await run.find_stored_grids()
    if problems:
        raise OrgImportError(problems)
    for row in plan.buildings:
        await run.building(row)
    await run.place_grids()
    for rows in _members_by_phone(plan.members).values():
        await run.member(rows)
    return run.report
