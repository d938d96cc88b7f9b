"""The WeChat conversation: what a resident, a party member or a grid member says on WeChat, answered.

`Conversation.handle(incoming)` turns one `Incoming` (already verified and decrypted by the protocol
layer) into the `Reply`s to send back. It is a channel like bot/: it parses, calls one core command or
query, and words the answer from texts/; it decides nothing. No buttons on WeChat: every choice is a
numbered line ("1. ✅ 受理") and the answer is the number (wechat/menus.py); the Official Account's
custom menu sends CLICK events for the main entries, and the same words typed work too.

One message is one unit of work. The person behind the account (core.consent_services: nothing is kept
of a newcomer until they agree to the privacy notice, answered here with 1 / 2), the effects
of the core call, the outbox rows it adds and the dialog row (storage/wechat_dialogs.py: the state,
what the numbers of the last reply mean, the unfinished report's photos) commit together. The dialog
row also keeps the last message's de-dup key and what was answered: the same message handled again
(WeChat retries; a restart) gets the same answer and repeats nothing.

Numbers that answer a notification (a fix to confirm, a case to accept) are not in the dialog: the
renderer cannot write it (delivery renders in a read-only unit of work). A bare number outside a
dialog is matched against what core says is waiting for this person's answer
(`cases_services.awaiting_answer`): one question — the number answers it; several — the person picks
one first. A number from a menu this conversation showed answers that menu, unless a case asked
something newer since.

One account's messages are handled one at a time in this process (a lock per account), so photos sent
together all land in the dialog. The protocol half runs in the one bot process; several processes
answering the same account at once would need the dialog row locked (SELECT … FOR UPDATE) as well.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any, Protocol

from core import cases_services, points_services
from core.binding_services import bind_account, issue_bind_code, roster_named
from core.cases import MAX_DESCRIPTION, MAX_PHOTOS_PER_KIND, Actor, Case, Category, NotFixedReason, PhotoKind, PhotoRef
from core.cases import check as check_case
from core.cases import lacks_proof
from core.cases_services import ReportPolicy
from core.clock import Clock
from core.door_code_services import open_door
from core.door_codes import BadDoorCode, looks_like_door_code, verify
from core.errors import DomainError
from core.limits_services import may_report
from core.ids import saved_id
from core.proof import SkipReason
from core.consent import PrivacyPolicy, needs_location_consent
from core.consent_services import Arrival, agree, agree_to_location, arrive, privacy_view
from core.onboarding import register_resident, roles_of, set_language
from core.people import Account, Person, Role, Roles
from core.places import nearest_buildings
from core.volunteering import orders_services, posts_services
from core.volunteering.common import MAX_DESCRIPTION as ORDER_MAX_DESCRIPTION
from core.volunteering.common import MAX_PLACE, MAX_SHORT_TEXT, PostFull, PostState, ServiceKind
from core.volunteering.common_services import VolunteerPolicy
from media.card import case_card
from media.photos import PhotoStore
from storage.uow import Database, SqlUnitOfWork
from storage.wechat_dialogs import DialogRow, SqlWeChatDialogs
from texts import Translator, moment_text
from texts.cases import card_words, case_history
from texts.privacy import notice_text
from texts.refusals import refusal_text
from texts.volunteering import post_text
from wechat.menus import HANDLER_OPTIONS, ORDER_TIMES, QUESTION_OPTIONS, for_wechat, numbered, word_of
from wechat.messages import Incoming, Reply

from wechat.geo import gcj02_to_wgs84

log = logging.getLogger(__name__)

DIALOG_TIMEOUT = timedelta(minutes=30)  # an unfinished step older than this starts over
POINTS_HISTORY = 5
_BIND = re.compile(r"^(?:绑定|bind)\s*([0-9０-９\s]{6,12})$", re.IGNORECASE)
_BIND_CODE = re.compile(r"^(?:绑定码|bindcode|bind code)\s*(.*)$", re.IGNORECASE)
SOFT = "menu"  # the state of a reply's menu that is no step of a dialog: a newer question wins over it


class MediaSource(Protocol):
    """Where a photo's bytes come from: the protocol half downloads with media/get (temporary media
    expire in 3 days, so at once); the tests give a fake."""

    async def download(self, app: str, media_id: str) -> bytes: ...


@dataclass
class _Dialog:
    state: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


class Conversation:
    def __init__(self, db: Database, photos: PhotoStore, media: MediaSource, policy: ReportPolicy,
                 volunteer_policy: VolunteerPolicy, clock: Clock, *, tz: tzinfo, default_language: str = "zh",
                 nearest_building_max_m: float = 300, timeout: timedelta = DIALOG_TIMEOUT,
                 privacy: PrivacyPolicy | None = None, door_secret: bytes = b"") -> None:
        self.db, self.photos, self.media = db, photos, media
        self.door_secret = door_secret   # checks the scene strings of scanned door cards (core/door_codes.py)
        # a newcomer's scanned door card waits here, in this process only, while they read the notice
        # (nothing of theirs is written before they agree); elsewhere they simply choose their building
        self._door_waiting: dict[tuple[str, str], str] = {}
        self.privacy = privacy or PrivacyPolicy()
        self.policy, self.volunteer_policy, self.clock = policy, volunteer_policy, clock
        self.tz, self.default_language = tz, default_language
        self.max_m, self.timeout = nearest_building_max_m, timeout
        self._turns: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}

    async def handle(self, incoming: Incoming) -> list[Reply]:
        """One account's messages one at a time, in the order they came (three photos sent at once are
        three messages, each adding to the same dialog); other accounts' go on meanwhile."""
        key = (incoming.channel, incoming.user)
        lock, waiting = self._turns.get(key, (asyncio.Lock(), 0))
        self._turns[key] = (lock, waiting + 1)
        try:
            async with lock:
                return await self._handle(incoming)
        finally:
            lock, waiting = self._turns[key]
            if waiting == 1:
                del self._turns[key]
            else:
                self._turns[key] = (lock, waiting - 1)

    def _tr(self, person: Person | None) -> Translator:
        return Translator((person.language if person else None) or self.default_language)

    async def _at_the_door(self, uow: SqlUnitOfWork, incoming: Incoming, arrival: Arrival,
                           now: datetime) -> Account | list[Reply]:
        """PIPL: the notice before anything else; nothing of a newcomer is written until they answer 1.
        Their agreement is the first thing kept (core.consent_services.agree); 2 keeps nothing."""
        person = arrival.account.person if arrival.account is not None else None
        tr = self._tr(person)
        answer = incoming.text.strip().lower() if incoming.kind == "text" else ""
        if answer in _AGREE:
            name = f"微信用户{incoming.user[-4:]}" if incoming.app == "mp" else incoming.user
            account = await agree(uow, self.privacy, incoming.channel, incoming.user, incoming.user, name, now)
            await uow.commit()
            return account
        if answer in _DISAGREE:
            self._door_waiting.pop((incoming.channel, incoming.user), None)
            return [Reply(text=for_wechat(tr("privacy.refused" if person is None else "privacy.refused_known"), tr))]
        scene = door_scene(incoming)
        if scene and looks_like_door_code(scene):
            try:
                verify(scene, self.door_secret)
            except BadDoorCode:  # forged or altered: said, and not kept for after the notice
                return [Reply(text=for_wechat(tr(BadDoorCode.key), tr))]
            waiting = self._door_waiting
            waiting.pop((incoming.channel, incoming.user), None)
            waiting[(incoming.channel, incoming.user)] = scene
            while len(waiting) > DOOR_WAITING_MAX:  # the oldest unanswered scans go first
                waiting.pop(next(iter(waiting)))
        lines = [] if person is None else [tr("privacy.notice_again")]
        lines += [notice_text(tr, self.privacy), numbered(tr, [tr("privacy.agree"), tr("privacy.disagree")])]
        return [Reply(text=for_wechat("\n\n".join(lines), tr))]

    @staticmethod
    def _location_question(tr: Translator) -> str:
        """A precise location is sensitive: the first one shared is not used; asked once, separately."""
        return "\n".join([tr("location.ask"), tr("wechat.location.answer_with")])

    async def _handle(self, incoming: Incoming) -> list[Reply]:
        now = self.clock.now()
        channel, user = incoming.channel, incoming.user
        async with self.db.uow() as uow:
            arrival = await arrive(uow, self.privacy, channel, user, now)
            if arrival.changed:
                await uow.commit()  # reachable again is kept even if what follows is refused
            if arrival.must_agree:
                door = await self._at_the_door(uow, incoming, arrival, now)
                if isinstance(door, list):
                    return door
                account, incoming = door, _greeting(incoming)  # agreed: greeted as a first contact is
                waiting = self._door_waiting.pop((channel, user), None)
                if waiting:  # they came by a door card: that building, one answer away
                    incoming = _scanned(incoming, waiting)
            else:
                assert arrival.account is not None
                account = arrival.account
            if incoming.kind == "location" and needs_location_consent(account.person):
                return [Reply(text=self._location_question(self._tr(account.person)))]  # not used, nor kept
            if incoming.kind == "text" and incoming.text.strip().lower() in _LOCATION_ANSWERS:
                tr = self._tr(account.person)
                if not _LOCATION_ANSWERS[incoming.text.strip().lower()]:
                    return [Reply(text=tr("wechat.location.refused"))]
                await agree_to_location(uow, self.privacy, account.person, channel, now)
                await uow.commit()
                return [Reply(text=tr("location.agreed"))]
            dialogs = SqlWeChatDialogs(_conn(uow))
            await dialogs.lock(channel, user, now)  # another process handling this account waits (PostgreSQL)
            row = await dialogs.get(channel, user)
            last = row.data.get("last") or {}
            if last.get("key") == incoming.dedupe_key:  # handled already: the same answer, no effects again
                return [Reply(text=t) for t in last.get("replies", [])]
            turn = _Turn(self, uow, incoming, account, _restore(row, now, self.timeout), now)
            try:
                await turn.run()
            except DomainError as refusal:
                await uow.rollback()
                log.info("refused %s for person %s: %s", type(refusal).__name__, account.person.id, refusal)
                turn.replies = [Reply(text=refusal_text(turn.tr, refusal, self.tz, now))]
                turn.dialog = _restore(row, now, self.timeout)  # the dialog stays where it was
                turn.dialog.data.pop("expired", None)
            except Exception:
                await uow.rollback()
                log.exception("WeChat message %s failed for person %s", incoming.dedupe_key, account.person.id)
                return [Reply(text=turn.tr("error.generic"))]
            replies = turn.merged()
            data = {**turn.dialog.data, "last": {"key": incoming.dedupe_key,
                                                 "replies": [r.text for r in replies if r.text]}}
            await dialogs.put(channel, user, turn.dialog.state, data, now)
            await uow.commit()
            return replies


DOOR_WAITING_MAX = 10_000  # scanned door cards waiting for their newcomer's answer to the notice, per process
_AGREE = {"1", "同意", "agree", "yes"}  # answers to the privacy notice
_DISAGREE = {"2", "不同意", "disagree", "no"}
_LOCATION_ANSWERS = {"同意位置": True, "agree location": True, "不用位置": False, "no location": False}


def door_scene(incoming: Incoming) -> str:
    """The scene string of a scanned Official Account QR code: a subscribe event's EventKey is
    `qrscene_<scene>`, a SCAN event's (someone following already) is `<scene>`."""
    if incoming.kind != "event" or incoming.event not in ("subscribe", "scan"):
        return ""
    return incoming.event_key.strip().removeprefix("qrscene_")


def _scanned(incoming: Incoming, scene: str) -> Incoming:
    """The greeting after agreeing, for someone who came by a door card: as if they had just scanned it."""
    return Incoming(app=incoming.app, user=incoming.user, kind="event", create_time=incoming.create_time,
                    event="scan", event_key=scene)


def _greeting(incoming: Incoming) -> Incoming:
    """After agreeing, the person is greeted as on following the account (the "1" answered the notice)."""
    return Incoming(app=incoming.app, user=incoming.user, kind="event", create_time=incoming.create_time,
                    event="subscribe" if incoming.app == "mp" else "enter_agent")


def _conn(uow: Any) -> Any:
    assert isinstance(uow, SqlUnitOfWork) and uow.conn is not None
    return uow.conn


def _restore(row: DialogRow, now: datetime, timeout: timedelta) -> _Dialog:
    data = {k: v for k, v in row.data.items() if k not in ("last", "expired")}
    if row.state and row.updated_at is not None and now - row.updated_at > timeout:
        return _Dialog(None, {"expired": row.state != SOFT})
    return _Dialog(row.state, data)


def _family(state: str | None) -> str | None:
    """The dialog a state belongs to: "report.place" → "report"."""
    return state.split(".")[0] if state else None


def _number(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() and len(text) <= 3 else None


class _Turn:
    """One message: its unit of work, the person, their dialog, and what we say back."""

    def __init__(self, conv: Conversation, uow: SqlUnitOfWork, incoming: Incoming, account: Account,
                 dialog: _Dialog, now: datetime) -> None:
        self.c, self.uow, self.incoming, self.now = conv, uow, incoming, now
        self.person: Person = account.person
        self.roles: Roles = account.roles
        self.dialog = dialog
        self.tr = Translator(self.person.language or conv.default_language)
        self.replies: list[Reply] = []

    # ---- saying things -----------------------------------------------------------------------------

    def say(self, text: str) -> None:
        self.replies.append(Reply(text=for_wechat(text, self.tr)))

    def show(self, image: bytes) -> None:
        self.replies.append(Reply(image=image))

    def ask(self, intro: str, options: list[tuple[str, str, str]], state: str = SOFT, *, listed: bool = True,
            **data: Any) -> None:
        """`intro`, then numbered `options` (label, action, arg); the numbers mean them from now on. A step
        of the same dialog keeps the dialog's data; `listed=False` when `intro` already names the numbers."""
        lines = numbered(self.tr, [label for label, _, _ in options]) if listed else ""
        self.say("\n".join(part for part in (intro, lines) if part))
        keep = self.dialog.data if state != SOFT and _family(state) == _family(self.dialog.state) else {}
        kept = {k: v for k, v in keep.items() if k not in ("menu", "menu_at")}
        self.dialog = _Dialog(state, {**kept, **data, "menu": [[a, arg] for _, a, arg in options],
                                      "menu_at": self.now.isoformat()})

    def step(self, state: str | None, **data: Any) -> None:
        """Go to `state` keeping the dialog's data (plus `data`); no numbers mean anything there."""
        kept = {k: v for k, v in self.dialog.data.items() if k not in ("menu", "menu_at")}
        self.dialog = _Dialog(state, {**kept, **data})

    def end(self) -> None:
        self.dialog = _Dialog()

    def merged(self) -> list[Reply]:
        """Adjacent texts as one message: WeChat counts messages (5 per 48 h outside a reply)."""
        out: list[Reply] = []
        for reply in self.replies:
            if reply.text is not None and out and out[-1].text is not None:
                out[-1] = Reply(text=f"{out[-1].text}\n\n{reply.text}")
            else:
                out.append(reply)
        return out

    @property
    def actor(self) -> Actor:
        return Actor(saved_id(self.person), self.roles)

    def when(self, moment: datetime | None) -> str:
        return moment_text(self.tr.lang, moment, self.c.tz, self.now)

    # ---- the message -------------------------------------------------------------------------------

    async def run(self) -> None:
        m = self.incoming
        if self.dialog.data.pop("expired", False):
            self.say(self.tr("wechat.dialog_expired"))
        if m.kind == "event":
            await self.on_event()
            return
        text = m.text.strip()
        if m.kind == "text" and await self.on_command(text):
            return
        state = self.dialog.state
        if state and state != SOFT:
            await self.in_step(state, text)
            return
        await self.idle(text)

    async def on_event(self) -> None:
        m = self.incoming
        scene = door_scene(m)
        if scene and looks_like_door_code(scene) and m.app == "mp":
            await self.door(scene)
        elif m.event == "subscribe" or m.event == "enter_agent" and not self.roles.names:
            await self.welcome()
        elif m.event == "click":
            await self.entry(m.event_key.strip().upper())
        # other events (unsubscribe, view, location reports) need no answer

    async def on_command(self, text: str) -> bool:
        """What works from anywhere: cancel, language, binding, help and the menu's entries."""
        if (found := _BIND.match(text)) is not None:
            await self.bind(found.group(1))
            return True
        if (found := _BIND_CODE.match(text)) is not None:
            await self.bind_code(found.group(1).strip())
            return True
        word = word_of(text)
        if word is None:
            return False
        if word == "CANCEL":
            had = self.dialog.state is not None
            self.end()
            self.say(self.tr("cancel.done" if had else "cancel.nothing"))
        elif word in ("LANG_EN", "LANG_ZH"):
            await set_language(self.uow, self.person, "en" if word == "LANG_EN" else "zh", self.now)
            self.tr = Translator(self.person.language or "zh")
            self.say(self.tr("lang.set"))
        else:
            await self.entry(word)
        return True

    async def entry(self, key: str) -> None:
        self.end()
        entries = {"REPORT": self.start_report, "MY_REPORTS": self.my_reports, "MY_CASES": self.my_cases,
                   "DESK": self.desk, "POSTS": self.posts, "POINTS": self.points, "ORDER": self.order,
                   "REGISTER": self.register, "HELP": self.help, "PRIVACY": self.privacy,
                   "MYDATA": self.elsewhere, "FORGET": self.elsewhere}
        action = entries.get(key)
        if action is None:
            self.say(self.tr("wechat.unknown"))
            return
        await action()

    async def privacy(self) -> None:
        """The notice again, with what this person agreed to (as /privacy on Telegram)."""
        view = await privacy_view(self.uow, self.c.privacy, self.person)
        lines = [notice_text(self.tr, self.c.privacy), "",
                 self.tr("privacy.your_consents") if view.consents else self.tr("privacy.no_consents")]
        lines += [self.tr("privacy.consent_line", purpose=self.tr(f"privacy.purpose.{c.purpose.value}"),
                          version=c.version, at=moment_text(self.tr.lang, c.given_at, self.c.tz, self.now),
                          channel=c.channel) for c in view.consents]
        self.say(for_wechat("\n".join(lines), self.tr))

    async def elsewhere(self) -> None:
        """A copy of one's data (a file) and deletion are on Telegram or at the community office for now."""
        self.say(self.tr("wechat.privacy.elsewhere"))

    async def idle(self, text: str) -> None:
        m = self.incoming
        number = _number(text) if m.kind == "text" else None
        if number is not None:
            await self.answer_number(number)
        elif m.kind == "image" and self.roles.has(Role.RESIDENT):
            await self.start_report()
        elif not self.roles.names and m.kind == "location" and m.app == "mp":
            await self.nearest("home")
        elif not self.roles.names:
            await self.welcome()
        else:
            self.say(self.tr("wechat.unknown"))

    async def in_step(self, state: str, text: str) -> None:
        m = self.incoming
        number = _number(text) if m.kind == "text" else None
        if state == "report.photos":
            if m.kind == "image":
                await self.report_photo()
            elif number == 1:
                await self.report_category()
            else:
                self.say(self.tr("wechat.report.photo_expected"))
        elif m.kind == "voice" and state in ("report.words", "order.words", "case.why") and not (
                state == "report.words" and text):
            # voice notes are kept on Telegram only for now (WeChat sends AMR, which a Telegram grid member
            # cannot play without converting it); WeChat's own transcript, when the account has speech
            # recognition on, is taken as typed words at the report's words step
            self.say(self.tr("wechat.voice.not_supported"))
        elif state == "report.words" and m.kind in ("text", "voice") and number != 1:
            if len(text) > MAX_DESCRIPTION:
                self.say(self.tr("report.words_too_long", max=MAX_DESCRIPTION))
                return
            self.step("report.summary", description=text)
            await self.report_summary()
        elif state == "report.words" and number != 1:
            self.say(self.tr("wechat.report.words_expected"))
        elif state in ("order.words", "order.when", "order.place") and m.kind == "text" and (
                number is None or not self.dialog.data.get("menu")):
            step = {"order.words": self.order_words, "order.when": self.order_when, "order.place": self.order_place}
            await step[state](text)
        elif state in ("onboard", "report.place") and m.kind == "location":
            await self.nearest("home" if state == "onboard" else "place")
        elif state == "case.rate":
            if number is not None and 1 <= number <= 5:
                await self.rate(number)
            else:
                self.say(self.tr("wechat.case.ask_rating"))
        elif state == "case.why" and m.kind == "text" and number is None:
            if len(text) > MAX_DESCRIPTION:
                self.say(self.tr("report.words_too_long", max=MAX_DESCRIPTION))
                return
            await self.not_fixed(NotFixedReason.OTHER, text)
        elif state in ("case.during", "case.after"):
            if m.kind == "image":
                await self.handler_photo(state)
            else:
                self.say(self.tr("wechat.case.photo_expected"))
        elif state == "case.note":
            if m.kind == "text" and text:
                await self.resolve(text)
            else:
                self.say(self.tr("case.ask_note"))
        elif number is not None:
            await self.choose(number)
        else:
            self.say(self.tr("wechat.menu.unknown_number", max=len(self.dialog.data.get("menu") or [])))

    # ---- numbers -----------------------------------------------------------------------------------

    async def answer_number(self, number: int) -> None:
        """A bare number: the menu we showed last, unless a case asked this person something since."""
        questions = await cases_services.awaiting_answer(self.uow, self.actor, self.now, self.c.policy)
        menu_at = self.dialog.data.get("menu_at")
        shown = datetime.fromisoformat(menu_at) if menu_at else None
        if self.dialog.data.get("menu") and (not questions or shown is not None and shown >= questions[0].case.updated_at):
            await self.choose(number)
        elif len(questions) == 1:
            options = QUESTION_OPTIONS[questions[0].kind]
            if not 1 <= number <= len(options):
                self.ask_question(questions[0].case, questions[0].kind)
                return
            await self.act(options[number - 1][0], questions[0].case.number)
        elif questions:
            self.ask(self.tr("wechat.pick_question", count=len(questions)),
                     [(self.tr(f"wechat.question.{q.kind}", number=q.case.number), "question", q.case.number)
                      for q in questions])
        else:
            self.say(self.tr("wechat.nothing_to_answer"))

    async def choose(self, number: int) -> None:
        menu = self.dialog.data.get("menu") or []
        if not 1 <= number <= len(menu):
            self.say(self.tr("wechat.menu.unknown_number", max=len(menu)) if menu else self.tr("wechat.nothing_to_answer"))
            return
        action, arg = menu[number - 1]
        await self.act(action, arg)

    async def act(self, action: str, arg: str) -> None:
        """One numbered answer. `arg` (a case or post number, a building id) is a claim core checks."""
        n = arg
        if action in ("community", "compound"):
            await (self.pick_compound(int(arg)) if action == "community" else self.pick_building(int(arg)))
        elif action == "by_hand":
            await self.register()
        elif action == "home":
            await self.settle(int(arg))
        elif action == "next":
            await self.report_category()
        elif action == "category":
            self.step("report.place", category=Category(arg).value)
            if self.dialog.data.get("building_id"):  # placed by a scanned door card
                await self.report_words()
            else:
                await self.report_place()
        elif action == "place_other":
            await self.report_buildings()
        elif action == "place":
            self.step("report.words", building_id=int(arg))
            await self.report_words()
        elif action == "skip":
            self.step("report.summary", description="")
            await self.report_summary()
        elif action == "confirm":
            await self.report_confirm()
        elif action == "edit":
            self.step("report.category", building_id=None)
            await self.report_category()
        elif action == "join":
            await self.report_join(n)
        elif action == "question":
            case = await self._case(n)
            kind = self.question_on(case)
            if kind is None:
                self.say(self.tr("wechat.nothing_to_answer"))
            else:
                self.ask_question(case, kind)
        elif action in ("fixed", "notfixed"):
            await self.outcome(n, action == "fixed")
        elif action == "why":
            await self.not_fixed(NotFixedReason(arg) if arg else None, "")
        elif action == "history":
            await self.history(n)
        elif action == "accept":
            case = await cases_services.accept_case(self.uow, self.actor, n, self.now)
            self.say(self.tr("case.accepted_by_you", number=n))
            self.offer_handler_options(case)
        elif action == "not_mine":
            await cases_services.not_mine(self.uow, self.actor, n, self.now)
            self.end()
            self.say(self.tr("case.not_mine_done", number=n))
        elif action == "claim":
            case = await cases_services.claim_escalation(self.uow, self.actor, n, self.now)
            self.say(self.tr("case.claimed_done", number=n))
            self.offer_handler_options(case)
        elif action in ("during", "resolve"):
            await cases_services.check_case_action(self.uow, self.actor, n, action)  # refused before a photo is asked
            self.step("case.during" if action == "during" else "case.after", number=n)
            self.say(self.tr("case.ask_during_photo" if action == "during" else "case.ask_after_photo"))
        elif action == "assign":
            number, person_id = arg.split("|")
            await cases_services.reassign(self.uow, self.actor, number, int(person_id), self.now)
            self.end()
            self.say(self.tr("case.assigned_done", number=number))
        elif action == "reopen":
            await cases_services.reopen_after_auto_close(self.uow, self.actor, n, self.now, policy=self.c.policy)
            self.end()
            self.say(self.tr("case.reopened_done", number=n))
        elif action in ("order_kind", "order_skip", "order_when", "order_home", "order_confirm"):
            await self.order_step(action, arg)
        elif action in ("post", "wait"):
            await self.claim_post(n, waitlist=action == "wait")
        else:
            self.say(self.tr("error.stale_button"))

    def question_on(self, case: Case) -> str | None:
        return cases_services.question_on(case, self.actor, self.now, self.c.policy.reopen_within)

    async def _case(self, number: str) -> Case:
        story = await cases_services.case_story(self.uow, self.actor, number, self.now)
        return story.case

    def ask_question(self, case: Case, kind: str) -> None:
        options = QUESTION_OPTIONS[kind]
        self.ask(self.tr(f"wechat.question.{kind}", number=case.number),
                 [(self.tr(label), action, case.number) for action, label in options])

    # ---- who you are -------------------------------------------------------------------------------

    async def door(self, scene: str) -> None:
        """A scanned door card: a resident reports there, the place filled in; anyone else is asked whether
        they live there (one answer registers them). A code that is not ours: BadDoorCode, nothing written."""
        place = await open_door(self.uow, self.c.door_secret, scene)
        title = place.title(self.tr.lang)
        if self.roles.has(Role.RESIDENT):
            await may_report(self.uow, self.c.policy.limits, self.actor, self.now)
            self.dialog = _Dialog("report.photos", {"photos": [], **(
                {"building_id": place.building_id} if place.address is not None
                else {"door_compound": saved_id(place.compound)})})
            self.say(self.tr("wechat.door.report_here", place=title))
            return
        if place.address is None:
            self.say(self.tr("door.which_building", place=title))
            await self.pick_building(saved_id(place.compound))
            return
        self.ask(self.tr("door.live_here", place=title), [
            (self.tr("door.yes_live_here"), "home", str(place.building_id)),
            (self.tr("door.other_building"), "compound", str(saved_id(place.compound)))], state="onboard")

    async def welcome(self) -> None:
        if self.incoming.app == "work":
            self.say(self.tr("wechat.work.bind_first"))
            return
        self.say(self.tr("wechat.welcome"))
        await self.register()

    async def register(self) -> None:
        """Choosing a home like on Telegram: community → compound → building, or a shared location."""
        if self.incoming.app == "work":
            self.say(self.tr("wechat.work.bind_first"))
            return
        communities = list(await self.uow.places.communities())
        if not communities:
            self.say(self.tr("onboard.no_places"))
            return
        if len(communities) == 1:  # one choice is no choice
            await self.pick_compound(saved_id(communities[0]))
            return
        self.ask(f"{self.tr('onboard.pick_community')}", [(c.name, "community", str(c.id)) for c in communities],
                 state="onboard")
        self.say(self.tr("wechat.onboard.or_location"))

    async def pick_compound(self, community_id: int) -> None:
        community = await self.uow.places.community(community_id)
        if community is None:
            self.say(self.tr("error.not_found"))
            return
        compounds = await self.uow.places.compounds(community_id)
        self.ask(self.tr("onboard.pick_compound", community=community.name),
                 [(c.name, "compound", str(c.id)) for c in compounds], state="onboard")
        self.say(self.tr("wechat.onboard.or_location"))

    async def pick_building(self, compound_id: int) -> None:
        compound = await self.uow.places.compound(compound_id)
        if compound is None:
            self.say(self.tr("error.not_found"))
            return
        buildings = await self.uow.places.buildings_of_compound(compound_id)
        self.ask(self.tr("onboard.pick_building", compound=compound.name),
                 [(b.name, "home", str(b.id)) for b in buildings], state="onboard")

    async def nearest(self, purpose: str) -> None:
        """A shared location (GCJ-02, as WeChat sends it) → the nearest buildings, to confirm."""
        m = self.incoming
        if m.lat is None or m.lon is None:
            self.say(self.tr("error.not_found"))
            return
        lat, lon = gcj02_to_wgs84(m.lat, m.lon)
        near = nearest_buildings(await self.uow.places.buildings_with_position(), lat, lon, max_m=self.c.max_m)
        options = []
        for i, (building, meters) in enumerate(near):
            address = await self.uow.places.address(saved_id(building))
            if address is None:
                continue
            label = (self.tr("onboard.nearest_yes") if i == 0 and purpose == "home"
                     else f"{address.short()}（{round(meters)} m）")
            options.append((label, purpose, str(building.id)))
        first = await self.uow.places.address(saved_id(near[0][0]))
        if purpose == "home":
            options.append((self.tr("onboard.pick_by_hand"), "by_hand", ""))
            intro = self.tr("onboard.nearest", address=first.full() if first else "", meters=round(near[0][1]))
            self.ask(intro, options, state="onboard")
        else:
            self.ask(self.tr("report.ask_place"), options, state="report.place")

    async def settle(self, building_id: int) -> None:
        address = await self.uow.places.address(building_id)
        if address is None:
            self.say(self.tr("error.not_found"))
            return
        moving = self.roles.home_building_id() is not None
        address = await register_resident(self.uow, self.person, saved_id(address.community),
                                          saved_id(address.compound), building_id, self.now)
        self.roles = await roles_of(self.uow, self.person)
        self.end()
        self.say(self.tr("onboard.moved" if moving else "onboard.registered", address=address.full()))
        self.say(self.help_text())

    async def bind(self, typed: str) -> None:
        outcome = await bind_account(self.uow, self.person, self.incoming.channel, self.incoming.user, typed, self.now)
        if outcome.person is None:
            assert outcome.refusal is not None
            self.say(refusal_text(self.tr, outcome.refusal, self.c.tz, self.now))  # kept: attempts are counted
            return
        self.person = outcome.person
        self.roles = await roles_of(self.uow, self.person)
        self.tr = Translator(self.person.language or self.c.default_language)
        self.end()
        self.say(self.tr("wechat.bound", name=self.person.display_name))
        self.say(self.help_text())

    async def bind_code(self, whom: str) -> None:
        """"绑定码": a code to bind another account to oneself; staff add a name for someone on their roster."""
        target = self.person
        if whom:
            found = await roster_named(self.uow, self.actor, whom)
            if len(found) != 1:
                names = "、".join(p.display_name for p in found[:10])
                self.say(self.tr("bind.pick_one", name=whom, names=names) if found else self.tr("bind.nobody", name=whom))
                return
            target = found[0]
        code = await issue_bind_code(self.uow, self.actor, self.now, saved_id(target))
        if target.id == self.person.id:
            self.say(self.tr("wechat.bind_code", code=code.code, expires=self.when(code.expires_at)))
        else:
            self.say(self.tr("bind.code_for", name=target.display_name, code=code.code,
                             expires=self.when(code.expires_at)))

    def help_text(self) -> str:
        roles = self.roles
        names = "、".join(self.tr(f"role.{r.value}") for r in roles.names) or self.tr("role.none")
        keys: list[str] = []
        if self.incoming.app == "mp":
            keys.append("register")
        if roles.has(Role.RESIDENT):
            keys += ["report", "my", "order"]
        if roles.has(Role.GRID_MEMBER) or roles.has(Role.DEPARTMENT):
            keys.append("cases")
        if roles.staff_communities() or roles.is_admin:
            keys += ["desk", "bind_for"]
        if roles.has(Role.PARTY_MEMBER):
            keys.append("posts")
        if roles.communities():
            keys.append("points")
        keys += ["lang", "cancel"]
        return "\n".join([self.tr("wechat.help.title", roles=names), *(self.tr(f"wechat.help.{k}") for k in keys)])

    async def help(self) -> None:
        self.say(self.help_text())

    # ---- 随手拍: a resident's report -----------------------------------------------------------------

    async def start_report(self) -> None:
        if not self.roles.has(Role.RESIDENT):
            self.say(self.tr("wechat.report.residents_only"))
            return
        self.dialog = _Dialog("report.photos", {"photos": []})
        if self.incoming.kind == "image":
            await self.report_photo()
        else:
            self.say(self.tr("report.ask_photos"))

    async def _photo(self, kind: PhotoKind) -> PhotoRef | None:
        """The message's photo, downloaded at once and stored as the Telegram flow stores one; None after
        saying why it cannot be used (a refusal of the photo store is a DomainError, said politely)."""
        try:
            data = await self.c.media.download(self.incoming.app, self.incoming.media_id)
        except Exception:  # noqa: BLE001 - WeChat's media/get failed: the person sends it again
            log.warning("could not download media %s", self.incoming.media_id, exc_info=True)
            self.say(self.tr("wechat.photo_failed"))
            return None
        try:
            saved = await self.c.photos.save(data)
        except DomainError as problem:
            self.say(self.tr(problem.key, **problem.params))
            return None
        return PhotoRef(saved.sha256, kind, saved.width, saved.height, saved.dhash)

    async def report_photo(self) -> None:
        stored: list[dict[str, Any]] = self.dialog.data.get("photos", [])
        if len(stored) >= MAX_PHOTOS_PER_KIND:
            self.say(self.tr("report.too_many_photos", max=MAX_PHOTOS_PER_KIND))
            return
        photo = await self._photo(PhotoKind.BEFORE)
        if photo is None:
            return
        if photo.sha256 not in {p["sha256"] for p in stored}:
            stored.append({"sha256": photo.sha256, "width": photo.width, "height": photo.height, "dhash": photo.dhash})
        self.step("report.photos", photos=stored)
        if len(stored) >= MAX_PHOTOS_PER_KIND:
            self.say(self.tr("wechat.report.photos_full", count=len(stored), max=MAX_PHOTOS_PER_KIND))
        else:
            self.say(self.tr("wechat.report.photos_received", count=len(stored)))

    async def report_category(self) -> None:
        if not self.dialog.data.get("photos"):
            self.say(self.tr("report.no_photo_yet"))
            return
        self.ask(self.tr("report.ask_category"), [(self.tr(f"category.{c.value}"), "category", c.value) for c in Category],
                 state="report.category")

    async def report_place(self) -> None:
        options = []
        door_compound = self.dialog.data.get("door_compound")
        if door_compound:  # scanned at a compound's gate or garage: its buildings
            options += [(b.name, "place", str(b.id)) for b in await self.uow.places.buildings_of_compound(int(door_compound))]
        home = self.roles.home_building_id()
        if home is not None:
            address = await self.uow.places.address(home)
            if address is not None:
                options.append((self.tr("report.my_building", address=address.short()), "place", str(home)))
        options.append((self.tr("report.other_building"), "place_other", ""))
        self.ask(self.tr("report.ask_place"), options, state="report.place")
        self.say(self.tr("wechat.report.place_location"))

    async def report_buildings(self) -> None:
        home = self.roles.home_building_id()
        address = await self.uow.places.address(home) if home else None
        communities = [address.community] if address else list(await self.uow.places.communities())
        options = []
        for community in communities:
            for compound in await self.uow.places.compounds(saved_id(community)):
                for b in await self.uow.places.buildings_of_compound(saved_id(compound)):
                    options.append((f"{compound.name} {b.name}", "place", str(b.id)))
        self.ask(self.tr("report.ask_place"), options, state="report.place")
        self.say(self.tr("wechat.report.place_location"))

    async def report_words(self) -> None:
        if self.dialog.data.get("description"):  # the words came already (not on WeChat today: no captions)
            await self.report_summary()
            return
        self.ask(self.tr("wechat.report.ask_words"), [(self.tr("report.skip"), "skip", "")], state="report.words",
                 listed=False)

    async def report_summary(self) -> None:
        data = self.dialog.data
        address = await self.uow.places.address(int(data["building_id"]))
        if address is None:
            self.say(self.tr("error.not_found"))
            return
        category = Category(data["category"])
        summary = self.tr("report.summary", photos=len(data["photos"]), category=self.tr(f"category.{category.value}"),
                          address=address.full(), words=data.get("description") or self.tr("report.no_words"))
        options = [(self.tr("report.confirm"), "confirm", ""), (self.tr("report.edit"), "edit", "")]
        similar = await cases_services.similar_cases(self.uow, self.c.policy, saved_id(address.building), category,
                                                     self.now)
        if similar:
            summary = f"{summary}\n\n{self.tr('report.similar')}"
            options += [(self.tr("report.same_problem", number=c.number), "join", c.number) for c in similar]
        self.ask(summary, options, state="report.summary")

    async def report_confirm(self) -> None:
        data = self.dialog.data
        photos = [PhotoRef(p["sha256"], PhotoKind.BEFORE, p.get("width"), p.get("height"), p.get("dhash"))
                  for p in data["photos"]]
        case = await cases_services.report_problem(self.uow, self.c.policy, self.actor, int(data["building_id"]),
                                                   Category(data["category"]), photos, data.get("description", ""),
                                                   self.now)
        self.end()
        self.say(self.tr("report.submitted", number=case.number, deadline=self.when(case.deadline)))

    async def report_join(self, number: str) -> None:
        data = self.dialog.data
        case = await cases_services.join_same_problem(self.uow, self.c.policy, self.actor, number,
                                                      int(data["building_id"]), Category(data["category"]), self.now)
        self.end()
        self.say(self.tr("report.joined", number=case.number))

    # ---- a resident's cases ------------------------------------------------------------------------

    async def my_reports(self) -> None:
        cases = await cases_services.my_reports(self.uow, self.actor)
        if not cases:
            self.say(self.tr("my.none"))
            return
        self.ask(self.tr("wechat.my.title"), [(self.case_line(c), "history", c.number) for c in cases])

    def case_line(self, case: Case, *, flags: bool = False) -> str:
        """A case in a numbered list; a fix proved on the spot says so, and on the desk (`flags`) one
        without proof says that (core.proof), as in Telegram."""
        line = self.tr("wechat.case.line", number=case.number, state=self.tr(f"state.{case.state.value}"),
                       category=self.tr(f"category.{case.category.value}"))
        if case.on_site and case.resolved_at is not None:
            return f"{line} · {self.tr('proof.mark_on_site')}"
        if flags and lacks_proof(case):
            return f"{line} · {self.tr('proof.mark_flagged')}"
        return line

    async def history(self, number: str) -> None:
        """A case's story (the look is recorded: PIPL), its card once fixed, and what `by` may answer."""
        story = await cases_services.case_story(self.uow, self.actor, number, self.now)
        case = story.case
        if case.photos_of(PhotoKind.AFTER) and case.photos_of(PhotoKind.BEFORE):
            self.show(await case_card(self.c.photos, case, viewer=self.actor,
                                      **card_words(case, self.tr, self.c.tz, self.now)))
        self.say(await case_history(self.uow, case, self.tr, self.c.tz, self.now, by=self.actor, reporter=story.reporter))
        if story.as_handler:
            self.offer_handler_options(case)
        elif story.desk_members is not None:  # staff: any grid member of the community, by compound and grid
            members = await cases_services.desk_members(self.uow, self.actor, case.number, self.now)
            if members:
                self.ask("", [(self.tr("case.btn.assign", name=self.tr("case.member_choice", place=m.place,
                                                                        name=m.person.display_name)),
                               "assign", f"{case.number}|{m.person.id}") for m in members])
            else:
                self.end()
        elif (kind := self.question_on(case)) is not None:
            self.ask_question(case, kind)
        else:
            self.end()

    async def outcome(self, number: str, fixed: bool) -> None:
        """👍 / 👎 on a fix: checked by core before the rating or the reason is asked for."""
        joiner = await cases_services.answer_outcome(self.uow, self.actor, number, fixed)
        if fixed:
            self.dialog = _Dialog("case.rate", {"number": number, "joiner": joiner})
            self.say(self.tr("wechat.case.ask_rating"))
        else:
            reasons = [r for r in NotFixedReason if r != NotFixedReason.OTHER]
            self.ask(self.tr("wechat.case.ask_not_fixed_reason", number=number),
                     [(self.tr(f"case.not_fixed.{r.value}"), "why", r.value) for r in reasons]
                     + [(self.tr("case.not_fixed.skip"), "why", "")], state="case.why", number=number, joiner=joiner)

    async def rate(self, rating: int) -> None:
        number, joiner = self.dialog.data["number"], self.dialog.data.get("joiner")
        if joiner:
            await cases_services.give_feedback(self.uow, self.actor, number, True, self.now, rating=rating)
            self.say(self.tr("case.feedback_thanks", number=number))
        else:
            await cases_services.confirm_fix(self.uow, self.actor, number, rating, self.now, policy=self.c.policy)
            self.say(self.tr("case.thanks_rating", number=number, rating=rating))
        self.end()

    async def not_fixed(self, reason: NotFixedReason | None, comment: str) -> None:
        number, joiner = self.dialog.data["number"], self.dialog.data.get("joiner")
        if joiner:
            await cases_services.give_feedback(self.uow, self.actor, number, False, self.now, reason=reason,
                                               comment=comment)
            self.say(self.tr("case.feedback_thanks", number=number))
        else:
            await cases_services.reject_fix(self.uow, self.actor, number, comment, self.now, reason=reason)
            self.say(self.tr("case.reopened_for_you", number=number))
        self.end()

    # ---- a grid member's (or a department's) cases, and the desk -----------------------------------

    async def my_cases(self) -> None:
        cases = await cases_services.cases_i_handle(self.uow, self.actor)
        if not cases:
            self.say(self.tr("my.handling_none"))
            return
        self.ask(self.tr("wechat.my.handling"), [(self.case_line(c), "history", c.number) for c in cases])

    def offer_handler_options(self, case: Case) -> None:
        """What the handler may do next, each offered only when core's own check allows it."""
        options = []
        for action, label in HANDLER_OPTIONS:
            try:
                check_case(action, case, self.actor)
            except DomainError:
                continue
            options.append((self.tr(label), action, case.number))
        if options:
            self.ask("", options)
        else:
            self.end()

    async def handler_photo(self, state: str) -> None:
        number = self.dialog.data["number"]
        kind = PhotoKind.DURING if state == "case.during" else PhotoKind.AFTER
        photo = await self._photo(kind)
        if photo is None:
            return
        if kind == PhotoKind.DURING:
            case = await cases_services.add_during_photo(self.uow, self.actor, number, photo, self.now)
            self.say(self.tr("case.during_saved"))
            self.offer_handler_options(case)
            return
        self.step("case.note", after={"sha256": photo.sha256, "width": photo.width, "height": photo.height,
                                      "dhash": photo.dhash})
        self.say(self.tr("case.ask_note"))

    async def resolve(self, note: str) -> None:
        data = self.dialog.data
        after = data["after"]
        photo = PhotoRef(after["sha256"], PhotoKind.AFTER, after.get("width"), after.get("height"), after.get("dhash"))
        # WeCom's conversation has no location step (issue #20): resolved as "skipped: no location on
        # WeCom", which flags it to staff as any fix without proof on the spot (core.proof)
        await cases_services.resolve_case(self.uow, self.actor, data["number"], photo, note, self.now,
                                          skip_reason=SkipReason.NO_LOCATION_ON_WECOM, policy=self.c.policy)
        self.end()
        self.say(f"{self.tr('case.resolved_by_you', number=data['number'])}\n{self.tr('wechat.proof.no_location')}")

    async def desk(self) -> None:
        cases = await cases_services.desk(self.uow, self.actor, self.now)
        if not cases:
            self.say(self.tr("desk.none"))
            return
        self.ask(self.tr("wechat.desk.title"), [(self.case_line(c, flags=True), "history", c.number) for c in cases])

    # ---- volunteering ------------------------------------------------------------------------------

    async def posts(self) -> None:
        communities = self.roles.party_communities()
        if not communities:
            pending = any(g.role == Role.PARTY_MEMBER for g in self.roles.pending)
            self.say(self.tr("party.registration_pending" if pending else "tasks.members_only"))
            return
        posts = [p for c in communities for p in await posts_services.open_posts(self.uow, c, self.now)]
        if not posts:
            self.say(self.tr("tasks.none"))
            return
        self.ask(self.tr("wechat.posts.title"), [
            (self.tr("wechat.post.line", title=p.title, when=self.when(p.starts_at), taken=p.places_taken,
                     capacity=p.capacity) + (f" · {self.tr('state.full')}" if p.state == PostState.FULL else ""),
             "wait" if p.state == PostState.FULL else "post", p.number) for p in posts])

    async def claim_post(self, number: str, *, waitlist: bool) -> None:
        try:
            await posts_services.claim_post(self.uow, self.c.volunteer_policy, self.actor, number, self.now,
                                            waitlist=waitlist)
        except PostFull:  # the last place went to someone else: offer the waitlist
            await self.uow.rollback()
            self.ask(self.tr("post.full_offer", post=number), [(self.tr("vol.btn.waitlist"), "wait", number)])
            return
        post = await posts_services.post_by_number(self.uow, number)
        self.end()
        if waitlist:
            self.say(self.tr("post.waitlisted", title=post.title, post=number))
        else:
            self.say(self.tr("post.claimed", title=post.title) + "\n\n"
                     + post_text(post, self.tr, self.c.tz, self.now, show_place=True))

    async def points(self) -> None:
        communities = self.roles.communities()
        if not communities:
            self.say(self.tr("wechat.points.nothing_yet"))
            return
        for community_id in communities:
            community = await self.uow.places.community(community_id)
            lines = [self.tr("points.balance", community=community.name if community else "",
                             balance=await points_services.points_balance(self.uow, saved_id(self.person),
                                                                          community_id))]
            history = await points_services.points_history(self.uow, saved_id(self.person), community_id,
                                                           limit=POINTS_HISTORY)
            if history:
                lines.append(self.tr("points.history_title"))
                lines += [self.tr("points.entry", at=self.when(e.at), delta=f"{e.delta:+d}",
                                  reason=self.tr(f"points.reason.{e.reason.value}"), note=e.note or "")
                          for e in history]
            self.say("\n".join(lines))

    # ---- 群众点单: a resident's order ------------------------------------------------------------------

    async def order(self) -> None:
        """"群众点单": kind → a few words → preferred time → place → confirm, as on Telegram."""
        if self.roles.home_community_id() is None:
            self.say(self.tr("ask.residents_only"))
            return
        self.ask(self.tr("ask.kind"), [(self.tr(f"service.{k.value}"), "order_kind", k.value) for k in ServiceKind],
                 state="order.kind")

    async def order_step(self, action: str, arg: str) -> None:
        if action == "order_kind":
            kind = ServiceKind(arg)
            self.step("order.words", kind=kind.value)
            if kind == ServiceKind.OTHER:
                self.say(self.tr("ask.words_required"))
            else:
                self.ask(self.tr("wechat.order.ask_words"), [(self.tr("report.skip"), "order_skip", "")],
                         state="order.words", listed=False)
        elif action == "order_skip":
            await self.order_words("")
        elif action == "order_when":
            await self.order_when(self.tr(f"ask.when.{arg}") if arg in ORDER_TIMES else arg)
        elif action == "order_home":
            home = self.roles.home_building_id()
            address = await self.uow.places.address(home) if home else None
            if address is None:
                self.say(self.tr("error.stale_button"))
                return
            await self.order_place(address.short())
        elif action == "order_confirm":
            data = self.dialog.data
            order = await orders_services.order_service(
                self.uow, self.actor, self.roles.home_community_id() or 0, ServiceKind(data["kind"]),
                data.get("description", ""), data.get("preferred_time", ""), data.get("place", ""), self.now)
            self.end()
            self.say(self.tr("ask.submitted", number=order.number))

    async def order_words(self, text: str) -> None:
        if len(text) > ORDER_MAX_DESCRIPTION:
            self.say(self.tr("report.words_too_long", max=ORDER_MAX_DESCRIPTION))
            return
        if not text and self.dialog.data.get("kind") == ServiceKind.OTHER.value:
            self.say(self.tr("ask.words_required"))
            return
        self.step("order.when", description=text)
        self.ask(self.tr("wechat.order.ask_when"), [(self.tr(f"ask.when.{w}"), "order_when", w) for w in ORDER_TIMES],
                 state="order.when")

    async def order_when(self, text: str) -> None:
        if len(text) > MAX_SHORT_TEXT:
            self.say(self.tr("report.words_too_long", max=MAX_SHORT_TEXT))
            return
        self.step("order.place", preferred_time=text)
        home = self.roles.home_building_id()
        address = await self.uow.places.address(home) if home else None
        options = [(self.tr("ask.at_home", address=address.short()), "order_home", "")] if address else []
        self.ask(self.tr("wechat.order.ask_place"), options, state="order.place")

    async def order_place(self, text: str) -> None:
        if len(text) > MAX_PLACE:
            self.say(self.tr("report.words_too_long", max=MAX_PLACE))
            return
        self.step("order.summary", place=text)
        data = self.dialog.data
        summary = self.tr("ask.summary", kind=self.tr(f"service.{data['kind']}"),
                          words=data.get("description") or self.tr("report.no_words"),
                          when=data.get("preferred_time", ""), place=text)
        self.ask(summary, [(self.tr("ask.confirm"), "order_confirm", "")], state="order.summary")
