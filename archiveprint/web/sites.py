"""全县机构: the county roles' list of sites, the one they work in (every read there is audited with it), and adding
a site (县级管理员)."""

from __future__ import annotations

from flask import Blueprint, Flask, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import StringField
from wtforms.validators import InputRequired, Length, Optional, Regexp

from archiveprint.accounts.scope import apply_scope, scope_for
from archiveprint.accounts.services import audit
from archiveprint.errors import ArchiveprintError
from archiveprint.sites.models import Site
from archiveprint.sites.queries import site_summaries
from archiveprint.sites.services import add_site
from archiveprint.web.auth import SITE_KEY, current_account, requires, safe_next_url
from archiveprint.web.i18n import message_of
from archiveprint.web.session import db_session, rollback
from archiveprint.web.township import CountyInput, clean

bp = Blueprint("sites", __name__, url_prefix="/sites")


class SiteInput(CountyInput):
    """新增机构: its code (what the CLI's --site names), its name, county and township codes."""

    code = StringField(_l("机构代码"), filters=[clean], validators=[
        InputRequired(_l("请填写机构代码")), Regexp(r"^\S{1,32}$", message=_l("机构代码应为1–32个字符，不含空格"))])
    name = StringField(_l("机构名称"), filters=[clean], validators=[
        InputRequired(_l("请填写机构名称")), Length(max=128, message=_l("名称不能超过128个字"))])
    township_code = StringField(_l("乡镇(街道)代码"), filters=[clean], validators=[
        InputRequired(_l("请填写乡镇(街道)代码（3位数字）")),
        Regexp(r"^(?!000)\d{3}$", message=_l("乡镇(街道)代码应为3位数字（001–999）"))])
    township_name = StringField(_l("乡镇(街道)名称"), filters=[clean], validators=[
        Optional(), Length(max=64, message=_l("名称不能超过64个字"))])


def _page(form: SiteInput, *, status: int = 200) -> ResponseReturnValue:
    return render_template("web/sites/index.html", sites=site_summaries(db_session()), form=form,
                           current=session.get(SITE_KEY), next_url=request.args.get("next", "")), status


@bp.get("")
@requires("choose_site")
def index() -> ResponseReturnValue:
    """Every site with its size; 进入 makes it the one the county role works in."""
    return _page(SiteInput())


@bp.post("/enter")
@requires("choose_site")
def enter() -> ResponseReturnValue:
    site = db_session().get(Site, request.form.get("site", type=int) or 0)
    if site is None:
        flash(_("没有这个机构"), "error")
        return redirect(url_for("sites.index"), code=303)
    session[SITE_KEY] = site.id
    user = current_account().user
    scope = scope_for(db_session(), user, site_id=site.id)
    apply_scope(db_session(), scope)
    audit(db_session(), user, "enter", "site", site.code, detail=site.name)  # names the site every read is in
    db_session().commit()
    flash(_("现在在 %(name)s 工作", name=site.name), "success")
    next_url = request.args.get("next")
    return redirect(safe_next_url(next_url) if next_url else url_for("register.search"), code=303)


@bp.post("")
@requires("manage_sites")
def create() -> ResponseReturnValue:
    form = SiteInput()
    if not form.validate_on_submit():
        return _page(form, status=400)
    try:
        site = add_site(db_session(), form.code.data or "", name=form.name.data or "",
                        county_code=form.county_code.data or "", county_name=form.county_name.data or "",
                        township_code=form.township_code.data or "", township_name=form.township_name.data or "",
                        actor=current_account().username)
        db_session().commit()
    except ArchiveprintError as error:
        rollback()
        field = {"机构代码": form.code, "乡镇代码": form.township_code, "县代码": form.county_code}.get(
            error.field or "", form.code)
        field.errors = [message_of(error, alone=True)]
        return _page(form, status=error.status)
    flash(_("已新增机构：%(name)s（%(code)s）", name=site.name, code=site.code), "success")
    return redirect(url_for("sites.index"), code=303)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
