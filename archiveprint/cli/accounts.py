"""`archiveprint user …`: create users, set passwords, roles and villages, deactivate and list them."""

from __future__ import annotations

import getpass
import sys
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from archiveprint.accounts.models import User
from archiveprint.accounts.roles import COUNTY_ROLES, ROLES
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
from archiveprint.cli import Answer, AppContext, Reply, answers, pass_app
from archiveprint.register.models import Village
from archiveprint.register.services import find_village

ROLE_HELP = ("admin 管理员 / clerk 档案管理员 / doctor 医生 / village_doctor 村医 / viewer 只读/督导 / "
             "county_admin 县级管理员 / county_supervisor 县级督导 / county_print 县级打印")


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _read_password(from_stdin: bool) -> str:
    """From the first line of standard input (scripts), or typed twice at a hidden prompt; never an argument."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("新密码（至少8位）", hide_input=True, confirmation_prompt="再输一次")


def _villages(session: Session, codes: tuple[str, ...]) -> list[Village]:
    return [find_village(session, code) for code in dict.fromkeys(codes)]


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
                    villages=_villages(session, villages), actor=_actor())
    click.echo(f"已创建用户 {username}（{ROLES[role]}）")


@user_group.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="从标准输入的第一行读新密码（供脚本使用）")
@pass_app
def passwd(app: AppContext, username: str, password_stdin: bool) -> None:
    """重设用户的密码（该用户已登录的浏览器都会退出，锁定也随之解除）。"""
    with app.db.reader() as session:
        find_user(session, username)  # say "no such user" before asking for a password
    password = _read_password(password_stdin)
    with app.db.transaction() as session:
        reset_password(session, find_user(session, username), password, actor=_actor())
    click.echo(f"已重设 {username} 的密码")


@user_group.command("deactivate")
@click.argument("username")
@pass_app
def deactivate(app: AppContext, username: str) -> None:
    """停用用户（离职）：不能再登录，已登录的浏览器立即退出。"""
    with app.db.transaction() as session:
        deactivate_user(session, find_user(session, username), actor=_actor())
    click.echo(f"已停用 {username}")


@user_group.command("activate")
@click.argument("username")
@pass_app
def activate(app: AppContext, username: str) -> None:
    """重新启用已停用的用户。"""
    with app.db.transaction() as session:
        activate_user(session, find_user(session, username), actor=_actor())
    click.echo(f"已启用 {username}")


@user_group.command("role")
@click.argument("username")
@click.argument("role", type=click.Choice(list(ROLES)))
@click.option("--village", "villages", multiple=True, help="改为村医时负责的村（可重复）")
@pass_app
def role(app: AppContext, username: str, role: str, villages: tuple[str, ...]) -> None:
    """修改用户的角色（该用户需重新登录）。"""
    with app.db.transaction() as session:
        change_role(session, find_user(session, username), role,
                    villages=_villages(session, villages) if villages else None, actor=_actor())
    click.echo(f"{username} 的角色已改为 {ROLES[role]}")


@user_group.command("villages")
@click.argument("username")
@click.argument("villages", nargs=-1, required=True)
@pass_app
def villages(app: AppContext, username: str, villages: tuple[str, ...]) -> None:
    """设置村医负责的村（代码或名称，如 201 202）。"""
    with app.db.transaction() as session:
        user = find_user(session, username)
        set_villages(session, user, _villages(session, villages), actor=_actor())
        names = "、".join(f"{v.code} {v.name}" for v in user.villages)
    click.echo(f"{username} 负责的村：{names}")


@user_group.command("exists")
@click.argument("username")
@pass_app
@click.pass_context
def exists(ctx: click.Context, app: AppContext, username: str) -> None:
    """用户是否存在（退出码 0 存在，1 不存在；供脚本使用）。"""
    with app.db.reader() as session:
        found = session.scalar(select(User.id).where(User.username == username)) is not None
    click.echo("yes" if found else "no")
    ctx.exit(0 if found else 1)


@user_group.command("list")
@answers("输出 JSON：[{username, display_name, role, active, villages}]")
@pass_app
def list_command(app: AppContext) -> Answer:
    """列出用户及角色。"""
    with app.db.reader() as session:
        rows = [{"username": u.username, "display_name": u.display_name, "role": u.role, "active": u.active,
                 "villages": [v.code for v in u.villages]} for u in list_users(session)]
    return Reply(rows, [_user_line(row) for row in rows])


def _user_line(row: dict[str, Any]) -> str:
    state = "" if row["active"] else "（已停用）"
    villages = f"\t{' '.join(row['villages'])}" if row["villages"] else ""
    return f"{row['username']}\t{row['display_name']}\t{ROLES[row['role']]}{state}{villages}"
