"""One list of the notification kinds core sends (core.notifications.KINDS), checked against core's
sources, so each channel's renderer can be tested against every kind (tests/test_wechat_rendering.py)."""

from __future__ import annotations

import ast
from pathlib import Path

from core.notices import NOTICE_KIND
from core.notifications import KINDS
from storage.broadcasts import FINISHED_KIND
from texts import en, zh

ROOT = Path(__file__).resolve().parent.parent
SENDERS = {"_notify", "_tell", "Notification", "start"}  # case services, volunteering, the outbox, broadcasts


def _kinds_sent_in_core() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name not in SENDERS:
                continue
            for arg in node.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and "." in arg.value \
                        and arg.value.split(".")[0] in {"case", "party", "order", "post", "points", "theme"}:
                    found.add(arg.value)
    return found


def test_every_kind_core_sends_is_in_the_list():
    sent = _kinds_sent_in_core() | {NOTICE_KIND, FINISHED_KIND}
    assert len(sent) > 35
    assert sent - set(KINDS) == set()
    assert set(KINDS) - sent == set(), "a kind in the list that nothing sends"
    assert len(KINDS) == len(set(KINDS))


def test_every_kind_has_words_in_both_languages():
    assert [k for k in KINDS if k not in zh.TEXTS or k not in en.TEXTS] == []
