"""Borrower use cases: register staff, village doctors (with their villages) and outside units."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archiveprint.accounts.models import User
from archiveprint.errors import N_, Conflict, InvalidValue, Message, NotConfigured, NotFound, joined
from archiveprint.eventlog import record_event
from archiveprint.lending.models import BORROWER_KINDS, Borrower
from archiveprint.register.services import find_village

KIND_TEXT = {"staff": N_("本院职工"), "village_doctor": N_("村医"), "external": N_("外单位")}


@dataclass(frozen=True)
class BorrowerView:
    """A borrower in plain values, as `borrower add` and `borrower list` show one."""

    key: str
    kind: str
    name: str
    display: str
    unit: str
    user: str | None
    contact_person: str
    phone: str
    letter_ref: str
    villages: tuple[tuple[str, str], ...]  # (code, name) of a village doctor's villages
    active: bool

    @classmethod
    def of(cls, borrower: Borrower) -> BorrowerView:
        return cls(borrower.key, borrower.kind, borrower.name, borrower.display, borrower.unit,
                   borrower.user.username if borrower.user else None, borrower.contact_person, borrower.phone,
                   borrower.letter_ref, tuple((v.code, v.name) for v in borrower.villages), borrower.active)

    def as_json(self) -> dict[str, object]:
        return {"key": self.key, "kind": self.kind, "kind_text": KIND_TEXT[self.kind], "name": self.name,
                "display": self.display, "unit": self.unit, "user": self.user, "contact_person": self.contact_person,
                "phone": self.phone, "letter_ref": self.letter_ref, "villages": [code for code, _ in self.villages],
                "active": self.active}

    def text_lines(self) -> list[str]:
        villages = f"  村：{'、'.join(name for _, name in self.villages)}" if self.villages else ""
        return [f"{self.key}\t{self.display}\t{KIND_TEXT[self.kind]}{villages}{'' if self.active else '（已停用）'}"]


def add_borrower(session: Session, key: str, *, kind: str, name: str = "", username: str | None = None,
                 unit: str = "", contact_person: str = "", phone: str = "", letter_ref: str = "",
                 villages: Sequence[str] = (), actor: str, now: datetime) -> Borrower:
    """Register a borrower. Village doctors name their villages; outside units their unit, contact person and
    introduction letter (介绍信)."""
    key = (key or "").strip()
    if not key or len(key) > 64 or any(ch.isspace() for ch in key):
        raise InvalidValue("借阅人编号不能为空、不能含空格、最长64个字符", field="借阅人编号", value=key)
    if kind not in BORROWER_KINDS:
        raise InvalidValue("借阅人类型应为：{kinds}",
                           params={"kinds": joined(Message("{code}（{label}）", {"code": code, "label": label})
                                                   for code, label in KIND_TEXT.items())},
                           field="借阅人类型", value=kind)
    if session.scalar(select(Borrower.id).where(Borrower.key == key)) is not None:
        raise Conflict("借阅人编号已存在", field="借阅人编号", value=key)
    user = None
    if username:
        if kind == "external":
            raise InvalidValue("外单位借阅人不能绑定本院用户", field="用户", value=username)
        user = session.scalar(select(User).where(User.username == username.strip()))
        if user is None:
            raise NotFound("没有这个用户", field="用户", value=username)
        if session.scalar(select(Borrower.key).where(Borrower.user_id == user.id)) is not None:
            raise Conflict("该用户已登记为借阅人", field="用户", value=username)
    name = (name or (user.display_name if user else "")).strip()
    if not name:
        raise InvalidValue("请写明借阅人姓名或单位名称", field="姓名", value=key)
    unit, contact_person, letter_ref = unit.strip(), contact_person.strip(), letter_ref.strip()
    if kind == "external":
        for label, value in ((N_("单位"), unit), (N_("联系人"), contact_person), (N_("介绍信编号"), letter_ref)):
            if not value:
                raise InvalidValue("外单位借阅须写明{label}", params={"label": label}, field=label, value=key)
    found = sorted({find_village(session, v) for v in villages if v.strip()}, key=lambda v: v.code)
    if kind == "village_doctor" and not found:
        raise InvalidValue("村医须写明负责的村(居)委会（可写多个）", field="村(居)委会", value=key)
    if found and kind != "village_doctor":
        raise InvalidValue("只有村医绑定村(居)委会", field="村(居)委会", value=key)
    borrower = Borrower(key=key, kind=kind, name=name[:64], user=user, unit=unit[:128],
                        contact_person=contact_person[:64], phone=phone.strip()[:32], letter_ref=letter_ref[:100],
                        active=True, created_at=now, villages=found)
    try:
        with session.begin_nested():
            session.add(borrower)
            session.flush()
    except IntegrityError:
        raise Conflict("借阅人编号或用户已被登记", field="借阅人编号", value=key) from None
    record_event(session, "borrower.added", "borrower", borrower.id, actor=actor, now=now, key=key,
                 borrower_kind=kind, user=user.username if user else None, villages=[v.code for v in found])
    return borrower


def borrower_for_user(session: Session, user: User, *, actor: str, now: datetime) -> Borrower:
    """The borrower a logged-in user requests as, made on first use: staff as staff, a village doctor with the
    villages their user account serves (one whose account names no village must be registered first)."""
    borrower = session.scalar(select(Borrower).where(Borrower.user_id == user.id))
    if borrower is not None:
        if not borrower.active:
            raise Conflict("该借阅人已停用", field="借阅人", value=borrower.key)
        return borrower
    if user.role == "village_doctor":
        if not user.villages:
            raise NotConfigured("村医账号尚未设定负责的村(居)委会，还不能申请调阅：请档案管理员在“借阅人”页登记"
                                "（类别选村医，写明负责的村）", field="用户", value=user.username)
        return add_borrower(session, user.username, kind="village_doctor", name=user.display_name or user.username,
                            username=user.username, villages=[v.code for v in user.villages], actor=actor, now=now)
    return add_borrower(session, user.username, kind="staff", name=user.display_name or user.username,
                        username=user.username, actor=actor, now=now)


def set_borrower_active(session: Session, borrower: Borrower, active: bool, *, actor: str,
                        now: datetime) -> Borrower:
    """Stop (or resume) lending to a borrower; their history stays."""
    if borrower.active != active:
        borrower.active = active
        record_event(session, "borrower.activated" if active else "borrower.deactivated", "borrower", borrower.id,
                     actor=actor, now=now, key=borrower.key)
        session.flush()
    return borrower
