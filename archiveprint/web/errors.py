"""Every error a user can meet, in one place: a Chinese message page with the right status, never a traceback."""

from __future__ import annotations

from flask import Flask, render_template
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from archiveprint.errors import ArchiveprintError
from archiveprint.web.session import rollback

HTTP_MESSAGES = {
    400: (_l("请求有误"), _l("提交的内容不完整或格式不对，请返回重试。")),
    403: (_l("没有权限"), _l("您的角色不能使用此功能。如需使用，请联系管理员。")),
    404: (_l("找不到页面"), _l("没有这个页面或这份档案，请检查地址或重新查找。")),
    405: (_l("操作方式不对"), _l("请从页面上的按钮操作。")),
    413: (_l("文件太大"), _l("上传的文件超过了允许的大小。")),
    500: (_l("系统出错"), _l("处理时出现意外错误，已记录。请稍后重试或联系管理员。")),
}
CSRF_MESSAGE = (_l("页面已过期"), _l("表单缺少安全令牌或已过期，请返回刷新页面后重新提交。"))


def _page(title: object, message: object, status: int) -> ResponseReturnValue:
    return render_template("web/errors/message.html", title=title, message=message, status=status), status


def handle_domain_error(error: ArchiveprintError) -> ResponseReturnValue:
    """A rule of the archive said no: show its Chinese message (with row, field and value) and its status."""
    rollback()
    return _page(_l("无法完成操作"), str(error), error.status)


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
