"""本院设置: the archive's own township, set once in the browser on a fresh installation, then shown read-only."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy.exc import IntegrityError
from wtforms import StringField
from wtforms.validators import InputRequired, Length, Optional, Regexp

from archiveprint.errors import ArchiveprintError
from archiveprint.register.models import Township
from archiveprint.register.services import configure_township, find_township
from archiveprint.register.text import to_halfwidth
from archiveprint.web.auth import current_account, requires, safe_next_url
from archiveprint.web.i18n import message_of
from archiveprint.web.session import db_session, rollback

bp = Blueprint("settings", __name__, url_prefix="/settings")


def clean(value: str | None) -> str | None:
    return to_halfwidth(value).strip() if value else value


class CountyInput(FlaskForm):
    """The county's code and name, as a township's and a site's forms ask for them."""

    county_code = StringField(_l("县级行政区划代码"), filters=[clean], validators=[
        InputRequired(_l("请填写县级行政区划代码（6位数字）")),
        Regexp(r"^\d{6}$", message=_l("县级行政区划代码应为6位数字"))])
    county_name = StringField(_l("县(市、区)名称"), filters=[clean], validators=[
        InputRequired(_l("请填写县(市、区)名称")), Length(max=64, message=_l("名称不能超过64个字"))])


class TownshipInput(CountyInput):
    """设置本院所属乡镇: the codes are the first 9 digits of every archive code (6 county + 3 township)."""

    code = StringField(_l("乡镇(街道)代码"), filters=[clean], validators=[
        InputRequired(_l("请填写乡镇(街道)代码（3位数字）")),
        Regexp(r"^(?!000)\d{3}$", message=_l("乡镇(街道)代码应为3位数字（001–999）"))])
    name = StringField(_l("乡镇(街道)名称"), filters=[clean], validators=[
        InputRequired(_l("请填写乡镇(街道)名称")), Length(max=64, message=_l("名称不能超过64个字"))])
    unit_name = StringField(_l("本院名称"), filters=[clean], validators=[
        Optional(), Length(max=128, message=_l("名称不能超过128个字"))])


def _township() -> Township | None:
    return find_township(db_session())


def _page(form: TownshipInput, *, status: int = 200) -> ResponseReturnValue:
    return render_template("web/settings/township.html", township=_township(), form=form,
                           next_url=request.args.get("next", "")), status


@bp.get("/township")
@requires("view_person")
def township() -> ResponseReturnValue:
    """The township this archive belongs to. Before it is set: the setup form for an administrator, a request to
    ask one for everyone else (every page that needs it leads here instead of failing)."""
    return _page(TownshipInput())


@bp.post("/township")
@requires("configure_site")
def configure() -> ResponseReturnValue:
    """Set the township once (the codes of every archive code follow from it); afterwards it is read-only here."""
    form = TownshipInput()
    if not form.validate_on_submit():
        return _page(form, status=400)
    session = db_session()
    if _township() is not None:  # set already (a second tab, a double click): never changed from the web
        return redirect(url_for("settings.township"), code=303)
    try:
        configure_township(session, form.county_code.data or "", form.county_name.data or "", form.code.data or "",
                           form.name.data or "", unit_name=form.unit_name.data or "",
                           actor=current_account().username)
        session.commit()
    except ArchiveprintError as error:
        rollback()
        (form.county_code if error.field == "县代码" else form.code).errors = [message_of(error, alone=True)]
        return _page(form, status=error.status)
    except IntegrityError:  # another administrator set it a moment ago
        rollback()
        return redirect(url_for("settings.township"), code=303)
    flash(_("已设置本院所属乡镇：%(county)s %(name)s（档案编号前9位 %(prefix)s）", county=form.county_name.data,
            name=form.name.data, prefix=f"{form.county_code.data}-{form.code.data}"), "success")
    next_url = request.args.get("next")
    return redirect(safe_next_url(next_url) if next_url else url_for("settings.township"), code=303)
