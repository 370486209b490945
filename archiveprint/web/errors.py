"""Every error a user can meet, in one place: a message page in the reader's language with the right status, never a
traceback."""

from __future__ import annotations

from flask import Flask, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from werkzeug.exceptions import HTTPException, InternalServerError

from archiveprint.errors import ArchiveprintError
from archiveprint.web.i18n import message_of
from archiveprint.web.session import READ_METHODS, rollback

HTTP_MESSAGES = {
    400: (_l("请求有误"), _l("提交的内容不完整或格式不对，请返回重试。")),
    403: (_l("没有权限"), _l("您的角色不能使用此功能。如需使用，请联系管理员。")),
    404: (_l("找不到页面"), _l("没有这个页面或这份档案，请检查地址或重新查找。")),
    405: (_l("操作方式不对"), _l("请从页面上的按钮操作。")),
    413: (_l("文件太大"), _l("上传的文件超过了允许的大小。")),
    500: (_l("系统出错"), _l("处理时出现意外错误，已记录。请稍后重试或联系管理员。")),
}
CSRF_MESSAGE = (_l("页面已过期"), _l("表单缺少安全令牌或已过期，请返回刷新页面后重新提交。"))


# What a refusal's `action` asks the clerk to do, as the page that does it (the command-line `hint` is never shown
# here). A link is offered only to a user whose role may open that page.
ACTIONS: dict[str, tuple[object, str]] = {
    "setup_township": (_l("设置本院所属乡镇"), "settings.township"),
    "load_layout": (_l("载入库房布局"), "locations.layout"),
    "shelve_all": (_l("上架全部未上架的档案袋"), "locations.shelve_all_page"),
    "relayout": (_l("重新排架"), "locations.relayout"),
    "calibrate_printer": (_l("打印机校准"), "printers.calibrate"),
}


def action_link(error: ArchiveprintError) -> tuple[str, str] | None:
    """The label and address of the page that fixes what `error` says is missing, if this user may open it."""
    if error.action not in ACTIONS:
        return None
    label, endpoint = ACTIONS[error.action]
    permission = getattr(current_app.view_functions.get(endpoint), "permission", None)
    if permission and not (current_user.is_authenticated and current_user.can(permission)):
        return None
    return str(label), url_for(endpoint, **error.action_args)


def refusal_text(error: ArchiveprintError) -> Markup:
    """The refusal for a flash message: the message in the reader's language, then the link to the page that
    fixes it."""
    link = action_link(error)
    if link is None:
        return Markup.escape(message_of(error))
    return Markup('{} <a class="refusal-action" href="{}">{}</a>').format(message_of(error), link[1], link[0])


def _page(title: object, message: object, status: int,
          link: tuple[str, str] | None = None) -> ResponseReturnValue:
    return render_template("web/errors/message.html", title=title, message=message, status=status,
                           link=link), status


def handle_domain_error(error: ArchiveprintError) -> ResponseReturnValue:
    """A rule of the archive said no: show its message in the reader's language (with row, field and value), its
    status and the link to the page that fixes it. A fresh installation's missing township leads to the setup page
    instead."""
    rollback()
    if error.action == "setup_township" and current_user.is_authenticated:
        target = request.full_path.rstrip("?") if request.method in READ_METHODS else None
        return redirect(url_for("settings.township", next=target), code=303)
    return _page(_l("无法完成操作"), message_of(error), error.status, action_link(error))


def handle_csrf_error(_error: CSRFError) -> ResponseReturnValue:
    rollback()
    return _page(*CSRF_MESSAGE, 400)


def handle_http_error(error: HTTPException) -> ResponseReturnValue:
    if error.code is None or error.code < 400:
        return error
    rollback()
    title, message = HTTP_MESSAGES.get(error.code, HTTP_MESSAGES[400 if error.code < 500 else 500])
    return _page(title, message, error.code)


def handle_unexpected(_error: InternalServerError) -> ResponseReturnValue:
    # Flask has already logged the exception; the user sees a plain message.
    rollback()
    title, message = HTTP_MESSAGES[500]
    return _page(title, message, 500)


def init_app(app: Flask) -> None:
    app.register_error_handler(ArchiveprintError, handle_domain_error)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(InternalServerError, handle_unexpected)
