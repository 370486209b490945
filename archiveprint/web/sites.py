"""全县机构: the county roles' list of sites, the one they work in (every read there is audited with it), adding a
site and transferring a site or some of its villages to another (机构撤并) — both 县级管理员's."""

from __future__ import annotations

from fnmatch import fnmatch
from pathlib import Path

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional, Regexp

from archiveprint.accounts.scope import AccessScope, apply_scope, scope_for
from archiveprint.accounts.services import audit
from archiveprint.db import utcnow
from archiveprint.errors import ArchiveprintError
from archiveprint.sites.documents import NAMES, transfer_folder, write_documents
from archiveprint.sites.models import Site
from archiveprint.sites.queries import site_summaries
from archiveprint.sites.services import add_site
from archiveprint.sites.transfer import Transfer, find_transfer, transfer_villages
from archiveprint.web.auth import SITE_KEY, current_account, current_actor, requires, safe_next_url
from archiveprint.web.i18n import message_of
from archiveprint.web.locations import status_providers
from archiveprint.web.responses import note_refusal, send_download
from archiveprint.web.session import commit_audit, db_session, lending_rules, rollback, state
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
    chosen = request.form.get("site", "")
    site = db_session().get(Site, int(chosen)) if chosen.isdigit() else None
    if site is None:  # a list shown before a change (or a hand-made request)
        flash(_("没有编号为 %(value)s 的机构，请在列表中重新选择", value=chosen[:32]), "error")
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
    # The installation's, as `site add` runs (cli: installation_db): not kept to the site the administrator may be
    # in — whose scope would hide another site's township (taken, yet not found) or be a closed site's history.
    apply_scope(db_session(), AccessScope())
    try:
        site = add_site(db_session(), form.code.data or "", name=form.name.data or "",
                        county_code=form.county_code.data or "", county_name=form.county_name.data or "",
                        township_code=form.township_code.data or "", township_name=form.township_name.data or "",
                        actor=current_account().username)
        db_session().commit()
    except ArchiveprintError as error:
        field = {"机构代码": form.code, "机构名称": form.name, "乡镇代码": form.township_code,
                 "县代码": form.county_code}.get(error.field or "")
        if field is None:  # about no one field (the database): above the form, with its field and value
            note_refusal(error)
        else:
            rollback()
            field.errors = [message_of(error, alone=True)]
        return _page(form, status=error.status)
    flash(_("已新增机构：%(name)s（%(code)s）", name=site.name, code=site.code), "success")
    return redirect(url_for("sites.index"), code=303)


# --- transfers between sites (机构撤并) ---------------------------------------------------------------------------

class TransferInput(FlaskForm):
    """移交: which site hands over, which receives, the villages (none: the whole site), the supervisor; the
    confirm carries the preview's check code."""

    # validate_choice off: a site not (or no longer) offered is refused by the service, in its words
    source = SelectField(_l("移交机构"), validators=[InputRequired(_l("请选择移交机构"))], validate_choice=False)
    target = SelectField(_l("接收机构"), validators=[InputRequired(_l("请选择接收机构"))], validate_choice=False)
    villages = StringField(_l("只移交这些村(居)委会"), filters=[clean], validators=[
        Optional(), Length(max=500, message=_l("不能超过500个字"))])
    supervisor = StringField(_l("监交人"), filters=[clean], validators=[
        Optional(), Length(max=100, message=_l("不能超过100个字"))])
    fingerprint = HiddenField()

    def choose_from(self, sites: list[Site]) -> TransferInput:
        choices = [("", _("（请选择）"))] + [(site.code, f"{site.code} {site.name}") for site in sites]
        self.source.choices = self.target.choices = choices
        return self

    @property
    def village_list(self) -> list[str]:
        return [part for part in (self.villages.data or "").replace("，", " ").replace(",", " ").split() if part]


def _active_sites() -> list[Site]:
    return [site for site in db_session().scalars(select(Site).order_by(Site.id)) if not site.closed]


DOCUMENT_TITLES = {"handover": _l("移交清单（一式三份）"), "picklist": _l("调档单（原库房行走顺序）"),
                   "labels": _l("架位标签（接收机构）")}
DOWNLOAD_NAMES = {"handover": "移交清单", "picklist": "调档单", "labels": "架位标签"}


COUNT_TITLES = {"villages": _l("村(居)委会"), "households": _l("户"), "residents": _l("居民"),
                "folders_on_shelves": _l("在架档案袋"), "movements": _l("位置记录"), "loans": _l("借阅记录"),
                "shelves": _l("架位")}


def _transfer_page(form: TransferInput, preview: Transfer | None = None, *, status: int = 200) -> ResponseReturnValue:
    return render_template("web/sites/transfer.html", form=form, preview=preview, titles=DOCUMENT_TITLES,
                           count_titles=COUNT_TITLES), status


def _carry_out(form: TransferInput, *, dry_run: bool) -> Transfer:
    return transfer_villages(db_session(), form.source.data or "", form.target.data or "", villages=form.village_list,
                             supervisor=form.supervisor.data or "", expected=None if dry_run else form.fingerprint.data,
                             providers=status_providers(), dry_run=dry_run, actor=current_actor(), now=utcnow())


@bp.get("/transfer")
@requires("manage_sites")
def transfer() -> ResponseReturnValue:
    """The form: which site (or which of its villages) goes to which."""
    return _transfer_page(TransferInput(formdata=None).choose_from(_active_sites()))


@bp.post("/transfer/preview")
@requires("manage_sites")
def transfer_preview() -> ResponseReturnValue:
    """The dry run: the counts of both sites before and after, and the documents that will be printed; nothing is
    kept (the same work is done in a savepoint and rolled back)."""
    form = TransferInput().choose_from(_active_sites())
    if not form.validate_on_submit():
        return _transfer_page(form, status=400)
    try:
        preview = _carry_out(form, dry_run=True)
    except ArchiveprintError as error:
        note_refusal(error)
        return _transfer_page(form, status=error.status)
    rollback()
    form.fingerprint.data = preview.fingerprint
    return _transfer_page(form, preview)


@bp.post("/transfer")
@requires("manage_sites")
def transfer_confirm() -> ResponseReturnValue:
    """Carry out the transfer the clerk saw (same check code) and write its documents, in one transaction."""
    form = TransferInput().choose_from(_active_sites())
    if not form.validate_on_submit() or not form.fingerprint.data:
        abort(400)
    settings = state().settings
    try:
        done = _carry_out(form, dry_run=False)
        assert done.event_id is not None
        write_documents(db_session(), done, transfer_folder(settings.instance_dir, done.event_id),
                        user=current_account().user, actor=current_actor(), now=utcnow(),
                        timezone=lending_rules().timezone, instance_dir=settings.instance_dir)
        db_session().commit()
    except ArchiveprintError as error:
        note_refusal(error)
        form.fingerprint.data = ""
        return _transfer_page(form, status=error.status)
    flash(_("已移交：%(source)s → %(target)s，%(folders)s 袋", source=done.source_name, target=done.target_name,
            folders=done.folders), "success")
    return redirect(url_for("sites.transfer_done", event_id=done.event_id), code=303)


def _documents(event_id: int) -> list[tuple[str, Path]]:
    """The documents a transfer wrote, by key (NAMES), as they are on disk."""
    folder = transfer_folder(state().settings.instance_dir, event_id)
    files = sorted(folder.glob("*.pdf")) if folder.is_dir() else []
    return [(key, path) for key, name in NAMES.items() for path in files if fnmatch(path.name, name.format(number="*"))]


@bp.get("/transfers/<int:event_id>")
@requires("manage_sites")
def transfer_done(event_id: int) -> ResponseReturnValue:
    """A transfer carried out: its sites, villages and counts, and its documents to print."""
    try:
        record = find_transfer(db_session(), event_id)
    except ArchiveprintError:
        abort(404)
    return render_template("web/sites/transfer_done.html", record=record, documents=_documents(event_id),
                           titles=DOCUMENT_TITLES, count_titles=COUNT_TITLES)


@bp.get("/transfers/<int:event_id>/<name>")
@requires("manage_sites")
def transfer_document(event_id: int, name: str) -> ResponseReturnValue:
    """One document of a transfer (only those it wrote, in its own folder); each download is audited."""
    found = next(((key, path) for key, path in _documents(event_id) if path.name == name), None)
    if found is None:
        abort(404)
    key, path = found
    commit_audit(current_account().user, "export", "site_transfer", event_id, detail=name)
    which = path.stem.split("-", 1)[1] if key != "labels" else str(event_id)  # the handover's number
    return send_download(path, f"{DOWNLOAD_NAMES[key]}-{which}.pdf", name, "application/pdf")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
