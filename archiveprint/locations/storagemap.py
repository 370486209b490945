"""The storage map the archive room's pages draw: each room as grids of shelves with how full each is, one shelf's
folders with its neighbours, and the layout in use with its blocks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiveprint.errors import ArchiveprintError, NotFound
from archiveprint.locations.layout import BlockSummary, summarize
from archiveprint.locations.models import FolderPosition, Shelf, StorageLayout
from archiveprint.locations.queries import (
    FolderLocation,
    ShelfLabel,
    StatusProvider,
    VillageFill,
    current_layout,
    find_capacity,
    list_shelf_labels,
    list_shelves,
    locations_of,
)

HIGH_FILL = 0.9  # a shelf this full is marked on the map


@dataclass
class MapCell:
    """One shelf (层) on the map: its code, address, village and fill."""

    code: str
    address: str
    village: str
    used: int
    capacity: int

    @property
    def fill(self) -> str:
        """empty, ok, high (≥ 90 %) or full: the colour of the cell."""
        if not self.used:
            return "empty"
        if self.used >= self.capacity:
            return "full"
        return "high" if self.used / self.capacity >= HIGH_FILL else "ok"


@dataclass
class MapGroup:
    """One face of a 列 (or one cabinet): its 节 as columns and 层 as rows."""

    title: str
    columns: list[str] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)
    cells: dict[tuple[str, str], MapCell] = field(default_factory=dict)
    villages: list[str] = field(default_factory=list)


@dataclass
class MapRoom:
    code: str
    name: str
    groups: dict[tuple[str, ...], MapGroup] = field(default_factory=dict)
    shelves: int = 0
    used: int = 0
    capacity: int = 0


@dataclass
class StorageMap:
    """Every room's grids, each village's run of shelves, the totals per purpose and the folders not yet shelved."""

    rooms: list[MapRoom]
    villages: list[VillageFill]
    totals: dict[str, dict[str, int]]

    @property
    def waiting(self) -> int:
        return sum(v.unshelved for v in self.villages)


def map_rooms(shelves: Sequence[Shelf], used: Mapping[str, int]) -> list[MapRoom]:
    """Shelves grouped by every level but the last two, which become the grid (节 across, 层 down)."""
    rooms: dict[str, MapRoom] = {}
    for shelf in shelves:
        room = rooms.setdefault(shelf.room_code, MapRoom(shelf.room_code, shelf.room_name))
        texts = [str(c[2]) for c in shelf.coordinates]
        head, (column, row) = (texts[:-2], texts[-2:]) if len(texts) >= 2 else ([], (texts[0], ""))
        key = (shelf.block_code, *head)
        title = " ".join(filter(None, [shelf.block_name, *head])) or shelf.kind
        group = room.groups.setdefault(key, MapGroup(title))
        if column not in group.columns:
            group.columns.append(column)
        if row not in group.rows:
            group.rows.append(row)
        village = shelf.village.ref if shelf.village else ""
        if village and village not in group.villages:
            group.villages.append(village)
        cell = MapCell(shelf.code, shelf.address, village, used.get(shelf.code, 0), shelf.capacity)
        group.cells[(row, column)] = cell
        room.shelves += 1
        room.used += cell.used
        room.capacity += cell.capacity
    return list(rooms.values())


def find_storage_map(session: Session) -> StorageMap:
    """The storage map of every active shelf, with the villages' fill."""
    capacity = find_capacity(session)
    rooms = map_rooms(list_shelves(session, None), {fill.code: fill.used for fill in capacity.shelves})
    return StorageMap(rooms, capacity.villages, capacity.totals())


@dataclass
class ShelfView:
    """One shelf as its page shows it: the folders in position order, its label, the shelves either side."""

    shelf: Shelf
    household_ids: list[int]
    folders: list[FolderLocation]
    label: ShelfLabel | None
    previous: Shelf | None
    following: Shelf | None


def find_shelf_view(session: Session, code: str, *, providers: Sequence[StatusProvider] = ()) -> ShelfView:
    """An active shelf by its location code, with its folders and its neighbours of the same purpose."""
    found = session.scalar(select(Shelf).where(Shelf.code == code, Shelf.retired_at.is_(None)))
    if found is None:
        raise NotFound("没有这个架位", field="架位", value=code)
    ids = list(session.scalars(select(FolderPosition.household_id).where(FolderPosition.shelf_id == found.id)))
    folders = sorted(locations_of(session, {i: [] for i in ids}, providers=providers),
                     key=lambda loc: loc.place.slot or 0)
    (label,) = list_shelf_labels(session, codes=[found.code]) or [None]
    neighbours = {s.seq: s for s in list_shelves(session, found.purpose)}
    previous = max((seq for seq in neighbours if seq < found.seq), default=None)
    following = min((seq for seq in neighbours if seq > found.seq), default=None)
    return ShelfView(found, ids, folders, label, neighbours.get(previous) if previous else None,
                     neighbours.get(following) if following else None)


def find_layout_in_use(session: Session) -> tuple[StorageLayout | None, list[BlockSummary]]:
    """The layout last loaded (None before the first) and the blocks of the shelves in use."""
    try:
        layout: StorageLayout | None = current_layout(session)
    except ArchiveprintError:
        layout = None
    return layout, summarize([s.as_spec() for s in list_shelves(session, None)])
