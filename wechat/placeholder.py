"""Stand-ins for the WeChat conversation and renderer until wechat/conversation.py and
wechat/rendering.py land: `redgrid/bootstrap.py` builds them through `wechat_conversation` and
`wechat_render`, the two places to swap.

The placeholder conversation meets the user (a person with a WeChat identity, so the outbox can
reach them) and says the service is being prepared; the placeholder renderer says that there is
news about a case, post or order, without its details.
"""

from __future__ import annotations

from core.clock import Clock
from core.notifications import Notification
from core.onboarding import meet
from core.people import Person
from storage.uow import Database
from texts import text as tr
from wechat.messages import Incoming, Reply


class PlaceholderConversation:
    def __init__(self, db: Database, clock: Clock, default_language: str = "zh") -> None:
        self.db, self.clock, self.default_language = db, clock, default_language

    async def handle(self, incoming: Incoming) -> list[Reply]:
        if incoming.kind == "event" and incoming.event in ("unsubscribe", "location", "subscribe_msg_popup_event"):
            return []
        async with self.db.uow() as uow:
            person = await meet(uow, incoming.channel, incoming.user, incoming.user, "", self.clock.now())
            await uow.commit()
        lang = person.language if person.language in ("zh", "en") else self.default_language
        return [Reply(text=tr(lang, "wechat.placeholder"))]


def placeholder_render(default_language: str = "zh"):
    async def render(notification: Notification, person: Person) -> list[Reply]:
        lang = person.language if person.language in ("zh", "en") else default_language
        subject = next((str(notification.payload[k]) for k in ("case", "post", "order") if notification.payload.get(k)),
                       None)
        key = "wechat.placeholder_news" if subject else "wechat.placeholder_news_any"
        return [Reply(text=tr(lang, key, subject=subject))]
    return render
