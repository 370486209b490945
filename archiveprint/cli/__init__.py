"""The `archiveprint` command: one group, one module per job; errors become Chinese messages, not tracebacks."""

from __future__ import annotations

import functools
import getpass
import importlib
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from gettext import gettext as click_words  # click translates its own headings so; not ours to extract
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

import click

from archiveprint.clock import today
from archiveprint.config import Settings, keep_files_private
from archiveprint.errors import ArchiveprintError
from archiveprint.lending.rules import LendingRules, site_rules

if TYPE_CHECKING:
    from archiveprint.db import Database

CLI_ACTOR = "cli"  # who the audit and event rows name when a command changes something


def cli_actor() -> str:
    """The actor a command's rows name with the account that ran it: cli:<login name>."""
    return f"{CLI_ACTOR}:{getpass.getuser()}"


class AppContext:
    """What every command needs, built lazily so `archiveprint --help` touches no database."""

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings
        self.site_code: str | None = None  # --site / ARCHIVEPRINT_SITE

    @cached_property
    def settings(self) -> Settings:
        return self._settings or Settings.from_env()

    @cached_property
    def db(self) -> Database:
        """The database kept to the command's site (`--site CODE` or ARCHIVEPRINT_SITE): every session sees that
        site's rows only and new rows are its. With one site there is nothing to choose; with several, a command
        that reads or writes a site's data refuses to guess."""
        from archiveprint.accounts.scope import scoped, site_scope  # lazy: --help never imports SQLAlchemy
        from archiveprint.sites.queries import choose_site  # lazy: nor this

        with self.installation_db.reader() as session:
            site_id = choose_site(session, self.site_code)
            return scoped(self.installation_db, site_scope(session, site_id))

    @cached_property
    def installation_db(self) -> Database:
        """The database, created and migrated on first use (a fresh install needs no extra step), not kept to a
        site: for what belongs to the installation (sites, county users, backups, migrations)."""
        # Every table is mapped before a command queries (a command imports only its own job's models).
        from archiveprint import models  # noqa: F401  # lazy: --help imports this module, never SQLAlchemy
        from archiveprint.db import Database  # lazy: --help imports this module, never SQLAlchemy
        from archiveprint.migrate import current_revision, head_revision, upgrade  # lazy: nor Alembic

        if self.settings.database_url.startswith("sqlite"):
            self.settings.ensure_instance_dir()
        database = Database.connect(self.settings.database_url)
        if current_revision(database.engine) != head_revision(database.engine):
            upgrade(database.engine)
        self.settings.protect_database_files()
        return database

    @property
    def rules(self) -> LendingRules:
        """This installation's lending rules (re-read when a file changes): periods, calendar, the site's zone."""
        return site_rules(self.settings.instance_dir)

    def today(self) -> date:
        """The archive's working day in the site's zone (the lending rules' `timezone`), not the server's."""
        return today(self.rules.timezone)

    def close(self) -> None:
        """Release pooled connections when the command ends."""
        self.__dict__.pop("db", None)
        if "installation_db" in self.__dict__:
            self.__dict__.pop("installation_db").dispose()


pass_app = click.make_pass_decorator(AppContext, ensure=True)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


# --- answering JSON or text ----------------------------------------------------------------------------------

class Answer(Protocol):
    """A command's result, formatted by its own type: the object `--json` prints, or the lines of text."""

    def as_json(self) -> Any: ...

    def text_lines(self) -> Iterable[str | Aside]: ...


@dataclass(frozen=True)
class Aside:
    """A line beside the answer rather than in it (a code that was not found, a printing tip): it goes to stderr."""

    text: str
    color: str | None = "yellow"


@dataclass
class Reply:
    """An answer the command puts together: a result with what only the command knows (the PDF it wrote), lines
    with asides among them, or an exit status other than 0."""

    data: Any
    lines: Iterable[str | Aside] = ()
    status: int = 0

    def as_json(self) -> Any:
        return self.data

    def text_lines(self) -> Iterable[str | Aside]:
        return self.lines

    @classmethod
    def listing(cls, items: Iterable[Answer], *, empty: str | None = None) -> Reply:
        """A list of results: their JSON objects in a list, their lines one after another (or `empty`)."""
        items = list(items)
        lines = [line for item in items for line in item.text_lines()]
        return cls([item.as_json() for item in items], lines or ([empty] if empty is not None else []))


def answers(help: str | None = "输出 JSON") -> Callable[[Callable[..., Answer]], Callable[..., None]]:
    """Make a command that answers JSON or text: it gets a `--json` flag (which a domain error's message follows
    too) and returns an Answer; this prints the answer's JSON or its lines and exits with its status."""

    def decorate(command: Callable[..., Answer]) -> Callable[..., None]:
        @functools.wraps(command)
        def run(*args: Any, as_json: bool, **kwargs: Any) -> None:
            ctx = click.get_current_context()
            ctx.meta["json"] = as_json
            answer = command(*args, **kwargs)
            if as_json:
                emit_json(answer.as_json())
            else:
                for line in answer.text_lines():
                    _echo(line)
            if isinstance(answer, Reply) and answer.status:
                ctx.exit(answer.status)

        return click.option("--json", "as_json", is_flag=True, help=help)(run)

    return decorate


def _echo(line: str | Aside) -> None:
    if not isinstance(line, Aside):
        click.echo(line)
    elif line.color:
        click.secho(line.text, fg=line.color, err=True)
    else:
        click.echo(line.text, err=True)


def wants_json() -> bool:
    """Whether the running command answers JSON (its `--json`), so it keeps stdout for that."""
    return bool(click.get_current_context().meta.get("json"))


def usage_error(message: str) -> NoReturn:
    """Bad input that is no domain error (a file that is not there): the message, or {"error": …} with --json, and
    exit status 2 like click's own usage errors."""
    if wants_json():
        emit_json({"error": message})
    else:
        click.secho(f"错误：{message}", fg="red", err=True)
    click.get_current_context().exit(2)
    raise AssertionError  # ctx.exit raises


# --- the group: commands load when they run -------------------------------------------------------------------

# Where each command lives ("module:name" in archiveprint.cli) and its summary, the first paragraph of its help:
# `archiveprint --help` lists them without importing any command's module (as pip lists its commands), and a command
# imports only its own module and what that needs. tests/cli/test_lazy.py keeps the summaries equal to the help.
COMMANDS = {
    "backup": ("backup:backup", "备份数据库与实例文件（程序运行时也可进行，得到的是同一时刻的一致副本）。"),
    "borrower": ("lending:borrower_group", "借阅人：本院职工、村医（绑定负责的村）、外单位。"),
    "capacity": ("locations:capacity", "各村、各层架位的使用率，以及每个村还能放多少袋。"),
    "close": ("locations:close", "把全户已结案的档案袋移入结案区（下一个空位）；位置历史保留，可用 reopen 取回。"),
    "db": ("db:db_group", "数据库：创建与升级（Alembic 迁移）。"),
    "demo": ("register:demo", "生成一个虚构的演示乡镇（身份证号校验位正确、户内关系合理，无真实个人信息）。"),
    "due": ("due:due_group", "随访排期：本月谁到期、登记已做的服务、预产期等日期。"),
    "find": ("register:find", "按档案编号、姓名、拼音首字母、身份证号或电话查找居民。"),
    "forms": ("forms:forms_group", "表单目录。"),
    "handover": ("locations:handover_group",
                 "移交：按村、架位范围或档案袋编号生成移交清单（一式三份）并记录保管变更。"),
    "indicators": ("indicators:indicators",
                   "建档率（各村及全乡镇，全体及各重点人群，对照年度目标与差距）和纸质档案在架率。"),
    "import": ("register:import_command",
               "导入省平台导出的居民档案（.xlsx / .csv，UTF-8 或 GBK），整份文件要么全部成功要么全部不写入。"),
    "inspect": ("inspect:inspect_group", "抽查：按村分层随机抽取档案袋、逐袋核查、计算合格率与使用率、打印抽查记录。"),
    "intake": ("intake:intake_command",
               "回收归档：读扫描的整叠表单（PDF 或多页 TIFF），按每页的归档条码列出该放入的档案袋（按库房行走顺序）。"),
    "inventory": ("locations:inventory_group",
                  "盘点：按架位范围扫描或导入扫描枪文件，核对缺失、错架、借出，打印盘点记录。"),
    "jobs": ("jobs:jobs_group", "后台打印任务：查看和重新生成分村打印，清理过期的输出文件。"),
    "labels": ("labels:labels_group", "标签：标签纸、标签种类、打印机校准。"),
    "layout": ("locations:layout_group", "库房布局：库房、密集架/档案柜、架位（storage_layout/*.yaml）。"),
    "lend": ("lending:lend_group", "借阅：申请、借出、归还、续借、逾期、借阅登记表。"),
    "locate": ("locations:locate_command",
               "按档案袋编号、档案编号、姓名（或开头）、拼音首字母、身份证号或电话找档案袋：位置、状态、成员。"),
    "move": ("locations:move",
             "把档案袋（档案袋编号或成员的档案编号）移到新位置；不写第几位时选一个保持户号顺序的空位。"),
    "picklist": ("locations:picklist", "调档单：一批档案袋编号或档案编号，按库房行走顺序排好（不在架的列在最后）。"),
    "population": ("indicators:population_group",
                   "常住人口：各村每年的常住人口（及65岁及以上、0-6岁、孕产妇人数），建档率的分母。"),
    "relayout": ("locations:relayout",
                 "重新排架：各村仍按代码顺序各占一段连续架位，挪动尽量少的档案袋；打印挪动清单和需更换的架位标签。"),
    "reopen": ("locations:reopen", "把档案袋从结案区取回本村架位（原位置空着就回原位）；位置历史保留。"),
    "restore": ("backup:restore",
                "从备份恢复到 DATABASE_URL 指向的数据库（与备份同一种：SQLite 或 PostgreSQL）和实例文件夹。"),
    "serve": ("serve:serve", "启动网页界面。"),
    "site": ("sites:site_group",
             "机构（乡镇卫生院、社区卫生服务中心）：新增、列出、移交（机构撤并）；一个系统可管理全县多个机构。"),
    "shelve": ("locations:shelve", "给一个村所有尚未上架的档案袋按户号分配位置（接在已上架的后面）。"),
    "township": ("register:township_group", "本院所属乡镇（只设置一次）。"),
    "user": ("accounts:user_group", "用户与角色。"),
    "village": ("register:village_group", "村(居)委会。"),
}
PRINT_COMMANDS = {
    "due": ("due:print_due_command",
            "本月随访包：到期名单、到期表单（预填，按户序）和调档单（按库房行走顺序），一次生成。"),
    "forms": ("forms:print_forms_command",
              "按套组（--set）或单张表单（--form）打印（空白或按档案预填），顺序：村 → 户 → 人（户主在前） → 表单。"),
    "labels": ("labels:print_labels_command",
               "打印标签：户档案袋、脊背、个人、信息卡、架位或校准页，按 村 → 户 的顺序排在标签纸上。"),
}


def _remember_site(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.ensure_object(AppContext).site_code = value


SITE_HELP = "在哪个机构操作（机构代码；系统有多个机构时必填，也可设 ARCHIVEPRINT_SITE）"


def site_option() -> click.Option:
    return click.Option(["--site"], envvar="ARCHIVEPRINT_SITE", expose_value=False, callback=_remember_site,
                        metavar="CODE", help=SITE_HELP)


def with_site_option(command: click.Command) -> click.Command:
    """Every command (and every subcommand of a group) takes `--site CODE`, wherever it is written."""
    if not any(param.name == "site" for param in command.params):
        command.params.append(site_option())
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            with_site_option(sub)
    return command


class LazyGroup(click.Group):
    """A group whose commands are imported when one of them runs or shows its own help; `lazy` maps each name to
    ("module:name", summary)."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            module, _, name = self.lazy[cmd_name][0].partition(":")
            command = getattr(importlib.import_module(f"archiveprint.cli.{module}"), name)
            self.add_command(with_site_option(command), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Click's list of commands, where one not imported yet stands in as a bare command with its summary."""
        shown = [(name, self.commands.get(name) or click.Command(name, help=self.lazy[name][1]))
                 for name in self.list_commands(ctx)]
        shown = [(name, command) for name, command in shown if not command.hidden]
        if shown:
            limit = formatter.width - 6 - max(len(name) for name, _ in shown)
            with formatter.section(click_words("Commands")):
                formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in shown])


class ArchiveprintGroup(LazyGroup):
    """Turns domain errors into a message on stderr (or a JSON object) and exit status 1, with the error's
    command-line hint (what to run) on the next line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ArchiveprintError as error:
            if "--json" in sys.argv[1:] or ctx.meta.get("json"):
                data = {"error": str(error), "field": error.field, "value": error.value, "row": error.row}
                emit_json({**data, "hint": error.hint} if error.hint else data)
            else:
                click.secho(f"错误：{error}", fg="red", err=True)
                if error.hint:  # the command that fixes it: only here, never in the web app
                    click.secho(error.hint, err=True)
            ctx.exit(1)


@click.group(cls=ArchiveprintGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="archiveprint")
@click.option("--site", envvar="ARCHIVEPRINT_SITE", expose_value=False, callback=_remember_site, metavar="CODE",
              help=SITE_HELP)
@click.pass_context
def main(ctx: click.Context) -> None:
    """archiveprint —— 居民健康档案室：表单、标签、档案位置与借阅。"""
    keep_files_private()
    ctx.call_on_close(ctx.ensure_object(AppContext).close)


@main.group("print", cls=LazyGroup, lazy=PRINT_COMMANDS)
def print_group() -> None:
    """打印：表单（forms）与标签（labels）。"""
