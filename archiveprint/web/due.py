"""本月随访包 in the print centre: choose the month and villages (or a village doctor's), see who is due and what the
packet will hold, print it as a background job (packet + 调档单)."""

from __future__ import annotations

import re
from datetime import date

from flask import Blueprint, Flask, render_template
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField
from wtforms.validators import Optional, Regexp

from archiveprint.accounts.scope import VILLAGE_SCOPED_ROLES
from archiveprint.accounts.services import list_users
from archiveprint.due.packet import TITLE, PacketPlan, plan_packet
from archiveprint.due.services import packet_villages
from archiveprint.errors import ArchiveprintError, InvalidValue
from archiveprint.jobs.names import file_names
from archiveprint.jobs.parts import packet_counts, plan_due_run
from archiveprint.register.queries import list_villages
from archiveprint.web.auth import current_account, requires
from archiveprint.web.forms import submit_job, submit_run
from archiveprint.web.i18n import message_of
from archiveprint.web.responses import audit_shown
from archiveprint.web.session import db_session, rollback, today

bp = Blueprint("due", __name__)
LIST_SHOWN = 200  # rows of the due list on the page; the printed cover list has them all
MONTH = re.compile(r"^\s*(\d{4})-(\d{1,2})\s*$")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


class DuePacketInput(FlaskForm):
    """The month and whose villages: chosen ones, a village doctor's, or (neither) every village the user sees."""

    month = StringField(_l("月份"), validators=[
        Optional(), Regexp(MONTH.pattern, message=_l("月份的格式为“年-月”，如 2026-12"))])
    villages = SelectMultipleField(_l("村(居)委会"), default=[], validate_choice=False)  # find_village refuses
    doctor = SelectField(_l("村医"), default="")
    per_village = BooleanField(_l("按村分批（每村一份随访包和调档单，打包下载）"))


def village_doctor() -> bool:
    """A village doctor prints for his own villages only (the scope hook hides the others too)."""
    return current_account().role in VILLAGE_SCOPED_ROLES


def _input() -> DuePacketInput:
    session = db_session()
    form = DuePacketInput()
    form.villages.choices = [(village.code, _("%(code)s %(name)s（%(n)s人）", code=village.code, name=village.name,
                                              n=residents))
                             for village, _households, residents in list_villages(session)]
    doctors = [] if village_doctor() else [
        (user.username, _("%(name)s（%(villages)s）", name=user.display_name or user.username,
                          villages="、".join(v.name for v in user.villages) or _("未设负责村")))
        for user in list_users(session) if user.role == "village_doctor" and user.active]
    form.doctor.choices = [("", _("（不选）")), *doctors]
    return form


def _month(text: str | None) -> date:
    """The month typed (YYYY-MM), or this month when left blank."""
    if not (text or "").strip():
        return today().replace(day=1)
    found = MONTH.match(text or "")
    if found and 1 <= int(found.group(2)) <= 12 and int(found.group(1)) >= 1:
        return date(int(found.group(1)), int(found.group(2)), 1)
    raise InvalidValue("没有这个月份：{month}", params={"month": (text or "").strip()[:10]}, field="月份",
                       value=(text or "").strip()[:10])


def _villages(form: DuePacketInput) -> list[str] | None:
    """The villages' codes asked for (None: every village): those ticked, a village doctor's, or all."""
    session = db_session()
    chosen = list(form.villages.data or [])
    if village_doctor():
        chosen = chosen or [village.code for village in current_account().user.villages]
        if not chosen:
            raise InvalidValue("您还没有负责的村(居)委会，请管理员在用户页设置", field="村(居)委会")
        return packet_villages(session, villages=chosen)
    return packet_villages(session, villages=chosen, doctor=form.doctor.data or None, everyone=True)


def _plan(form: DuePacketInput) -> tuple[list[str] | None, PacketPlan]:
    """The villages' codes (None: every village) and what the packet will hold for the month and villages asked
    (their names, in Chinese as printed, in `plan.villages`)."""
    session = db_session()
    month = _month(form.month.data)
    codes = _villages(form)
    names = {village.code: village.name for village, _h, _r in list_villages(session)}
    words = "全部村" if codes is None else "、".join(names.get(code, code) for code in codes)
    return codes, plan_packet(session, month, villages=codes, villages_text=words)


def _page(form: DuePacketInput, *, status: int = 200, **context: object) -> ResponseReturnValue:
    context.setdefault("plan", None)
    context.setdefault("error", None)
    return render_template("web/due/packet.html", form=form, this_month=today().replace(day=1),
                           village_doctor=village_doctor(), shown_max=LIST_SHOWN, **context), status


@bp.get("/print/due")
@requires("print")
def packet() -> ResponseReturnValue:
    return _page(_input())


@bp.post("/print/due/preview")
@requires("print")
def preview() -> ResponseReturnValue:
    """Who is due and what the packet will hold (counts by schedule, new sheets and 续填, dates missing, the list),
    before anything is printed. The names listed are audited."""
    form = _input()
    if not form.validate_on_submit():
        return _page(form, status=400)
    try:
        codes, plan = _plan(form)
    except ArchiveprintError as error:
        return _refused(form, error)
    shown = plan.due.items[:LIST_SHOWN]
    audit_shown("view", [item.household_id for item in shown], f"{TITLE}预览 {plan.due.month:%Y-%m} {plan.villages}")
    return _page(form, plan=plan, shown=shown, villages_text=_villages_shown(codes, plan.villages))


@bp.post("/print/due/start")
@requires("print")
def start() -> ResponseReturnValue:
    """开始打印: refuse a packet with nobody due or names the font lacks, record the job, hand it on."""
    form = _input()
    if not form.validate_on_submit():
        return _page(form, status=400)
    if form.per_village.data:
        try:
            run_plan = plan_due_run(db_session(), _month(form.month.data), villages=_villages(form),
                                    today=today(), user_id=current_account().user.id)
        except ArchiveprintError as error:
            return _refused(form, error)
        return submit_run(run_plan)
    try:
        codes, plan = _plan(form)
        plan.check()
    except ArchiveprintError as error:
        return _refused(form, error)
    day = today()
    month, words = plan.due.month, plan.villages
    whose = [(words, "-".join(codes) if codes else "all"), (f"{month:%Y年%m月}", f"{month:%Y%m}")]
    shown, stored = file_names((TITLE, "due"), whose, day)
    picklist_shown, _picklist_stored = file_names(("调档单", "picklist"), whose, day)
    return submit_job("due", {
        "month": f"{month:%Y-%m}", "villages": codes, "villages_text": words,
        "set_name": _("本月随访包"), "scope_text": _("%(month)s，%(villages)s", month=f"{month:%Y-%m}",
                                                   villages=_villages_shown(codes, words)),
        "filename": f"{stored}.pdf", "download_stem": shown,
        "download_names": {f"{stored}.pdf": f"{shown}.pdf", f"{stored}-picklist.pdf": f"{picklist_shown}.pdf"},
        "user_id": current_account().user.id, "today": day.isoformat(), **packet_counts(plan),
    })


def _refused(form: DuePacketInput, error: ArchiveprintError) -> ResponseReturnValue:
    """A refusal (a month that does not exist, a village not one's own, nobody due …) shown above the choices."""
    rollback()
    return _page(form, error=message_of(error), status=error.status)


def _villages_shown(codes: list[str] | None, words: str) -> str:
    """The villages as the page shows them: their names, or 全部村 in the reader's language."""
    return _("全部村") if codes is None else words
