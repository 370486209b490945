"""`archiveprint user …`: create the first administrator and other users."""

from __future__ import annotations

import click

from archiveprint.accounts.roles import ROLES
from archiveprint.cli import AppContext, pass_app


@click.group("user")
def user_group() -> None:
    """用户与角色。"""


@user_group.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(list(ROLES)), default="admin", show_default=True,
              help="admin 管理员 / clerk 档案管理员 / doctor 医生 / village_doctor 村医 / viewer 只读/督导")
@click.option("--name", "display_name", default="", help="显示名")
@click.password_option("--password", help="密码（至少8位；不给则提示输入）")
@pass_app
def create(app: AppContext, username: str, role: str, display_name: str, password: str) -> None:
    """创建用户（第一个管理员：archiveprint user create admin --role admin）。"""
    from archiveprint.accounts.services import create_user

    with app.db.transaction() as session:
        create_user(session, username, password, role, display_name=display_name)
    click.echo(f"已创建用户 {username}（{ROLES[role]}）")


@user_group.command("exists")
@click.argument("username")
@pass_app
@click.pass_context
def exists(ctx: click.Context, app: AppContext, username: str) -> None:
    """用户是否存在（退出码 0 存在，1 不存在；供脚本使用）。"""
    from sqlalchemy import select

    from archiveprint.accounts.models import User

    with app.db.reader() as session:
        found = session.scalar(select(User.id).where(User.username == username)) is not None
    click.echo("yes" if found else "no")
    ctx.exit(0 if found else 1)


@user_group.command("list")
@pass_app
def list_users(app: AppContext) -> None:
    """列出用户及角色。"""
    from sqlalchemy import select

    from archiveprint.accounts.models import User

    with app.db.reader() as session:
        for user in session.scalars(select(User).order_by(User.username)):
            state = "" if user.active else "（已停用）"
            click.echo(f"{user.username}\t{user.display_name}\t{ROLES[user.role]}{state}")


COMMANDS = [user_group]
