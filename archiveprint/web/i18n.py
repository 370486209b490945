"""Languages and display words: Simplified Chinese by default, English by a `lang` cookie from the header switch."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path

from flask import Blueprint, Flask, abort, current_app, redirect, request
from flask.typing import ResponseReturnValue
from flask_babel import Babel, format_datetime, get_locale, gettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from archiveprint.errors import ArchiveprintError, Message
from archiveprint.locations.queries import FolderStatus
from archiveprint.register.codes import format_code
from archiveprint.web.session import lending_rules

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
LANGUAGES = {"zh_CN": "中文", "en": "English"}
COOKIE = "lang"
COOKIE_AGE = 400 * 24 * 3600  # the longest age browsers keep

bp = Blueprint("i18n", __name__)

# Codes stored in the database, as each language shows them. Tests check the keys against the sources
# (accounts/roles.py, register/names.py, register/services.py) so a new code cannot go unlabelled.
ROLE_LABELS = {"admin": _l("管理员"), "clerk": _l("档案管理员"), "doctor": _l("医生"),
               "village_doctor": _l("村医"), "viewer": _l("只读/督导"), "county_admin": _l("县级管理员"),
               "county_supervisor": _l("县级督导"), "county_print": _l("县级打印")}
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
    "due_date": _l("预产期"), "delivery_date": _l("分娩日期"), "tb_treatment_start": _l("结核治疗开始日期"),
    "schedule": _l("服务项目"), "visit": _l("服务"), "visit_id": _l("记录号"),
    "form": _l("表单"), "form_number": _l("表单编号"), "page": _l("页"), "received_on": _l("收到日期"),
    "batch": _l("回收批次"), "how": _l("识别方式"),
}
EVENT_LABELS = {
    "resident.registered": _l("建档"), "resident.updated": _l("修改信息"), "resident.moved": _l("迁户"),
    "resident.closed": _l("结案"), "resident.reopened": _l("恢复档案"), "resident.tags_changed": _l("人群分类变更"),
    "resident.imported": _l("导入"), "resident.flagged": _l("标记待核实"), "resident.review_cleared": _l("已核实"),
    "household.created": _l("建户"), "household.updated": _l("修改户信息"),
    "service.recorded": _l("登记服务"), "service.voided": _l("撤销服务记录"),
    "form.returned": _l("回收归档"),
}
INTAKE_HOW_LABELS = {"mark": _l("读取条码"), "manual": _l("人工指定")}  # how a returned page was filed (回收归档)
# The 看板's recent activity: each kind of event (eventlog.record_event) in a word; a kind not listed is shown as
# 其他操作.
ACTIVITY_LABELS = {
    **EVENT_LABELS,
    "folder.moved": _l("档案袋移位"), "folder.taken_out": _l("取出档案袋"), "folder.put_back": _l("档案袋归还上架"),
    "folder.found": _l("档案袋找到归位"), "folder.missing": _l("登记档案袋下落不明"),
    "folder.closed": _l("档案袋移入结案区"),
    "folder.reopened": _l("档案袋从结案区取回"), "folder.released": _l("档案袋移出档案室"),
    "location.shelved": _l("整村上架"), "location.relayout": _l("重新排架"), "layout.applied": _l("启用库房布局"),
    "inventory.started": _l("开始盘点"), "inventory.uploaded": _l("上传盘点扫描"), "inventory.closed": _l("结束盘点"),
    "handover.recorded": _l("档案移交"), "site.transferred": _l("机构撤并移交"),
    "loan.checked_out": _l("借出"), "loan.returned": _l("归还"), "loan.found": _l("遗失的档案袋找回"),
    "loan.renewed": _l("续借"), "loan.lost": _l("登记借出遗失"), "loan.written_off": _l("遗失注销"),
    "folder.written_off": _l("档案袋确认遗失注销"),
    "loan_request.created": _l("借阅申请"), "loan_request.approved": _l("批准借阅申请"),
    "loan_request.refused": _l("不批准借阅申请"), "loan_request.cancelled": _l("取消借阅申请"),
    "loan_request.expired": _l("借阅申请过期"), "loan_request.evidence": _l("补充借阅申请材料"),
    "borrower.added": _l("登记借阅人"), "borrower.activated": _l("启用借阅人"),
    "borrower.deactivated": _l("停用借阅人"),
    "population.recorded": _l("录入常住人口"),
    "inspection.drawn": _l("抽查抽样"), "inspection.checked": _l("抽查记录结果"),
    "inspection.replaced": _l("抽查替换档案袋"),
    "inspection.unavailable": _l("抽查登记未调到"), "inspection.available": _l("抽查撤销未调到"),
    "inspection.signed": _l("抽查签署"), "inspection.task_done": _l("整改完成"),
    "village.added": _l("新增村(居)委会"), "township.configured": _l("设置本院所属乡镇"),
    "township.updated": _l("修改本院信息"), "form_set.created": _l("新建自定义套组"),
    "form_set.deleted": _l("删除自定义套组"),
    "label_printer.set": _l("设置标签打印机"), "label_printer.deleted": _l("删除标签打印机"),
    "user.created": _l("新建用户"), "user.activated": _l("启用用户"), "user.deactivated": _l("停用用户"),
    "user.password_changed": _l("修改密码"), "user.password_reset": _l("重设密码"), "user.role_changed": _l("更改角色"),
    "user.villages_changed": _l("更改负责的村"),
}
JOB_STATUS_LABELS = {"queued": _l("排队中"), "running": _l("正在生成"), "done": _l("完成"), "failed": _l("失败"),
                     "partial": _l("部分完成")}  # partial: a print run some of whose villages failed

# The archive room's words: where a folder is, and what was done to it.
FOLDER_STATUS_LABELS = {"on_shelf": _l("在架"), "out": _l("已取出"), "lent": _l("借出"), "missing": _l("下落不明"),
                        "closed": _l("结案区"), "unshelved": _l("未上架"), "gone": _l("已移出档案室")}
MOVEMENT_LABELS = {"shelve": _l("上架"), "move": _l("移位"), "relayout": _l("重新排架"), "take_out": _l("取出"),
                   "put_back": _l("归还"), "missing": _l("登记下落不明"), "found": _l("找到归位"),
                   "close": _l("移入结案区"), "reopen": _l("从结案区取回"), "release": _l("移出档案室")}
# The level words a layout spells its addresses with (列, 面, 层 …) and the position (第17位) are ours to translate;
# room and block names are the site's own and stay as written.
LEVEL_WORDS = {"区": _l("%(code)s区"), "排": _l("%(code)s排"), "列": _l("%(code)s列"), "面": _l("%(code)s面"),
               "节": _l("%(code)s节"), "层": _l("%(code)s层"), "柜": _l("%(code)s柜"), "架": _l("%(code)s架"),
               "格": _l("%(code)s格"), "位": _l("第%(code)s位")}
_ADDRESS_TOKEN = re.compile(r"^第?([0-9A-Za-z]+)\s*(区|排|列|面|节|层|柜|架|格|位)$")

# Lending's words: a request's state, a kind of borrower, and the words we ship (templates/lending/rules.yaml
# purposes and conditions, and what a request still lacks) by their Chinese text: a site that renamed one in its
# own rules file sees its own word, as written.
REQUEST_STATE_LABELS = {"open": _l("待放行"), "released": _l("已放行"), "cancelled": _l("已取消"),
                        "refused": _l("未获批准"), "expired": _l("已过期")}
LOAN_STATE_LABELS = {"out": _l("借出中"), "lost": _l("已登记丢失"), "returned": _l("已归还"),
                     "written_off": _l("遗失注销"), "open": _l("未还（借出中或丢失）"), "overdue": _l("已逾期")}
BORROWER_KIND_LABELS = {"staff": _l("本院职工"), "village_doctor": _l("村医"), "external": _l("外单位")}
LENDING_WORDS = {
    "复诊": _l("复诊"), "随访": _l("随访"), "入户服务": _l("入户服务"), "转诊/会诊": _l("转诊/会诊"),
    "督导检查": _l("督导检查"), "其他": _l("其他"), "完好": _l("完好"), "缺页": _l("缺页"), "破损": _l("破损"),
    "书面申请（申请编号）": _l("书面申请（申请编号）"), "书面申请扫描件": _l("书面申请扫描件"),
    "居民或监护人同意的证明": _l("居民或监护人同意的证明"), "同意书扫描件": _l("同意书扫描件"), "审批": _l("审批"),
}


def select_locale() -> str:
    lang = request.cookies.get(COOKIE)
    return lang if lang in LANGUAGES else current_app.config["BABEL_DEFAULT_LOCALE"]


@bp.get("/lang/<code>")
def switch(code: str) -> ResponseReturnValue:
    """The header's 中文/English link: remember the choice in a cookie and go back to the same page."""
    if code not in LANGUAGES:
        abort(404)
    from archiveprint.web.auth import safe_next_url  # lazy: cycle — web.auth shows its refusals through message_of

    response = redirect(safe_next_url(request.args.get("next")))
    response.set_cookie(COOKIE, code, max_age=COOKIE_AGE, httponly=True, samesite="Lax")
    return response


def select_timezone() -> str:
    """Times are shown in the site's zone (the lending rules' `timezone`, Asia/Shanghai unless the site says
    otherwise), the same zone scanner files are read in and printed records are dated in."""
    return lending_rules().timezone


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


def wall_clock(value: datetime | None) -> str:
    """A time already in local wall-clock time (loan views carry them so), to the minute."""
    return f"{value:%Y-%m-%d %H:%M}" if value else "—"


def shelf_address(text: str | None) -> str:
    """A shelf address (一号库房 3列 A面 2层 第17位) in the interface language: the level words translated, the
    site's names (一号库房) kept."""
    if not text or str(get_locale()) == "zh_CN":
        return text or ""
    words = []
    for token in text.split(" "):
        matched = _ADDRESS_TOKEN.match(token)
        words.append(str(LEVEL_WORDS[matched.group(2)]) % {"code": matched.group(1)} if matched else token)
    return " ".join(words)


def folder_status(status: FolderStatus) -> str:
    """A folder's status in the interface language: 在架, 借出：张医生（自 2026-11-20）…"""
    text = label(FOLDER_STATUS_LABELS, status.code)  # type: ignore[arg-type]
    if status.code in ("out", "lent") and status.holder:
        text = f"{text}：{status.holder}"
    if status.since and status.code not in ("on_shelf", "unshelved", "closed"):
        text = _("%(status)s（自 %(day)s）", status=text, day=f"{status.since:%Y-%m-%d}")
    return text


def touch_action(code: str) -> str:
    """What someone did to a folder or its household, in the interface language (上架, 建户 …), never a code."""
    if code in MOVEMENT_LABELS:
        return label(MOVEMENT_LABELS, code)  # type: ignore[arg-type]
    return label(EVENT_LABELS, code) if code in EVENT_LABELS else _("其他操作")  # type: ignore[arg-type]


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
        activity=lambda code: label(ACTIVITY_LABELS, code) if code in ACTIVITY_LABELS else _("其他操作"),
        job_status=lambda code: label(JOB_STATUS_LABELS, code),
        day=show_date,
        moment=show_moment,
        archive_code=grouped_code,
        address=shelf_address,
        folder_status=folder_status,
        movement_kind=lambda code: label(MOVEMENT_LABELS, code),
        touch_action=touch_action,
        request_state=lambda code: label(REQUEST_STATE_LABELS, code),
        loan_state=lambda code: label(LOAN_STATE_LABELS, code),
        borrower_kind=lambda code: label(BORROWER_KIND_LABELS, code),
        lending_word=lambda text: label(LENDING_WORDS, text),  # a site's own word stays as written
        local_moment=wall_clock,
        message=shown_message,
    )

    @app.context_processor
    def _languages() -> dict[str, object]:
        return {"languages": LANGUAGES, "current_locale": select_locale()}

    app.register_blueprint(bp)
