"""The text catalog: every key in both languages, and placeholders that match."""

from __future__ import annotations

import string

from texts import en, text, zh


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_both_languages_have_the_same_keys_and_placeholders():
    assert set(zh.TEXTS) == set(en.TEXTS)
    mismatched = [k for k in zh.TEXTS if _fields(zh.TEXTS[k]) != _fields(en.TEXTS[k])]
    assert mismatched == []


def test_every_domain_error_has_a_text():
    import core.cases
    import core.errors as errors
    import core.orgchart
    import media.photos

    keys = {cls.key for module in (errors, core.cases, core.orgchart, media.photos) for cls in vars(module).values()
            if isinstance(cls, type) and issubclass(cls, errors.DomainError)}
    assert len(keys) > 20 and keys - set(zh.TEXTS) == set()


def test_missing_parameter_leaves_a_blank_not_a_crash():
    assert text("zh", "start.welcome_back") == "您好，！"
    assert text("fr", "cancel.done") == "已取消。"  # unknown language falls back to Chinese
