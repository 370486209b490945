"""`archiveprint user …`: create users, set passwords, roles and villages, deactivate and list them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from archiveprint.accounts.models import User
from archiveprint.accounts.roles import COUNTY_ROLES, ROLES
from archiveprint.accounts.scope import apply_scope, installed_sites, site_scope
from archiveprint.accounts.services import (
    activate_user,
    change_role,
    create_user,
    deactivate_user,
    find_user,
    list_users,
    reset_password,
    set_villages,
)
from archiveprint.cli import Answer, AppContext, Reply, answers, cli_actor, pass_app
from archiveprint.errors import NotFound
from archiveprint.register.models import Village
from archiveprint.register.services import find_village
from archiveprint.sites.queries import SiteNotChosen, choose_site

ROLE_HELP = ("admin 管理员 / clerk 档案管理员 / doctor 医生 / village_doctor 村医 / viewer 只读/督导 / "
             "county_admin 县级管理员 / county_supervisor 县级督导 / county_print 县级打印")


def _read_password(from_stdin: bool) -> str:
    """From the first line of standard input (scripts), or typed twice at a hidden prompt; never an argument."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("新密码（至少8位）", hide_input=True, confirmation_prompt="再输一次")


def _villages(session: Session, codes: tuple[str, ...]) -> list[Village]:
    return [find_village(session, code, typed=True) for code in dict.fromkeys(codes)]


@click.group("user")
def user_group() -> None:
    """用户与角色。"""


@user_group.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(list(ROLES)), default="admin", show_default=True, help=ROLE_HELP)
@click.option("--name", "display_name", default="", help="显示名")
@click.option("--village", "villages", multiple=True, help="村医负责的村（代码或名称，可重复）")
@click.option("--password-stdin", is_flag=True, help="从标准输入的第一行读密码（供脚本使用）")
@click.password_option("--password", help="密码（至少8位；不给则提示输入）", prompt_required=False)
@pass_app
def create(app: AppContext, username: str, role: str, display_name: str, villages: tuple[str, ...],
           password_stdin: bool, password: str | None) -> None:
    """创建用户（第一个管理员：archiveprint user create admin --role admin）。"""
    if password is None:
        password = _read_password(password_stdin)
    # A county role belongs to no site; anyone else to the command's (--site, or the only one).
    with (app.installation_db if role in COUNTY_ROLES else app.db).transaction() as session:
        create_user(session, username, password, role, display_name=display_name,
                    villages=_villages(session, villages), actor=cli_actor())
    click.echo(f"已创建用户 {username}（{ROLES[role]}）")
    if role in COUNTY_ROLES and app.site_code is not None:  # said, not refused: ARCHIVEPRINT_SITE may be set
        click.echo(f"注意：{ROLES[role]}属于全县，不属于任何机构，未使用 --site {app.site_code}", err=True)


def _site_to_manage_in(app: AppContext, session: Session, user: User, role: str | None = None) -> int | None:
    """Where a command manages `user`: None (the installation) for a county user staying one; the user's site for a
    site user — given with --site once there are several (refused, naming the user's site, when not); the --site
    (or only) site for a county user given a site role. User names are unique in the whole installation."""
    sites = installed_sites(session)
    listed = "、".join(f"{site.code}（{site.name}）" for site in sites)
    if user.role in COUNTY_ROLES:
        if role is None or role in COUNTY_ROLES:
            return None
        if app.site_code is None and len(sites) > 1:
            raise SiteNotChosen("{username} 改为机构的角色，要指定是哪个机构的用户：{sites}",
                                params={"username": user.username, "sites": listed}, field="机构",
                                hint=f"例如：archiveprint --site {sites[0].code} user role {user.username} {role}")
        return choose_site(session, app.site_code)
    if app.site_code is None and len(sites) > 1:
        own = next((site for site in sites if site.id == user.site_id), None)
        raise SiteNotChosen("用户 {username} 是 {site} 的用户；本系统有 {count} 个机构，请指定在哪个机构操作：{sites}",
                            params={"username": user.username, "site": f"{own.code}（{own.name}）" if own else "无机构",
                                    "count": len(sites), "sites": listed}, field="机构",
                            hint=f"例如：archiveprint --site {own.code if own else sites[0].code} user …")
    site_id = choose_site(session, app.site_code)
    if len(sites) > 1 and site_id != user.site_id:
        raise NotFound("没有这个用户", field="用户名", value=user.username)  # not in the site the command is given
    return site_id


@contextmanager
def _managing(app: AppContext, username: str, role: str | None = None) -> Iterator[tuple[Session, User]]:
    """A transaction on the user named (found in the whole installation), kept to the site it is managed in (see
    _site_to_manage_in): the events it writes are that site's, or the installation's for a county user."""
    with app.installation_db.transaction() as session:
        user = find_user(session, username)
        site_id = _site_to_manage_in(app, session, user, role)
        if site_id is not None:
            apply_scope(session, site_scope(session, site_id))
        yield session, user


@user_group.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="从标准输入的第一行读新密码（供脚本使用）")
@pass_app
def passwd(app: AppContext, username: str, password_stdin: bool) -> None:
    """重设用户的密码（该用户已登录的浏览器都会退出，锁定也随之解除）。"""
    with app.installation_db.reader() as session:  # say "no such user" before asking for a password
        _site_to_manage_in(app, session, find_user(session, username))
    password = _read_password(password_stdin)
    with _managing(app, username) as (session, user):
        reset_password(session, user, password, actor=cli_actor())
    click.echo(f"已重设 {username} 的密码")


@user_group.command("deactivate")
@click.argument("username")
@pass_app
def deactivate(app: AppContext, username: str) -> None:
    """停用用户（离职）：不能再登录，已登录的浏览器立即退出。"""
    with _managing(app, username) as (session, user):
        deactivate_user(session, user, actor=cli_actor())
    click.echo(f"已停用 {username}")


@user_group.command("activate")
@click.argument("username")
@pass_app
def activate(app: AppContext, username: str) -> None:
    """重新启用已停用的用户。"""
    with _managing(app, username) as (session, user):
        activate_user(session, user, actor=cli_actor())
    click.echo(f"已启用 {username}")


@user_group.command("role")
@click.argument("username")
@click.argument("role", type=click.Choice(list(ROLES)))
@click.option("--village", "villages", multiple=True, help="改为村医时负责的村（可重复）")
@pass_app
def role(app: AppContext, username: str, role: str, villages: tuple[str, ...]) -> None:
    """修改用户的角色（该用户需重新登录）。县级角色不属于任何机构；县级用户改为机构角色时用 --site 指定机构。"""
    with _managing(app, username, role) as (session, user):
        change_role(session, user, role, villages=_villages(session, villages) if villages else None,
                    actor=cli_actor())
    click.echo(f"{username} 的角色已改为 {ROLES[role]}")


@user_group.command("villages")
@click.argument("username")
@click.argument("villages", nargs=-1, required=True)
@pass_app
def villages(app: AppContext, username: str, villages: tuple[str, ...]) -> None:
    """设置村医负责的村（代码或名称，如 201 202）。"""
    with _managing(app, username) as (session, user):
        set_villages(session, user, _villages(session, villages), actor=cli_actor())
        names = "、".join(f"{v.ref} {v.name}" for v in user.villages)
    click.echo(f"{username} 负责的村：{names}")


def _listed_site(app: AppContext) -> int | None:
    """The site `user list` / `user exists` are kept to: the --site given, else none (the whole installation)."""
    if app.site_code is None:
        return None
    with app.installation_db.reader() as session:
        return choose_site(session, app.site_code)


@user_group.command("exists")
@click.argument("username")
@pass_app
@click.pass_context
def exists(ctx: click.Context, app: AppContext, username: str) -> None:
    """用户是否存在（退出码 0 存在，1 不存在；供脚本使用）。给 --site 时只看该机构的用户和县级用户。"""
    site_id = _listed_site(app)
    users = User.__table__  # the whole installation's: user names are unique in it
    stmt = select(users.c.id).where(users.c.username == username.strip())
    if site_id is not None:
        stmt = stmt.where(or_(users.c.site_id == site_id, users.c.role.in_(sorted(COUNTY_ROLES))))
    with app.installation_db.reader() as session:
        found = session.scalar(stmt) is not None
    click.echo("yes" if found else "no")
    ctx.exit(0 if found else 1)


@user_group.command("list")
@answers("输出 JSON：[{username, display_name, role, site, active, villages}]")
@pass_app
def list_command(app: AppContext) -> Answer:
    """列出用户、所属机构及角色：不给 --site 时列出整个系统的用户（县级用户不属于任何机构）。"""
    site_id = _listed_site(app)
    with app.installation_db.reader() as session:
        codes = {site.id: site.code for site in installed_sites(session)}
        rows = [{"username": u.username, "display_name": u.display_name, "role": u.role,
                 "site": codes.get(u.site_id or 0), "active": u.active, "villages": [v.ref for v in u.villages]}
                for u in list_users(session) if site_id is None or u.site_id == site_id]
    return Reply(rows, [_user_line(row) for row in rows])


def _user_line(row: dict[str, Any]) -> str:
    state = "" if row["active"] else "（已停用）"
    villages = f"\t{' '.join(row['villages'])}" if row["villages"] else ""
    site = row["site"] or "全县"
    return f"{row['username']}\t{row['display_name']}\t{site}\t{ROLES[row['role']]}{state}{villages}"
