"""Languages and display words: Simplified Chinese by default, English by a `lang` cookie from the header switch."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path

from flask import Blueprint, Flask, abort, current_app, redirect, request
from flask.typing import ResponseReturnValue
from flask_babel import Babel, format_datetime, gettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from archiveprint.errors import ArchiveprintError, Message
from archiveprint.register.codes import format_code

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
LANGUAGES = {"zh_CN": "中文", "en": "English"}
COOKIE = "lang"
COOKIE_AGE = 400 * 24 * 3600  # the longest age browsers keep

bp = Blueprint("i18n", __name__)

# Codes stored in the database, as each language shows them. Tests check the keys against the sources
# (accounts/roles.py, register/names.py, register/services.py) so a new code cannot go unlabelled.
ROLE_LABELS = {"admin": _l("管理员"), "clerk": _l("档案管理员"), "doctor": _l("医生"),
               "village_doctor": _l("村医"), "viewer": _l("只读/督导")}
SEX_LABELS = {"0": _l("未知的性别"), "1": _l("男"), "2": _l("女"), "9": _l("未说明的性别")}
STATUS_LABELS = {"active": _l("在档"), "closed": _l("已结案")}
CLOSE_REASON_LABELS = {"death": _l("死亡"), "moved": _l("迁出"), "lost": _l("失访"), "other": _l("其他")}
FIELD_LABELS = {
    "name": _l("姓名"), "sex": _l("性别"), "birth_date": _l("出生日期"), "id_number": _l("身份证号"),
    "phone": _l("联系电话"), "address": _l("现住址"), "registered_on": _l("建档日期"),
    "relation_to_head": _l("与户主关系"), "tags": _l("人群分类"), "household": _l("所在户"),
    "from_household": _l("原户"), "to_household": _l("新户"), "reason": _l("原因"), "on": _l("日期"),
    "note": _l("备注"), "why": _l("原因"), "village": _l("所属村(居)委会"), "number": _l("户序号"),
    "head_name": _l("户主姓名"), "external_no": _l("户号"), "code": _l("代码"), "review": _l("待核实"),
}
EVENT_LABELS = {
    "resident.registered": _l("建档"), "resident.updated": _l("修改信息"), "resident.moved": _l("迁户"),
    "resident.closed": _l("结案"), "resident.reopened": _l("恢复档案"), "resident.tags_changed": _l("人群分类变更"),
    "resident.imported": _l("导入"), "resident.flagged": _l("标记待核实"), "resident.review_cleared": _l("已核实"),
    "household.created": _l("建户"), "household.updated": _l("修改户信息"),
}
JOB_STATUS_LABELS = {"queued": _l("排队中"), "running": _l("正在生成"), "done": _l("完成"), "failed": _l("失败")}


def select_locale() -> str:
    lang = request.cookies.get(COOKIE)
    return lang if lang in LANGUAGES else current_app.config["BABEL_DEFAULT_LOCALE"]


@bp.get("/lang/<code>")
def switch(code: str) -> ResponseReturnValue:
    """The header's 中文/English link: remember the choice in a cookie and go back to the same page."""
    from archiveprint.web.auth import safe_next_url

    if code not in LANGUAGES:
        abort(404)
    response = redirect(safe_next_url(request.args.get("next")))
    response.set_cookie(COOKIE, code, max_age=COOKIE_AGE, httponly=True, samesite="Lax")
    return response


def select_timezone() -> str:
    """Times are shown in the site's zone (the lending rules' `timezone`, Asia/Shanghai unless the site says
    otherwise), the same zone scanner files are read in and printed records are dated in."""
    from archiveprint.lending.rules import site_rules
    from archiveprint.web.session import state

    return site_rules(state().settings.instance_dir).timezone


def label(table: dict[str, object], code: str | None) -> str:
    """A code's label in the current language; an unknown code is shown as it is."""
    if code is None:
        return ""
    return str(table.get(code, code))


def message_of(error: ArchiveprintError, *, alone: bool = False) -> str:
    """A domain error in the reader's language: row, field and value, then the message (`alone`: the message only,
    beside the form field it is about). The command line prints str(error), the Chinese as written."""
    return error.translated(gettext) if alone else error.render(gettext)


def shown_message(text: object, kept: Mapping[str, object] | None = None) -> str:
    """A domain message kept as text (a job's error, a 待核实 reason, a reason in an import report) in the reader's
    language: a Message, or its `kept` values (findings.kept_message), with its params; other text is looked up
    as a msgid (constants are) and shown as it is when it is none."""
    if isinstance(text, Message):
        return text.render(gettext)
    if kept:
        return Message.from_values(kept).render(gettext)
    return gettext(str(text)) if text else ""


def show_date(value: date | None) -> str:
    return value.isoformat() if value else "—"


def show_moment(value: datetime | None) -> str:
    """A stored UTC timestamp in the township's local time."""
    return format_datetime(value, "yyyy-MM-dd HH:mm") if value else "—"


def grouped_code(code: str | None) -> Markup:
    """An archive code grouped 6-3-3-5 as the folder cover prints it, kept on one line."""
    return Markup('<span class="code">{}</span>').format(format_code(code or ""))


def init_app(app: Flask, default_locale: str) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", default_locale if default_locale in LANGUAGES else "zh_CN")
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    Babel(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.jinja_env.filters.update(
        role=lambda code: label(ROLE_LABELS, code),
        sex=lambda code: label(SEX_LABELS, code),
        status=lambda code: label(STATUS_LABELS, code),
        close_reason=lambda code: label(CLOSE_REASON_LABELS, code),
        field=lambda code: label(FIELD_LABELS, code),
        event_kind=lambda code: label(EVENT_LABELS, code),
        job_status=lambda code: label(JOB_STATUS_LABELS, code),
        day=show_date,
        moment=show_moment,
        archive_code=grouped_code,
        message=shown_message,
    )

    @app.context_processor
    def _languages() -> dict[str, object]:
        return {"languages": LANGUAGES, "current_locale": select_locale()}

    app.register_blueprint(bp)
