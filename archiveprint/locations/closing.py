"""结案 of a household's members, chosen one by one: their records close; the folder goes to the closed area only
when no member of the household is left on file. 取回 the other way: the folder back, the chosen records reopened."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiveprint.errors import Conflict, InvalidValue, joined
from archiveprint.locations.models import FolderPosition
from archiveprint.locations.queries import find_place
from archiveprint.locations.services import close_folder, reopen_folder
from archiveprint.register.models import Household, Resident
from archiveprint.register.services import CLOSE_REASONS, close_resident, reopen_resident


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


@dataclass
class ReopenResult:
    """Whether the folder came back from the closed area, and whose records were reopened."""

    from_closed_area: bool
    reopened: list[str] = field(default_factory=list)  # names, in the household's order


def reopen_members(session: Session, household: Household, codes: Sequence[str], *, reason: str, actor: str,
                   now: datetime) -> ReopenResult:
    """取回: the folder back from the closed area (when it is there) and the chosen members' closed records reopened;
    a folder not in the closed area needs at least one member chosen."""
    in_closed_area = find_place(session, household.id).status.code == "closed"
    chosen = set(codes)
    members = [m for m in household.members if m.archive_code in chosen and m.status == "closed"]
    if not in_closed_area and not members:
        raise InvalidValue("请勾选要恢复的成员", field="成员")
    if in_closed_area:
        reopen_folder(session, household, reason=reason, actor=actor, now=now)
    for member in members:
        reopen_resident(session, member, why=reason, actor=actor, now=now)
    return ReopenResult(in_closed_area, [m.name for m in members])
