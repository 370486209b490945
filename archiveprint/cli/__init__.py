"""The `archiveprint` command: one group, one module per job; errors become Chinese messages, not tracebacks."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any, NoReturn, Protocol

import click

from archiveprint.config import Settings, keep_files_private
from archiveprint.errors import ArchiveprintError

CLI_ACTOR = "cli"  # who the audit and event rows name when a command changes something


class AppContext:
    """What every command needs, built lazily so `archiveprint --help` touches no database."""

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings

    @cached_property
    def settings(self) -> Settings:
        return self._settings or Settings.from_env()

    @cached_property
    def db(self):  # type: ignore[no-untyped-def]
        """The database, created and migrated on first use (a fresh install needs no extra step)."""
        from archiveprint.db import Database
        from archiveprint.migrate import current_revision, head_revision, upgrade

        if self.settings.database_url.startswith("sqlite"):
            self.settings.ensure_instance_dir()
        database = Database.connect(self.settings.database_url)
        if current_revision(database.engine) != head_revision(database.engine):
            upgrade(database.engine)
        self.settings.protect_database_files()
        return database

    def today(self) -> date:
        """The archive's working day in the site's zone (the lending rules' `timezone`), not the server's."""
        from archiveprint.clock import today
        from archiveprint.lending.rules import site_rules

        return today(site_rules(self.settings.instance_dir).timezone)

    def close(self) -> None:
        """Release pooled connections when the command ends."""
        if "db" in self.__dict__:
            self.__dict__.pop("db").dispose()


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
                    if isinstance(line, Aside):
                        click.secho(line.text, fg=line.color, err=True)
                    else:
                        click.echo(line)
            if isinstance(answer, Reply) and answer.status:
                ctx.exit(answer.status)

        return click.option("--json", "as_json", is_flag=True, help=help)(run)

    return decorate


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


# --- the group ---------------------------------------------------------------------------------------------

class ArchiveprintGroup(click.Group):
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


@click.group(cls=ArchiveprintGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="archiveprint")
@click.pass_context
def main(ctx: click.Context) -> None:
    """archiveprint —— 居民健康档案室：表单、标签、档案位置与借阅。"""
    keep_files_private()
    ctx.call_on_close(ctx.ensure_object(AppContext).close)


@main.group("print")
def print_group() -> None:
    """打印：表单（forms）与标签（labels）。"""


def _register_commands() -> None:
    from archiveprint.cli import accounts, backup, db, forms, jobs, labels, lending, locations, register, serve

    for module in (db, register, accounts, locations, lending, forms, labels, jobs, backup, serve):
        for command in module.COMMANDS:
            main.add_command(command)


_register_commands()
