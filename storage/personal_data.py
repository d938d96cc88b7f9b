"""A person's data, table by table: the consents record, /mydata's export and /forget's erasure.

Which columns hold a person is read from the schema, not listed by hand: every column with a foreign
key to `persons.id` is exported (`PERSON_COLUMNS`), so a new table that refers to a person is in the
export the day it is added. What holds a person without such a key is named here
(`BY_CHAT_ACCOUNT`: the dialog state, keyed by the Telegram user id) or left out with the reason
(`NOT_EXPORTED`); tests/test_personal_data.py walks the schema for any other column that looks like a
person's id and fails until it is covered or left out with a reason.

Erasure is core's decision (core/forget.py); this module does the rows: accounts, dialog state, inbox
and outbox rows of the person, their photos, and — the safety net — every text or JSON column of every
table rewritten where it contains their name, phone or a photo hash (`redact`).
"""

from __future__ import annotations

import json
from datetime import date, datetime, time
from typing import Any, Iterable, Sequence

from sqlalchemy import JSON, Column, MetaData, String, Table, Text, cast, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.cases import Case, PhotoKind
from core.consent import Consent
from core.personal_data import redact_value
from storage import case_tables as ct, tables as t, volunteer_tables as vt, wechat_tables  # noqa: F401 (its tables)
from storage.cases import SqlCases

# Tables whose rows name places: a row pointing at one gets the place's name beside the id.
_PLACE_NAMES = {"districts", "streets", "communities", "compounds", "grids", "buildings", "departments"}
# Holding a person without a foreign key: a chat account's id, per table — Telegram's user id in the
# dialog state; WeChat's OpenID / WeCom's UserID in the WeChat channel's tables, with the channel
# (or the app: "mp" = wechat, "work" = wecom) in a column beside it.
BY_CHAT_ACCOUNT: dict[str, tuple[str, ...]] = {"dialog_state": ("user_id", "chat_id")}
BY_WECHAT_ACCOUNT: dict[str, tuple[str, str]] = {
    "wechat_dialogs": ("user_id", "channel"), "wechat_contacts": ("user_id", "channel"),
    "wechat_sends": ("user_id", "channel"), "wechat_inbox": ("user_id", "app")}
_APP_CHANNEL = {"mp": "wechat", "work": "wecom"}
# Left out of the export, with the reason (the test requires one for anything not exported).
NOT_EXPORTED: dict[str, str] = {
    "inbox.raw": "updates exactly as Telegram delivered them, kept only to hand each one to the bot once; "
                 "what they asked for is in the other sections; deleted after a few days and by /forget",
}
# Columns never rewritten by `redact`: keys and hashes rows are found by; other people's names and
# phones (someone else may be called 王芳 too: the forgotten person's own row is rewritten by core);
# photo names still in use by someone else's report are not among the needles (core.forget).
_NOT_REDACTED = {("inbox", "digest"), ("outbox", "dedupe_key"), ("done_jobs", "key"),
                 ("persons", "display_name"), ("persons", "phone"), ("case_photos", "sha256"),
                 ("volunteer_claims", "check_in_photo"), ("volunteer_claims", "check_out_photo")}


def person_columns(metadata: MetaData = t.metadata) -> list[Column]:
    """Every column that refers to `persons.id`, in schema order."""
    found = []
    for table in metadata.sorted_tables:
        for column in table.columns:
            if any(fk.column.table.name == "persons" and fk.column.name == "id" for fk in column.foreign_keys):
                found.append(column)
    return found


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    return value


class SqlConsents:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, consent: Consent) -> None:
        result = await self.conn.execute(t.consents.insert().values(
            person_id=consent.person_id, purpose=consent.purpose.value, version=consent.version,
            channel=consent.channel, given_at=consent.given_at))
        consent.id = result.inserted_primary_key[0]

    async def of(self, person_id: int) -> list[Consent]:
        rows = await self.conn.execute(select(t.consents).where(t.consents.c.person_id == person_id)
                                       .order_by(t.consents.c.given_at, t.consents.c.id))
        return [Consent(r.id, r.person_id, r.purpose, r.version, r.channel, r.given_at) for r in rows]

    async def move(self, from_person_id: int, to_person_id: int) -> None:
        await self.conn.execute(update(t.consents).where(t.consents.c.person_id == from_person_id)
                                .values(person_id=to_person_id))


class SqlPersonalData:
    def __init__(self, conn: AsyncConnection, cases: SqlCases) -> None:
        self.conn = conn
        self.cases = cases

    # ---- /mydata ------------------------------------------------------------------------------

    async def _place_names(self) -> dict[str, dict[int, str]]:
        names: dict[str, dict[int, str]] = {}
        for name in _PLACE_NAMES:
            table = t.metadata.tables[name]
            names[name] = {r.id: r.name for r in await self.conn.execute(select(table.c.id, table.c.name))}
        return names

    def _row(self, table: Table, row: Any, places: dict[str, dict[int, str]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for column in table.columns:
            value = row._mapping[column.name]
            out[column.name] = _plain(value)
            for fk in column.foreign_keys:
                target = fk.column.table.name
                if target in places and value is not None:
                    out[f"{column.name}_name"] = places[target].get(value)
        return out

    async def held_about(self, person_id: int, external_ids: Sequence[tuple[str, str]]) -> dict[str, Any]:
        """Section per column that refers to the person ("cases.reporter_id": their reports …), the
        events about them and about the cases they reported, and their unfinished dialogs."""
        places = await self._place_names()
        sections: dict[str, list[dict[str, Any]]] = {}
        for column in person_columns():
            table = column.table
            stmt = select(table).where(column == person_id)
            if "id" in table.c:
                stmt = stmt.order_by(table.c.id)
            sections[f"{table.name}.{column.name}"] = [self._row(table, r, places)
                                                       for r in await self.conn.execute(stmt)]
        sections["persons.id"] = [self._row(t.persons, r, places) for r in
                                  await self.conn.execute(select(t.persons).where(t.persons.c.id == person_id))]
        e = t.events.c
        sections["events.subject (person)"] = [self._row(t.events, r, places) for r in await self.conn.execute(
            select(t.events).where(e.subject_type == "person", e.subject_id == str(person_id)).order_by(e.id))]
        numbers = [r.number for r in await self.conn.execute(
            select(ct.cases.c.number).where(ct.cases.c.reporter_id == person_id))]
        sections["events.subject (your reports)"] = [self._row(t.events, r, places) for r in await self.conn.execute(
            select(t.events).where(e.subject_type == "case", e.subject_id.in_(numbers)).order_by(e.id))] \
            if numbers else []
        telegram_ids = [int(x) for channel, x in external_ids if channel == "telegram" and x.lstrip("-").isdigit()]
        for name, columns in BY_CHAT_ACCOUNT.items():
            table = t.metadata.tables[name]
            rows = await self.conn.execute(select(table).where(table.c[columns[0]].in_(telegram_ids))) \
                if telegram_ids else []
            sections[name] = [self._row(table, r, places) for r in rows]
        for name, rows in (await self._wechat_rows(external_ids, places)).items():
            sections[name] = rows
        return {"sections": sections, "not_included": dict(NOT_EXPORTED)}

    def _wechat_filters(self, external_ids: Sequence[tuple[str, str]]) -> dict[str, Any]:
        """Per WeChat table, the condition that picks the person's accounts' rows (None: they have none)."""
        accounts = [(channel, x) for channel, x in external_ids if channel in ("wechat", "wecom")]
        found: dict[str, Any] = {}
        for name, (user_column, channel_column) in BY_WECHAT_ACCOUNT.items():
            table = t.metadata.tables[name]
            found[name] = or_(*[
                (table.c[user_column] == x) & (table.c[channel_column] == (
                    next(a for a, c in _APP_CHANNEL.items() if c == channel) if channel_column == "app" else channel))
                for channel, x in accounts]) if accounts else None
        return found

    async def _wechat_rows(self, external_ids: Sequence[tuple[str, str]],
                           places: dict[str, dict[int, str]]) -> dict[str, list[dict[str, Any]]]:
        sections: dict[str, list[dict[str, Any]]] = {}
        for name, condition in self._wechat_filters(external_ids).items():
            table = t.metadata.tables[name]
            sections[name] = [self._row(table, r, places) for r in await self.conn.execute(
                select(table).where(condition))] if condition is not None else []
        return sections

    # ---- /forget ------------------------------------------------------------------------------

    async def cases_reported(self, person_id: int) -> list[Case]:
        rows = await self.conn.execute(select(ct.cases).where(ct.cases.c.reporter_id == person_id)
                                       .order_by(ct.cases.c.id).with_for_update())
        return await self.cases._load(rows)

    async def erase_accounts(self, person_id: int, external_ids: Sequence[tuple[str, str]]) -> dict[str, int]:
        """The person's chat accounts, their unfinished dialogs, the updates they sent and every message
        to them, sent or not."""
        counts = {}
        counts["identities"] = (await self.conn.execute(
            delete(t.identities).where(t.identities.c.person_id == person_id))).rowcount
        counts["outbox"] = (await self.conn.execute(
            delete(t.outbox).where(t.outbox.c.person_id == person_id))).rowcount
        # an unused invite tied to them would let someone else become the anonymous person
        counts["invites"] = (await self.conn.execute(update(t.invites).where(
            t.invites.c.person_id == person_id, t.invites.c.revoked.is_(False)).values(revoked=True))).rowcount
        telegram_ids = {int(x) for channel, x in external_ids if channel == "telegram" and x.lstrip("-").isdigit()}
        counts["dialog_state"] = 0
        counts["inbox"] = 0
        if telegram_ids:
            d = t.dialog_state.c
            counts["dialog_state"] = (await self.conn.execute(delete(t.dialog_state).where(
                or_(d.user_id.in_(telegram_ids), d.chat_id.in_(telegram_ids))))).rowcount
            counts["inbox"] = await self._erase_inbox(telegram_ids)
        for name, condition in self._wechat_filters(external_ids).items():
            table = t.metadata.tables[name]
            counts[name] = (await self.conn.execute(delete(table).where(condition))).rowcount \
                if condition is not None else 0
        return counts

    async def _erase_inbox(self, telegram_ids: set[int]) -> int:
        """Updates from (or about a chat with) the person: found by their id in the JSON, then checked."""
        i = t.inbox.c
        text = cast(i.raw, Text)
        maybe = await self.conn.execute(select(i.update_id, i.raw).where(
            or_(*[text.contains(str(x), autoescape=True) for x in telegram_ids])))
        gone = [row.update_id for row in maybe if _from_any(row.raw, telegram_ids)]
        if gone:
            await self.conn.execute(delete(t.inbox).where(i.update_id.in_(gone)))
        return len(gone)

    async def erase_photos(self, person_id: int) -> list[str]:
        """The before-photos of the cases they reported and their check-in and check-out photos (with
        the check-in's location); the handler's photos of a fix stay. Returns the hashes taken away."""
        c, p = ct.cases.c, ct.case_photos.c
        mine = select(c.id).where(c.reporter_id == person_id).scalar_subquery()
        hashes = {r.sha256 for r in await self.conn.execute(
            select(p.sha256).where(p.case_id.in_(mine), p.kind == PhotoKind.BEFORE.value))}
        await self.conn.execute(delete(ct.case_photos).where(p.case_id.in_(mine), p.kind == PhotoKind.BEFORE.value))
        v = vt.volunteer_claims.c
        for row in await self.conn.execute(select(v.check_in_photo, v.check_out_photo).where(v.person_id == person_id)):
            hashes.update(h for h in (row.check_in_photo, row.check_out_photo) if h)
        await self.conn.execute(update(vt.volunteer_claims).where(v.person_id == person_id).values(
            check_in_photo=None, check_out_photo=None, check_in_lat=None, check_in_lon=None))
        return sorted(hashes)

    async def photos_in_use(self, sha256s: Sequence[str]) -> set[str]:
        if not sha256s:
            return set()
        p, v = ct.case_photos.c, vt.volunteer_claims.c
        used = {r[0] for r in await self.conn.execute(select(p.sha256).where(p.sha256.in_(sha256s)))}
        for column in (v.check_in_photo, v.check_out_photo):
            used |= {r[0] for r in await self.conn.execute(select(column).where(column.in_(sha256s)))}
        return used

    async def leave_joined_cases(self, person_id: int) -> list[str]:
        """Off every case they joined as "same problem"; the numbers of those cases."""
        m = ct.case_me_too.c
        numbers = [r.number for r in await self.conn.execute(
            select(ct.cases.c.number).join(ct.case_me_too, m.case_id == ct.cases.c.id).where(m.person_id == person_id))]
        await self.conn.execute(delete(ct.case_me_too).where(m.person_id == person_id))
        return numbers

    async def redact(self, needles: Sequence[str], replacement: str) -> dict[str, int]:
        """Every free-text and JSON column of every table (`_free_text`: codes, states and numbers are
        not searched), rewritten where a value holds one of `needles` (core.personal_data.redact_value
        decides what matches). Returns rows changed per table."""
        needles = [n for n in needles if n]
        if not needles:
            return {}
        changed: dict[str, int] = {}
        for table in t.metadata.sorted_tables:
            keys = list(table.primary_key.columns)
            for column in table.columns:
                if (table.name, column.name) in _NOT_REDACTED or column.primary_key:
                    continue
                is_json = isinstance(column.type, JSON)
                if not (is_json or _free_text(column)):
                    continue
                count = await self._redact_column(table, keys, column, is_json, needles, replacement)
                if count:
                    changed[table.name] = changed.get(table.name, 0) + count
        return changed

    async def _redact_column(self, table: Table, keys: list[Column], column: Column, is_json: bool,
                             needles: Sequence[str], replacement: str) -> int:
        if is_json:
            # JSON is kept as text with non-ASCII escaped (json.dumps): look for each needle that way
            text = cast(column, Text)
            forms = {json.dumps(n)[1:-1] for n in needles} | {json.dumps(n, ensure_ascii=False)[1:-1] for n in needles}
        else:
            text, forms = column, set(needles)
        stmt = select(*keys, column).where(or_(*[text.contains(f, autoescape=True) for f in forms]))
        count = 0
        for row in list(await self.conn.execute(stmt)):
            value = row._mapping[column.name]
            new = redact_value(value, needles, replacement)
            if new != value:
                await self.conn.execute(update(table).where(*[k == row._mapping[k.name] for k in keys])
                                        .values({column.name: new}))
                count += 1
        return count


# Shorter strings are codes (states, kinds, channels, numbers, hashes): no one writes a name in them.
FREE_TEXT_MIN_LENGTH = 100


def _free_text(column: Column) -> bool:
    """A column people's words can be in: TEXT, or a string column long enough for a sentence."""
    if isinstance(column.type, Text):
        return True
    return isinstance(column.type, String) and (column.type.length or FREE_TEXT_MIN_LENGTH) >= FREE_TEXT_MIN_LENGTH


def _from_any(raw: Any, ids: Iterable[int]) -> bool:
    """A Telegram update sent by, or in a private chat with, one of `ids`."""
    wanted = set(ids)
    found: list[int] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key in ("from", "chat", "user"):
                inner = value.get(key)
                if isinstance(inner, dict) and isinstance(inner.get("id"), int):
                    found.append(inner["id"])
            for inner in value.values():
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(raw)
    return bool(wanted & set(found))
