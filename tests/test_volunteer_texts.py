"""The volunteering texts: every refusal core can raise has words in both languages, a notification's
text uses only the placeholders its payload fills, and no catalog key is written twice. That every
declared notification kind is said in both languages: tests/test_notification_kinds.py."""

from __future__ import annotations

import ast
import string
from pathlib import Path

from bot.rendering.volunteering import notification_markup
from core.notifications import KINDS
from texts.volunteering import notification_fields
from texts import Translator, en, text, zh

ROOT = Path(__file__).resolve().parent.parent


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_volunteering_refusal_has_a_text():
    import core.errors as errors
    import core.points
    import core.theme_day
    import core.volunteering.common

    keys = {cls.key for module in (core.volunteering.common, core.points, core.theme_day) for cls in vars(module).values()
            if isinstance(cls, type) and issubclass(cls, errors.DomainError)}
    assert len(keys) > 25
    assert keys - set(zh.TEXTS) == set() and keys - set(en.TEXTS) == set()


def test_the_volunteering_texts_use_only_what_their_payload_carries():
    """Every kind core declares renders in both languages (tests/test_notification_kinds.py); here the
    placeholders a text uses are in the payload its service sends."""
    payloads = {"party.registration_requested": {"person", "community", "name", "work_unit"},
                "order.new": {"order", "kind", "description", "preferred_time"},
                "order.dispatched": {"order", "post", "title", "starts_at"},
                "order.declined": {"order", "reason"},
                "post.to_confirm": {"post", "title", "person", "name", "hours"},
                "points.earned": {"points", "balance", "title"},
                "post.member_suspended": {"no_shows", "community"},
                "post.member_restored": {"no_shows", "community"}}
    for kind, fields in payloads.items():
        assert kind in KINDS
        assert _fields(zh.TEXTS[kind]) <= fields and _fields(en.TEXTS[kind]) <= fields, kind


def test_service_kind_is_named_in_the_readers_language():
    payload = {"order": "DC-FW-2026-000001", "kind": "carrying", "description": "", "preferred_time": "周末"}
    zh_text = text("zh", "order.new", **notification_fields("order.new", payload, Translator("zh")))
    en_text = text("en", "order.new", **notification_fields("order.new", payload, Translator("en")))
    assert "📦 搬运物品" in zh_text and "carrying" not in zh_text
    assert "Carrying things" in en_text


def test_notifications_that_ask_for_a_decision_come_with_buttons():
    tr = Translator("zh")
    approve = notification_markup("party.registration_requested",
                                  {"person": 7, "community": 3, "name": "x", "work_unit": "y"}, tr)
    assert [b.text for row in approve.inline_keyboard for b in row] == ["✅ 通过", "✖ 不通过"]
    assert [b.callback_data for row in approve.inline_keyboard for b in row] == ["vo:reg_ok::7:3", "vo:reg_no::7:3"]
    stars = notification_markup("post.to_confirm", {"post": "DC-GW-2026-000001", "person": 7}, tr)
    assert [b.callback_data for row in stars.inline_keyboard for b in row][4] == "vo:rate:DC-GW-2026-000001:7:5"
    assert notification_markup("points.earned", {"points": 1}, tr) is None
    assert notification_markup("post.to_confirm", {"post": "x"}, tr) is None  # a payload without a person


def test_no_catalog_key_is_written_twice():
    """Read from the catalogs' source on purpose: a key written twice in a dict literal leaves no trace
    at run time (the later text silently wins), so only the source shows it."""
    for module in ("zh", "en"):
        tree = ast.parse((ROOT / "texts" / f"{module}.py").read_text(encoding="utf-8"))
        (catalog,) = [node.value for node in ast.walk(tree) if isinstance(node, ast.AnnAssign)]
        keys = [k.value for k in catalog.keys]
        assert sorted(k for k in set(keys) if keys.count(k) > 1) == [], module


async def test_a_moment_in_a_payload_reads_in_each_readers_language_and_time_zone(tmp_path):
    """Payloads carry ISO timestamps; the renderer words `_at` keys per reader (Beijing time here)."""
    from bot.rendering.notifications import NotificationRenderer
    from core.notifications import Notification
    from core.people import Identity, Person
    from redgrid.settings import Settings

    render = NotificationRenderer(Settings(_env_file=None, data_dir=tmp_path))
    note = Notification(1, "post.new", {"post": "DC-GW-2026-000001", "title": "政策宣讲", "capacity": 5,
                                        "points": 10, "starts_at": "2026-12-28T01:00:00+00:00"})
    said = {}
    for lang in ("zh", "en"):
        out = await render(None, note, Person(1, "x", lang), Identity(1, 1, "telegram", "1", "1"))
        said[lang] = out.text
    assert "🕘 12月28日 09:00" in said["zh"]
    assert "🕘 Dec 28, 09:00" in said["en"] and "月" not in said["en"]
    assert "🙋" in str(out.markup)  # the claim button still comes with it
    older = Notification(1, "post.reminder", {"post": "X", "title": "t", "place": "p", "starts_at": "11月24日 09:00"})
    out = await render(None, older, Person(1, "x", "zh"), Identity(1, 1, "telegram", "1", "1"))
    assert "11月24日 09:00" in out.text  # an outbox row written before the change reads as it did
