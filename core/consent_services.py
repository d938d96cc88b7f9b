"""Services of notice and consent, channel-neutral: Telegram's middleware and WeChat's conversation
call the same three questions — who is this and must they agree first (`arrive`), they agree
(`agree`), they agree to share a precise location (`agree_to_location`) — and `privacy_view` for
/privacy. A refusal is no call at all: nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.consent import Consent, PrivacyPolicy, Purpose, give, needs_location_consent, needs_notice
from core.errors import NotFound
from core.events import Event
from core.ids import saved_id
from core.people import Account, Identity, Person
from core.ports import UnitOfWork


@dataclass(frozen=True)
class Arrival:
    """Who wrote, as far as the bot knows them, and whether the notice comes before anything else."""

    account: Account | None     # None: a newcomer, of whom nothing is kept
    must_agree: bool            # a newcomer, or someone who has not agreed to this notice version
    changed: bool = False       # meeting them changed something (reachable again): commit it

    @property
    def newcomer(self) -> bool:
        return self.account is None


async def arrive(uow: UnitOfWork, policy: PrivacyPolicy, channel: str, external_id: str, now: datetime) -> Arrival:
    """The account behind a chat user, read in one query; nothing is written for a newcomer.

    Someone known who had blocked the bot and writes again is reachable again (a change to commit).
    """
    account = await uow.people.account(channel, external_id)
    if account is None:
        return Arrival(None, True)
    changed = False
    if not account.identity.reachable:
        # They wrote to us, so they unblocked the bot: deliveries may resume.
        account.identity.reachable = True
        await uow.people.update_identity(account.identity)
        await uow.events.add(Event("person", str(account.person.id), "reachable_again", now, account.person.id))
        changed = True
    return Arrival(account, needs_notice(account.person, policy), changed)


async def agree(uow: UnitOfWork, policy: PrivacyPolicy, channel: str, external_id: str, chat_id: str,
                display_name: str, now: datetime) -> Account:
    """The person agrees to the current notice. For a newcomer this is the first thing kept: the person
    (with the name their chat account shows), the account, the first contact and the consent. A second
    press of the same button records nothing twice."""
    account = await uow.people.account(channel, external_id)
    if account is None:
        person = Person(id=None, display_name=display_name[:64] or "?", created_at=now)
        await uow.people.add(person)
        identity = Identity(None, saved_id(person), channel, external_id, chat_id)
        await uow.people.add_identity(identity)
        await uow.events.add(Event("person", str(person.id), "first_contact", now, person.id,
                                   after={"channel": channel}))
        account = Account(person, identity, [])
    if needs_notice(account.person, policy):
        await record_agreement(uow, account.person, Purpose.NOTICE, policy.notice_version, channel, now)
    return account


async def agree_to_location(uow: UnitOfWork, policy: PrivacyPolicy, person: Person, channel: str,
                            now: datetime) -> bool:
    """The person agrees that a location they share is used (sensitive information, asked once).
    False when they had agreed already (nothing recorded twice)."""
    if not needs_location_consent(person):
        return False
    await record_agreement(uow, person, Purpose.LOCATION, policy.notice_version, channel, now)
    return True


async def record_agreement(uow: UnitOfWork, person: Person, purpose: Purpose, version: int, channel: str,
                           now: datetime) -> None:
    """Record an agreement: the consent row, the person's summary and the event. The chat's buttons
    come here through `agree`; seeding (the demo's people, test worlds) calls it for people who stand
    for someone who agreed."""
    consent, event = give(person, purpose, version, channel, now)
    await uow.consents.add(consent)
    await uow.people.update(person)
    await uow.events.add(event)


@dataclass(frozen=True)
class PrivacyView:
    """/privacy: the notice's figures and what this person agreed to, oldest first."""

    policy: PrivacyPolicy
    consents: list[Consent]


async def privacy_view(uow: UnitOfWork, policy: PrivacyPolicy, person: Person) -> PrivacyView:
    """Only the person's own consents: there is no way to ask for someone else's."""
    if person.id is None or person.forgotten_at is not None:
        raise NotFound(what="person")
    return PrivacyView(policy, list(await uow.consents.of(person.id)))
