"""Ids of saved entities. An entity made in core has `id` None until storage adds it; code that
works on a loaded (or just added) one narrows the id with `saved_id`, so a missing id is a bug
that says so, not a None written into another row."""

from __future__ import annotations

from typing import Protocol


class Identified(Protocol):
    @property
    def id(self) -> int | None: ...


def saved_id(entity: Identified) -> int:
    """`entity.id`, which storage has set; an unsaved entity here is a programming error."""
    if entity.id is None:
        raise ValueError(f"{type(entity).__name__} has no id: it was never saved")
    return entity.id
