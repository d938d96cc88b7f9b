"""`.env.example` documents every setting, and its values are valid."""

from __future__ import annotations

from pathlib import Path

from redgrid.settings import Settings

EXAMPLE = Path(__file__).resolve().parent.parent / ".env.example"


def _entries() -> dict[str, str]:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_every_setting_is_in_the_example_with_a_comment_above_it():
    documented, commented = {}, False
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            commented = False  # a blank line ends a block; the next one needs its own comment
        elif line.startswith("#"):
            commented = True
        else:
            documented[line.split("=", 1)[0]] = commented
    assert set(documented) == {name.upper() for name in Settings.model_fields}
    assert all(documented.values())


def test_the_example_values_load():
    settings = Settings(_env_file=EXAMPLE)
    assert settings.timezone == "Asia/Shanghai" and settings.invite_ttl_hours == 72
