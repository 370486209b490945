"""结案 of a household's members, chosen one by one: their records close; the folder goes to the closed area only
when no member of the household is left on file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiveprint.errors import Conflict, InvalidValue, joined
from archiveprint.locations.models import FolderPosition
from archiveprint.register.models import Household, Resident
from archiveprint.register.services import CLOSE_REASONS, close_resident


@dataclass
class ClosingResult:
    """Who was closed now, and where the folder is when it went to the closed area (None: it stays)."""

    closed: list[str] = field(default_factory=list)  # names, in the order chosen
    already: list[str] = field(default_factory=list)  # closed before with the same reason and date (a resubmit)
    folder: FolderPosition | None = None


def close_text(reason: str, on: date, note: str = "") -> str:
    """The folder movement's reason: 死亡 2026-11-30 说明."""
    return " ".join(filter(None, [CLOSE_REASONS.get(reason, reason), on.isoformat(), note.strip()]))[:200]


def close_members(session: Session, household: Household, codes: Sequence[str], reason: str, on: date, *,
                  today: date, note: str = "", actor: str, now: datetime) -> ClosingResult:
    """Close the chosen members' records with the reason and date; when that leaves no member on file, the folder
    moves to the closed area too. Submitting the same choice again changes nothing (a double click)."""
    from archiveprint.locations.services import close_folder

    if not reason:
        raise InvalidValue("请选择结案原因", field="结案原因")
    if reason not in CLOSE_REASONS:
        raise InvalidValue("结案原因应为：{reasons}",
                           params={"reasons": joined(CLOSE_REASONS.values())}, field="结案原因", value=reason)
    if on > today:
        raise InvalidValue("结案日期不能晚于今天", field="结案日期", value=on.isoformat())
    chosen = list(dict.fromkeys(code.strip() for code in codes if code.strip()))
    if not chosen:
        raise InvalidValue("请勾选要结案的成员", field="成员")
    members = {m.archive_code: m for m in session.scalars(
        select(Resident).where(Resident.household_id == household.id).with_for_update()
        .execution_options(populate_existing=True))}  # a racing double click waits here, then sees the result
    result = ClosingResult()
    for code in chosen:
        member = members.get(code)
        if member is None:
            raise InvalidValue("该成员不在这一户", field="档案编号", value=code)
        if member.status == "closed":
            if (member.closed_reason, member.closed_on) != (reason, on):
                raise Conflict("{name} 的档案已于 {closed_on} 结案",
                               params={"name": member.name, "closed_on": member.closed_on}, field="档案编号",
                               value=code)
            result.already.append(member.name)
            continue
        close_resident(session, member, reason, on, note=note.strip(), actor=actor, now=now)
        result.closed.append(member.name)
    session.flush()
    if all(m.status == "closed" for m in members.values()):
        result.folder = close_folder(session, household, reason=close_text(reason, on, note), on=on, actor=actor,
                                     now=now)
    return result
