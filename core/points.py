"""Points ("积分制", "党员量化积分"): an append-only ledger per person and community.

Party members earn points for services confirmed as done; residents earn points for reports
that were confirmed useful (fixed), a number per category the community sets. Points are
spent at the community's points shop (Yushan's "公益超市"): staff record the redemption.

Rules decided here:

* Nothing is ever changed or deleted. A mistake is undone by a correction entry that
  reverses one earning (`correct`), once.
* A balance belongs to a person *in a community* (each community runs its own shop).
* No balance ever goes below zero: `spend` and `correct` refuse with "points.not_enough".
* The same earning is never credited twice: one entry per (person, community, reason, ref),
  so a retried job or a double press changes nothing but an "points.already_credited" error.
* The monthly leaderboard ranks what was *earned* in the month in the community (corrections
  count, spending does not: buying something at the shop must not cost a place). Equal
  totals share a rank (1, 2, 2, 4), listed by who reached the total first, then by person id;
  everyone tied at the last rank shown is shown.

What storage must do: a unique index on (person_id, community_id, reason, ref); and spend and
correct must not race — keep a balance row per (person, community) and save it with
`UPDATE … SET balance = balance - :n WHERE … AND balance >= :n` (no row changed: reload and
let `spend` refuse), or hold that row's lock from reading the entries to commit.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from core.cases import Actor, Case, Category, is_fixed
from core.errors import DomainError, NotAllowed
from core.events import Event
from core.volunteering.common import ClaimState
from core.volunteering.posts import Claim, Post
from core.workdays import CHINA_TZ

MAX_NOTE = 100

# Points for a report confirmed useful, per category; communities override this in settings.
DEFAULT_REPORT_POINTS: Mapping[str, int] = {c.value: 2 for c in Category}


class PointsReason(str, enum.Enum):
    SERVICE = "service"          # a confirmed volunteer service (party members)
    REPORT = "report"            # a report confirmed useful (residents)
    REDEMPTION = "redemption"    # spent at the points shop
    CORRECTION = "correction"    # staff undo an earning given by mistake


EARNINGS = frozenset({PointsReason.SERVICE, PointsReason.REPORT})


class NotEnoughPoints(DomainError):
    key = "points.not_enough"


class AlreadyCredited(DomainError):
    key = "points.already_credited"


class BadAmount(DomainError):
    key = "points.bad_amount"


class ItemRequired(DomainError):
    """A redemption names what was bought; a correction says why."""

    key = "points.item_required"


class NoteTooLong(DomainError):
    key = "points.note_too_long"


@dataclass(frozen=True)
class PointsEntry:
    person_id: int
    community_id: int
    delta: int                   # positive earned, negative spent or corrected
    reason: PointsReason
    ref: str                     # what it is for: "claim:DC-GW-2026-000007:12", "case:DC-2026-000123", a receipt
    at: datetime
    by: int | None = None        # who recorded it; None: the system
    note: str = ""               # the shop item, the correction's reason
    id: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", PointsReason(self.reason))


@dataclass(frozen=True)
class LeaderboardRow:
    rank: int
    person_id: int
    points: int


class Ledger:
    """The entries loaded for the people concerned; new ones wait in `pending` for storage.

    There is no way to change or remove an entry: only `earn`, `spend` and `correct` add.
    """

    def __init__(self, entries: Iterable[PointsEntry] = ()) -> None:
        self._entries: list[PointsEntry] = list(entries)
        self.pending: list[PointsEntry] = []
        self.pending_events: list[Event] = []

    @property
    def entries(self) -> tuple[PointsEntry, ...]:
        return tuple(self._entries)

    def balance(self, person_id: int, community_id: int) -> int:
        return balance(self._entries, person_id, community_id)

    def history(self, person_id: int, community_id: int) -> list[PointsEntry]:
        """The person's entries in the community, newest first."""
        mine = [e for e in self._entries if e.person_id == person_id and e.community_id == community_id]
        return sorted(mine, key=lambda e: e.at, reverse=True)

    def find(self, person_id: int, community_id: int, reason: PointsReason, ref: str) -> PointsEntry | None:
        return next((e for e in self._entries if (e.person_id, e.community_id, e.reason, e.ref)
                     == (person_id, community_id, reason, ref)), None)

    def _append(self, entry: PointsEntry, kind: str, actor_id: int | None, before: int) -> PointsEntry:
        if self.find(entry.person_id, entry.community_id, entry.reason, entry.ref) is not None:
            raise AlreadyCredited(reason=entry.reason.value, ref=entry.ref)
        self._entries.append(entry)
        self.pending.append(entry)
        after: dict[str, Any] = {"balance": before + entry.delta, "delta": entry.delta,
                                 "reason": entry.reason.value, "ref": entry.ref}
        self.pending_events.append(Event("points", f"{entry.community_id}:{entry.person_id}", kind, entry.at,
                                         actor_id, {"balance": before}, after))
        return entry


def balance(entries: Iterable[PointsEntry], person_id: int | None = None, community_id: int | None = None) -> int:
    """The sum of the entries, narrowed to one person and/or one community when given."""
    return sum(e.delta for e in entries
               if (person_id is None or e.person_id == person_id)
               and (community_id is None or e.community_id == community_id))


def earn(ledger: Ledger, person_id: int, community_id: int, points: int, reason: PointsReason, ref: str,
         now: datetime, *, by: int | None = None, note: str = "") -> PointsEntry:
    """Credit points for a confirmed service or a useful report; the same `ref` only once.

    The service decides that the thing was confirmed (see `points_for_service`,
    `points_for_report`) and skips an earning worth zero points.
    """
    reason = PointsReason(reason)
    if reason not in EARNINGS:
        raise ValueError("earn is for services and reports; use spend or correct")
    _check_amount(points)
    before = ledger.balance(person_id, community_id)
    entry = PointsEntry(person_id, community_id, points, reason, ref, now, by, _note(note))
    return ledger._append(entry, "points_earned", by, before)


def spend(ledger: Ledger, by: Actor, person_id: int, community_id: int, points: int, item: str,
          now: datetime, *, ref: str) -> PointsEntry:
    """Staff of the community record a redemption at the points shop; never below zero.

    `ref` names this redemption (a receipt number, or the bot's message id), so pressing
    twice records it once: a repeat is AlreadyCredited, even when the balance left after the
    first could not pay for it again.
    """
    if not by.roles.is_staff_of(community_id):
        raise NotAllowed(action="points.spend")
    _check_amount(points)
    item = _note(item)
    if not item:
        raise ItemRequired()
    if ledger.find(person_id, community_id, PointsReason.REDEMPTION, ref) is not None:
        raise AlreadyCredited(reason=PointsReason.REDEMPTION.value, ref=ref)
    before = ledger.balance(person_id, community_id)
    if before < points:
        raise NotEnoughPoints(balance=before, wanted=points)
    entry = PointsEntry(person_id, community_id, -points, PointsReason.REDEMPTION, ref, now, by.person_id, item)
    return ledger._append(entry, "points_spent", by.person_id, before)


def correct(ledger: Ledger, by: Actor, entry: PointsEntry, note: str, now: datetime) -> PointsEntry:
    """Staff undo one earning given by mistake, with a reason; refused if already spent."""
    if not by.roles.is_staff_of(entry.community_id):
        raise NotAllowed(action="points.correct")
    if entry.reason not in EARNINGS or entry not in ledger.entries:
        raise ValueError("only an earning in this ledger can be corrected")
    note = _note(note)
    if not note:
        raise ItemRequired()
    ref = f"{entry.reason.value}:{entry.ref}"
    if ledger.find(entry.person_id, entry.community_id, PointsReason.CORRECTION, ref) is not None:
        raise AlreadyCredited(reason=PointsReason.CORRECTION.value, ref=ref)
    before = ledger.balance(entry.person_id, entry.community_id)
    if before < entry.delta:
        raise NotEnoughPoints(balance=before, wanted=entry.delta)
    reversal = PointsEntry(entry.person_id, entry.community_id, -entry.delta, PointsReason.CORRECTION, ref, now,
                           by.person_id, note)
    return ledger._append(reversal, "points_corrected", by.person_id, before)


def points_for_service(claim: Claim, post: Post) -> int:
    """What a confirmed claim earns: the post's points per person; nothing before confirmation."""
    if claim.post_number != post.number:
        raise ValueError("the claim is not on this post")
    return post.points_per_person if claim.state == ClaimState.CONFIRMED else 0


def service_ref(claim: Claim) -> str:
    return f"claim:{claim.post_number}:{claim.person_id}"


def points_for_report(case: Case, table: Mapping[str, int] = DEFAULT_REPORT_POINTS) -> int:
    """What the reporter earns for a report confirmed useful (fixed); rejected and merged earn 0.

    `table` maps a category's value to points; a "default" entry covers categories left out.
    """
    if not is_fixed(case):
        return 0
    points = table.get(case.category.value, table.get("default", 0))
    if points < 0:
        raise ValueError("report points must not be negative")
    return points


def report_ref(case: Case) -> str:
    return f"case:{case.number}"


def month_bounds(year: int, month: int, tz: ZoneInfo = CHINA_TZ) -> tuple[datetime, datetime]:
    """The month as [start, end) in local time: midnight of the 1st to midnight of the next 1st."""
    start = datetime(year, month, 1, tzinfo=tz)
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return start, datetime.combine(following, datetime.min.time(), tzinfo=tz)


def monthly_leaderboard(entries: Sequence[PointsEntry], community_id: int, year: int, month: int,
                        top: int = 10, tz: ZoneInfo = CHINA_TZ) -> list[LeaderboardRow]:
    """Who earned most in the community this month (see the module's rule on ties)."""
    if top < 1:
        return []
    start, end = month_bounds(year, month, tz)
    totals: dict[int, int] = {}
    reached: dict[int, datetime] = {}
    for e in sorted(entries, key=lambda e: e.at):
        if e.community_id != community_id or e.reason == PointsReason.REDEMPTION or not start <= e.at < end:
            continue
        totals[e.person_id] = totals.get(e.person_id, 0) + e.delta
        reached[e.person_id] = e.at
    ranked = sorted((p for p, t in totals.items() if t > 0), key=lambda p: (-totals[p], reached[p], p))
    rows: list[LeaderboardRow] = []
    for i, person in enumerate(ranked):
        rank = rows[-1].rank if rows and rows[-1].points == totals[person] else i + 1
        if rank > top:
            break
        rows.append(LeaderboardRow(rank, person, totals[person]))
    return rows


def earned_between(entries: Iterable[PointsEntry], person_id: int, start: datetime, end: datetime,
                   community_id: int | None = None) -> int:
    """Points earned (net of corrections, spending left out) in [start, end)."""
    return sum(e.delta for e in entries
               if e.person_id == person_id and e.reason != PointsReason.REDEMPTION and start <= e.at < end
               and (community_id is None or e.community_id == community_id))


def _check_amount(points: int) -> None:
    if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
        raise BadAmount(points=points)


def _note(text: str | None) -> str:
    text = " ".join((text or "").split())
    if len(text) > MAX_NOTE:
        raise NoteTooLong(max=MAX_NOTE)
    return text

