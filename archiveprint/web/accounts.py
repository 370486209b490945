"""The users page (管理员: create, role and villages, reset password, deactivate) and "change my password".

A site's administrator manages the users of their site. The county administrator (manage_sites) manages every
user of the installation from the same pages, with or without a working site: the list names each user's site,
a new user is given one (or none: a county role), and each user is read and changed in their own site's scope, so
the events and audit rows of it name that site (a county user's are the installation's). Its village boxes are
grouped by site (the same code, 201, is a village in each), so a village doctor is created in one step: site, role
and villages; the page's script shows the chosen site's group, and the server refuses a village of another site."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from archiveprint.accounts import services
from archiveprint.accounts.models import User
from archiveprint.accounts.roles import COUNTY_ROLES, ROLES, SITE_ROLES
from archiveprint.accounts.scope import apply_scope, current_scope, installed_sites, scope_for, site_scope
from archiveprint.errors import ArchiveprintError, InvalidValue
from archiveprint.register.models import Village
from archiveprint.register.services import find_village
from archiveprint.web.auth import current_account, requires
from archiveprint.web.i18n import ROLE_LABELS, message_of
from archiveprint.web.responses import flash_refusal, refused
from archiveprint.web.session import commit_audit, db_session

bp = Blueprint("accounts", __name__)
LARGEST_ID = 2**31 - 1  # a longer number in the address cannot be a user (and would overflow PostgreSQL's integer)


def _role_choices() -> list[tuple[str, str]]:
    """The roles an administrator may give: a site's own; a county administrator also the county roles."""
    county = current_account().user.role == "county_admin"
    return [(code, str(ROLE_LABELS[code])) for code in ROLES if county or code in SITE_ROLES]


class NewUserInput(FlaskForm):
    username = StringField(_l("用户名"), validators=[DataRequired(_l("请填写用户名")),
                                                   Length(max=64, message=_l("用户名最多64个字符"))])
    display_name = StringField(_l("姓名（显示名）"), validators=[Length(max=64, message=_l("姓名最多64个字"))])
    role = SelectField(_l("角色"))
    password = PasswordField(_l("初始密码"), validators=[DataRequired(_l("请填写密码")),
                                                      Length(8, 256, message=_l("密码应为8–256位"))])
    password_again = PasswordField(_l("再输一次"), validators=[EqualTo("password", _l("两次输入的密码不一致"))])


    # The county administrator's only: which site the new user belongs to ("": none, a county role).
    site = SelectField(_l("所属机构"), validate_choice=False)


class RoleInput(FlaskForm):
    role = SelectField(_l("角色"))
    # The county administrator's, for a county user given a site role: which site it joins.
    site = SelectField(_l("所属机构"), validate_choice=False)


class ResetPasswordInput(FlaskForm):
    password = PasswordField(_l("新密码"), validators=[DataRequired(_l("请填写新密码")),
                                                     Length(8, 256, message=_l("密码应为8–256位"))])
    password_again = PasswordField(_l("再输一次"), validators=[EqualTo("password", _l("两次输入的密码不一致"))])


class ButtonInput(FlaskForm):
    """停用 / 启用: nothing but the CSRF token (the user is named by the URL)."""


class MyPasswordInput(FlaskForm):
    current = PasswordField(_l("当前密码"), validators=[DataRequired(_l("请填写当前密码")), Length(max=256)])
    password = PasswordField(_l("新密码"), validators=[DataRequired(_l("请填写新密码")),
                                                     Length(8, 256, message=_l("密码应为8–256位"))])
    password_again = PasswordField(_l("再输一次"), validators=[EqualTo("password", _l("两次输入的密码不一致"))])


def _county() -> bool:
    """The county administrator: every site's users and the county users, not only the working site's."""
    return current_account().can("manage_sites")


def _site_labels() -> dict[int, str]:
    return {site.id: f"{site.code} {site.name}" for site in installed_sites(db_session())}


def _site_choices(labels: dict[int, str]) -> list[tuple[str, str]]:
    return [("", _("全县（县级角色，不属于任何机构）"))] + [(str(key), label) for key, label in labels.items()]


def _work_in(site_id: int | None) -> None:
    """From here on the request's session is kept to `site_id` (None: the whole installation, a county user's)."""
    session = db_session()
    apply_scope(session, site_scope(session, None) if site_id is None
                else scope_for(session, current_account().user, site_id=site_id))


def _chosen_site(field: SelectField, role: str, *, default: int | None) -> int | None:
    """The site the county administrator chose for a site role (`default` when the form has no such field; the
    only one, with one site); None for a county role. Several sites and none chosen: refused, naming the field."""
    if role in COUNTY_ROLES:
        return None
    labels = _site_labels()
    raw = field.data  # None: not in the form (the working site); "": 全县, no site
    chosen = default if raw is None else int(raw) if raw.isdigit() and int(raw) in labels else None
    if chosen is None and len(labels) == 1:
        chosen = next(iter(labels))
    if chosen is None:
        raise InvalidValue("请选择新用户所属的机构（县级角色以外的用户都属于一个机构）", field="所属机构",
                           value=ROLES.get(role, role))
    return chosen


@dataclass(frozen=True)
class VillageBox:
    """One box of the village doctor's villages: what it posts and how it reads."""

    value: str  # the village's ref (201; a village taken over: its 12 digits); grouped by site: "<site id>:<ref>"
    ref: str
    name: str


@dataclass(frozen=True)
class SiteVillages:
    """The boxes of one site: the only group on a site's page; on the county's page one per site, `site_id` naming
    it (the page's script shows the group of the site chosen in 所属机构)."""

    boxes: list[VillageBox]
    site_id: int | None = None
    label: str = ""


def _village_groups(session: Session, *, by_site: bool) -> list[SiteVillages]:
    """The village boxes: the working site's; `by_site` (the county administrator choosing a site on the page, with
    several sites), every site's, each read in its own site (the request's scope is then as it was)."""
    scope = current_scope(session)
    if not (by_site and scope.several_sites):
        return [SiteVillages([VillageBox(v.ref, v.ref, v.name) for v in _all_villages(session)])]
    groups = []
    for site in installed_sites(session):
        _work_in(site.id)
        villages = session.scalars(select(Village).order_by(Village.code)).all()
        groups.append(SiteVillages([VillageBox(f"{site.id}:{v.ref}", v.ref, v.name) for v in villages],
                                   site_id=site.id, label=f"{site.code} {site.name}"))
    apply_scope(session, scope)
    return groups


def _user(user_id: int) -> User:
    """The user the URL names: the working site's, or for the county administrator any user, whose site the rest
    of the request then works in."""
    session = db_session()
    if _county():
        _work_in(None)
    user = session.get(User, user_id) if 0 < user_id <= LARGEST_ID else None
    if user is None:
        abort(404)
    if _county():
        _work_in(user.site_id)
    return user


def _users_page(form: NewUserInput, chosen: list[str], status: int = 200, *,
                villages_error: str = "") -> ResponseReturnValue:
    """The list and the new-user form: the county administrator's lists every site's users, with their sites, and
    offers every site's villages, grouped by site. `villages_error`: a refusal shown beside the village boxes."""
    session = db_session()
    groups = _village_groups(session, by_site=_county())
    labels = None
    if _county():
        labels = _site_labels()
        form.site.choices = _site_choices(labels)
        _work_in(None)
    return render_template("web/accounts/users.html", users=services.list_users(session), form=form,
                           village_groups=groups, chosen=chosen, sites=labels,
                           villages_error=villages_error), status


def _all_villages(session: Session) -> list[Village]:
    """The working site's villages (a village doctor's boxes); none on the county's page with no working site,
    where the same code names a village in each site."""
    scope = current_scope(session)
    if scope.several_sites and scope.site_id is None:
        return []
    return list(session.scalars(select(Village).order_by(Village.code)))


def _chosen_villages(session: Session, site_id: int | None) -> list[Village]:
    """The ticked village boxes, looked up in the site the request works in (`site_id`) so an unknown one is named
    in the refusal. A box of the county's page names its site too ("<site id>:<ref>"): one of another site than the
    chosen one is refused, naming the village and both sites."""
    chosen = []
    for value in dict.fromkeys(request.form.getlist("villages")):
        owner, grouped, ref = value.rpartition(":")
        if grouped and owner != str(site_id):
            labels = _site_labels()
            raise InvalidValue("勾选的村 {village}（{other}）不是所选机构“{site}”的村，请只勾选该机构的村",
                               params={"village": ref, "other": labels.get(int(owner) if owner.isdigit() else 0, owner),
                                       "site": labels.get(site_id or 0, _("全县"))},
                               field="村(居)委会", value=ref)
        if ref:
            chosen.append(find_village(session, ref))
    return chosen


def _first_error(form: FlaskForm) -> str:
    for field in form:
        if field.errors:
            return f"「{field.label.text}」：{field.errors[0]}"
    return _("提交的内容不完整，请重新填写")


@bp.get("/users")
@requires("manage_users")
def users() -> ResponseReturnValue:
    form = NewUserInput(role="clerk", site=str(current_scope(db_session()).site_id or ""))
    form.role.choices = _role_choices()
    return _users_page(form, [])


@bp.post("/users")
@requires("manage_users")
def create() -> ResponseReturnValue:
    session = db_session()
    form = NewUserInput()
    form.role.choices = _role_choices()
    if not form.validate_on_submit():
        return _users_page(form, request.form.getlist("villages"), 400)
    try:
        role = form.role.data or ""
        site_id = current_scope(session).site_id
        if _county():  # the site chosen (the working one by default), or none for a county role
            site_id = _chosen_site(form.site, role, default=site_id)
            _work_in(site_id)
        villages = _chosen_villages(session, site_id) if role == "village_doctor" else []
        user = services.create_user(session, form.username.data or "", form.password.data or "", role,
                                    display_name=form.display_name.data or "", villages=villages,
                                    actor=current_account().username)
    except ArchiveprintError as error:
        session.rollback()
        beside = {"村(居)委会": "villages", "所属机构": "site"}.get(str(error.field or ""))
        if beside == "site":
            form.site.errors = [message_of(error, alone=True)]
        elif beside is None:
            flash_refusal(error)
        return _users_page(form, request.form.getlist("villages"), error.status,
                           villages_error=message_of(error, alone=True) if beside == "villages" else "")
    session.commit()
    flash(_("已创建用户 %(name)s", name=user.username), "info")
    return redirect(url_for("accounts.user", user_id=user.id), code=303)


@bp.get("/users/<int:user_id>")
@requires("manage_users")
def user(user_id: int) -> ResponseReturnValue:
    found = _user(user_id)
    role_form = RoleInput(role=found.role, site=str(found.site_id or ""))
    role_form.role.choices = _role_choices()
    labels = _site_labels() if _county() else None
    if labels is not None:
        role_form.site.choices = _site_choices(labels)
        # the county's read of a user, with the user's site named (a county user's row is the installation's)
        commit_audit(current_account().user, "view", "user", found.id,
                     detail=labels.get(found.site_id or 0, _("全县")))
    # A county user given a site role chooses the site here, and its villages with it (grouped by site).
    groups = _village_groups(db_session(), by_site=labels is not None and found.site_id is None)
    return render_template("web/accounts/user.html", user=found, role_form=role_form,
                           password_form=ResetPasswordInput(), button=ButtonInput(),
                           village_groups=groups, chosen=[v.ref for v in found.villages], sites=labels)


@bp.post("/users/<int:user_id>/role")
@requires("manage_users")
def change_role(user_id: int) -> ResponseReturnValue:
    found = _user(user_id)
    form = RoleInput()
    form.role.choices = _role_choices()
    here = url_for("accounts.user", user_id=found.id)
    if not form.validate_on_submit():
        flash(_first_error(form), "error")
        return redirect(here, code=303)
    session = db_session()
    try:
        role = form.role.data or ""
        site_id = found.site_id
        if _county() and found.site_id is None:  # a county user given a site role joins the site chosen
            site_id = _chosen_site(form.site, role, default=None)
            _work_in(site_id)
        villages = _chosen_villages(session, site_id) if role == "village_doctor" else []
        changed = services.change_role(session, found, role, villages=villages, actor=current_account().username)
    except ArchiveprintError as error:
        return refused(error, here)
    session.commit()
    if changed:
        flash(_("已保存 %(name)s 的角色和负责的村，其已登录的浏览器需重新登录", name=found.username), "info")
    else:
        flash(_("角色和负责的村没有改动"), "info")
    return redirect(here, code=303)


@bp.post("/users/<int:user_id>/password")
@requires("manage_users")
def reset_password(user_id: int) -> ResponseReturnValue:
    found = _user(user_id)
    form = ResetPasswordInput()
    here = url_for("accounts.user", user_id=found.id)
    if not form.validate_on_submit():
        flash(_first_error(form), "error")
        return redirect(here, code=303)
    try:
        services.reset_password(db_session(), found, form.password.data or "", actor=current_account().username)
    except ArchiveprintError as error:
        return refused(error, here)
    db_session().commit()
    flash(_("已重设 %(name)s 的密码，其已登录的浏览器都已退出", name=found.username), "info")
    return redirect(here, code=303)


@bp.post("/users/<int:user_id>/deactivate")
@requires("manage_users")
def deactivate(user_id: int) -> ResponseReturnValue:
    found = _user(user_id)
    here = url_for("accounts.user", user_id=found.id)
    if not ButtonInput().validate_on_submit():
        abort(400)
    try:
        services.deactivate_user(db_session(), found, actor=current_account().username)
    except ArchiveprintError as error:
        return refused(error, here)
    db_session().commit()
    flash(_("已停用 %(name)s，其已登录的浏览器都已退出", name=found.username), "info")
    return redirect(here, code=303)


@bp.post("/users/<int:user_id>/activate")
@requires("manage_users")
def activate(user_id: int) -> ResponseReturnValue:
    found = _user(user_id)
    if not ButtonInput().validate_on_submit():
        abort(400)
    services.activate_user(db_session(), found, actor=current_account().username)
    db_session().commit()
    flash(_("已重新启用 %(name)s", name=found.username), "info")
    return redirect(url_for("accounts.user", user_id=found.id), code=303)


@bp.route("/account/password", methods=["GET", "POST"])
@requires("own_account")
def my_password() -> ResponseReturnValue:
    form = MyPasswordInput()
    if form.validate_on_submit():
        account = current_account()
        try:
            services.change_own_password(db_session(), account.user, form.current.data or "",
                                         form.password.data or "", keep_token=account.token)
        except ArchiveprintError as error:
            return refused(error, url_for("accounts.my_password"))
        db_session().commit()
        flash(_("密码已修改；其他电脑上的登录都已退出"), "info")
        return redirect(url_for("accounts.my_password"), code=303)
    status = 400 if form.is_submitted() else 200
    return render_template("web/accounts/password.html", form=form), status
