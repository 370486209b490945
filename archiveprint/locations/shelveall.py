"""First shelving (上架全部): every never-shelved folder of every village in one go, village by village in code order
through `services.shelve_village`; a preview that writes nothing, then the apply, which must match it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from archiveprint.errors import ArchiveprintError, Conflict
from archiveprint.locations.models import FolderMovement
from archiveprint.locations.planner import village_order
from archiveprint.locations.queries import current_layout
from archiveprint.locations.services import NeedsRelayout, shelve_village
from archiveprint.register.models import Household, Village


@dataclass(frozen=True)
class VillageShelving:
    """One village's part: how many folders get a home and where its run is, or why it could not be shelved."""

    code: str
    name: str
    waiting: int  # never-shelved folders
    placed: int = 0
    run: tuple[str, str] | None = None  # first and last shelf code of the village's run afterwards
    shelves: int = 0
    refusal: str = ""

    def as_json(self) -> dict[str, object]:
        return {"village": self.code, "name": self.name, "waiting": self.waiting, "placed": self.placed,
                "run": list(self.run) if self.run else None, "shelves": self.shelves,
                "refusal": self.refusal or None}


@dataclass
class ShelveAll:
    villages: list[VillageShelving] = field(default_factory=list)
    fingerprint: str = ""

    @property
    def placed(self) -> int:
        return sum(v.placed for v in self.villages)

    @property
    def refused(self) -> list[VillageShelving]:
        return [v for v in self.villages if v.refusal]

    def as_json(self) -> dict[str, object]:
        return {"placed": self.placed, "fingerprint": self.fingerprint,
                "villages": [v.as_json() for v in self.villages]}


def _waiting(session: Session) -> list[tuple[Village, int]]:
    """Villages with never-shelved folders, in code order, with how many."""
    rows = session.execute(
        select(Village, func.count(Household.id)).join(Household, Household.village_id == Village.id)
        .where(~exists().where(FolderMovement.household_id == Household.id))
        .group_by(Village.id)).all()
    return sorted(((village, count) for village, count in rows), key=lambda row: village_order(row[0].ref))


def _fingerprint(session: Session, waiting: list[tuple[Village, int]]) -> str:
    """What the preview was made from: the layout in use and the folders waiting per village."""
    layout = current_layout(session)
    text = f"{layout.id}|" + ";".join(f"{village.ref}:{count}" for village, count in waiting)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def shelve_all(session: Session, *, expected: str | None = None, actor: str, now: datetime) -> ShelveAll:
    """Shelve each village that has waiting folders; a village that does not fit is reported and left as it was,
    the others are shelved. With `expected`, refuse when things changed since the preview (another fingerprint).
    For a preview the caller rolls back."""
    waiting = _waiting(session)
    fingerprint = _fingerprint(session, waiting)
    if expected is not None and expected != fingerprint:
        raise Conflict("上架预览之后档案或架位有了变化，请重新预览", field="上架", value=expected)
    result = ShelveAll(fingerprint=fingerprint)
    for village, count in waiting:
        try:
            with session.begin_nested():
                done = shelve_village(session, village, actor=actor, now=now)
        except ArchiveprintError as refusal:
            why = refusal.plain if isinstance(refusal, NeedsRelayout) else refusal.message
            result.villages.append(VillageShelving(village.ref, village.name, count, refusal=why))
            continue
        result.villages.append(VillageShelving(village.ref, village.name, count, done.placed, done.run,
                                               done.extended_to))
    return result
