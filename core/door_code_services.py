"""Door codes as the channels use them: which place a scanned code opens (`open_door`), and the cards
to print for a community (`door_cards`), which only its staff (or an administrator, or the operator at
the command line) may have. A forged or altered code is refused before anything is read or written.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.access import require_staff_of
from core.cases import Actor
from core.door_codes import BadDoorCode, DoorCode, DoorKind, encode, verify
from core.errors import NotFound
from core.places import Address, Community, Compound
from core.ports import UnitOfWork

# The shared spaces a compound's cards are printed for: spot → the words on the card (zh, en).
SPOTS: dict[str, tuple[str, str]] = {
    "gate": ("小区大门", "Main gate"),
    "garage": ("地下车库", "Garage"),
}


@dataclass(frozen=True)
class DoorPlace:
    """Where a scanned code leads: a building (`address`), or a compound's shared space."""

    code: DoorCode
    community: Community
    compound: Compound
    address: Address | None = None   # building codes

    @property
    def building_id(self) -> int | None:
        return self.address.building.id if self.address is not None else None

    def title(self, lang: str = "zh") -> str:
        if self.address is not None:
            return self.address.full()
        spot = SPOTS.get(self.code.spot)
        words = (spot[0] if lang == "zh" else spot[1]) if spot else self.code.spot
        return " ".join(p for p in (self.community.name, self.compound.name, words) if p)


async def open_door(uow: UnitOfWork, secret: bytes, payload: str) -> DoorPlace:
    """The place a scanned payload names: BadDoorCode when it is not ours (nothing read), NotFound when
    its place is gone (a building removed since the card was printed)."""
    code = verify(payload, secret)
    if code.kind == DoorKind.BUILDING:
        address = await uow.places.address(code.place_id)
        if address is None:
            raise NotFound(what="building")
        return DoorPlace(code, address.community, address.compound, address)
    compound = await uow.places.compound(code.place_id)
    community = await uow.places.community(compound.community_id) if compound is not None else None
    if compound is None or community is None:
        raise NotFound(what="compound")
    return DoorPlace(code, community, compound)


@dataclass(frozen=True)
class DoorCard:
    """One card to print: the payload of its QR code and the names on it."""

    payload: str
    kind: DoorKind
    community: str
    compound: str
    place: str          # the building's name, or the shared space's words
    place_id: int
    spot: str = ""

    @property
    def title(self) -> str:
        return f"{self.compound} {self.place}"


async def door_cards(uow: UnitOfWork, by: Actor | None, secret: bytes, community_id: int,
                     compound_id: int | None = None, spots: tuple[str, ...] = tuple(SPOTS)) -> list[DoorCard]:
    """A card for every building of the community (or of one compound), then one for each shared space
    of each compound. `by` None is the operator at the command line; anyone else must be staff of the
    community (or an administrator)."""
    if by is not None:
        require_staff_of(by, community_id, "door_cards")
    community = await uow.places.community(community_id)
    if community is None:
        raise NotFound(what="community")
    cards: list[DoorCard] = []
    compounds = [c for c in await uow.places.compounds(community_id) if compound_id in (None, c.id)]
    if compound_id is not None and not compounds:
        raise NotFound(what="compound")
    for compound in compounds:
        assert compound.id is not None
        for building in await uow.places.buildings_of_compound(compound.id):
            assert building.id is not None
            payload = encode(DoorCode(DoorKind.BUILDING, building.id), secret)
            cards.append(DoorCard(payload, DoorKind.BUILDING, community.name, compound.name, building.name,
                                  building.id))
    for compound in compounds:
        assert compound.id is not None
        for spot in spots:
            payload = encode(DoorCode(DoorKind.COMPOUND, compound.id, spot), secret)
            words = SPOTS[spot][0] if spot in SPOTS else spot
            cards.append(DoorCard(payload, DoorKind.COMPOUND, community.name, compound.name, words, compound.id,
                                  spot))
    return cards


__all__ = ["BadDoorCode", "DoorCard", "DoorPlace", "SPOTS", "door_cards", "open_door"]
