"""#14: every `archiveprint` command, walked from the click tree, run as 柏棠镇卫生院 (`--site BT`) with arguments that
name 诸福屯镇卫生院's (site A's) residents, folders, numbers, users and printers: nothing of A comes back, nothing of A
changes. With two sites and no `--site`, every command that reads or writes a site's data refuses and names the
sites; the installation's own commands (listed below) do not ask. PostgreSQL only (SQLite holds one site)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import click
import pypdf
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from archiveprint.accounts.models import User, user_villages
from archiveprint.accounts.scope import apply_scope, site_scope
from archiveprint.cli import AppContext, main
from archiveprint.db import Database
from archiveprint.locations.models import Shelf
from archiveprint.register.models import Village
from archiveprint.sites.models import Site
from tests.pdfcheck import page_texts
from tests.security.two_sites import LAYOUT, SiteWorld, TwoSites, build_two_sites, site_counts

Args = Callable[[SiteWorld, Path], list[str]]
STOCK = "a4-3x8"  # the stock of A's printer profile (tests/security/two_sites.py)

# What each command is given: site A's things wherever it names something. The installation's own commands are in
# INSTALLATION instead; a command in neither fails the test.
SITE_COMMANDS: dict[str, Args] = {
    "borrower add": lambda a, d: ["wang", "--kind", "village_doctor", "--name", "王村医", "--village", "201"],
    "borrower list": lambda a, d: ["--all", "--json"],
    "capacity": lambda a, d: ["--json", "--shelves"],
    "close": lambda a, d: [a.folder, "--reason", "moved"],
    "demo": lambda a, d: ["--villages", "1", "--households", "1"],
    "due dates": lambda a, d: [a.resident, "--due-date", "2027-01-01", "--json"],
    "due list": lambda a, d: ["--all", "--month", "2026-11", "--json"],
    "due record": lambda a, d: [a.resident, "--schedule", "elderly", "--on", "2026-11-25"],
    "due visits": lambda a, d: [a.resident, "--json"],
    "due void": lambda a, d: [str(a.visit_id)],
    "find": lambda a, d: [a.resident, "--json"],
    "handover list": lambda a, d: ["--json"],
    "handover pdf": lambda a, d: [a.handover, "-o", str(d / "handover.pdf")],
    "handover record": lambda a, d: [a.folder, "--from-party", "甲", "--to-party", "乙", "-o", str(d / "ho.pdf")],
    "import": lambda a, d: [str(d / "register.csv"), "--dry-run"],
    "indicators": lambda a, d: ["--json"],
    "inspect done": lambda a, d: [str(a.task_id)],
    "inspect draw": lambda a, d: ["--seed", "s", "--size", "1", "--minimum", "0", "--village", "201"],
    "inspect folder": lambda a, d: [a.inspection, a.folder, "--json"],
    "inspect list": lambda a, d: ["--json"],
    "inspect picklist": lambda a, d: [a.inspection, "-o", str(d / "inspect-picklist.pdf")],
    "inspect record": lambda a, d: [a.inspection, a.folder, "--item", "cover", "--pass"],
    "inspect replace": lambda a, d: [a.inspection, a.folder, "--reason", "x"],
    "inspect report": lambda a, d: [a.inspection, "-o", str(d / "report.pdf"), "--xlsx", str(d / "report.xlsx")],
    "inspect result": lambda a, d: [a.inspection, "--json"],
    "inspect sign": lambda a, d: [a.inspection],
    "inspect tasks": lambda a, d: ["--inspection", a.inspection, "--json"],
    "inspect trend": lambda a, d: ["--json"],
    "inspect unavailable": lambda a, d: [a.inspection, a.folder],
    "intake": lambda a, d: [str(d / "stack.pdf"), "--json"],
    "inventory close": lambda a, d: [a.inventory],
    "inventory list": lambda a, d: ["--json"],
    "inventory pdf": lambda a, d: [a.inventory, "-o", str(d / "inventory.pdf")],
    "inventory report": lambda a, d: [a.inventory, "--json"],
    "inventory scan": lambda a, d: [a.inventory, a.folder],
    "inventory start": lambda a, d: ["--counter", "甲", "--village", "201"],
    "inventory upload": lambda a, d: [a.inventory, str(d / "codes.txt")],
    "labels printer calibrate": lambda a, d: [a.printer, "--stock", STOCK, "--measured", "10,10"],
    "labels printer delete": lambda a, d: [a.printer, "--stock", STOCK],
    "labels printer list": lambda a, d: ["--json"],
    "labels printer set": lambda a, d: [a.printer, "--stock", STOCK, "--dx", "1"],
    "layout apply": lambda a, d: [str(d / "layout.yaml")],
    "layout show": lambda a, d: ["--json"],
    "lend approve": lambda a, d: [str(a.request_id), "--approver", "admin-ZFT"],
    "lend cancel": lambda a, d: [str(a.request_id)],
    "lend evidence": lambda a, d: [str(a.request_id), "--application", "x"],
    "lend found": lambda a, d: [a.lent_folder],
    "lend list": lambda a, d: ["--state", "open", "--json"],
    "lend lost": lambda a, d: [a.lent_folder, "--note", "x"],
    "lend out": lambda a, d: [a.folder, "--borrower", "wang", "--purpose", "随访"],
    "lend overdue": lambda a, d: ["--date", "2027-06-01", "-o", str(d / "overdue.pdf"), "--json"],
    "lend queue": lambda a, d: ["--json"],
    "lend receipt": lambda a, d: [a.lent_folder, "-o", str(d / "receipt.pdf")],
    "lend refuse": lambda a, d: [str(a.request_id), "--approver", "admin-ZFT", "--reason", "x"],
    "lend register": lambda a, d: ["--month", "2026-11", "-o", str(d / "register.pdf")],
    "lend renew": lambda a, d: [a.lent_folder],
    "lend replay": lambda a, d: [str(d / "scans.json")],
    "lend request": lambda a, d: [a.folder, "--borrower", "wang", "--purpose", "随访"],
    "lend requests expire": lambda a, d: ["--dry-run", "--json"],
    "lend requests list": lambda a, d: ["--json"],
    "lend return": lambda a, d: [a.lent_folder],
    "lend show": lambda a, d: [a.lent_folder, "--json"],
    "lend write-off": lambda a, d: [a.lent_folder, "--reason", "x", "--approved-by", "x"],
    "locate": lambda a, d: [a.folder, "--json", "--history"],
    "move": lambda a, d: [a.folder, "--to", a.shelf],
    "picklist": lambda a, d: [a.folder, a.resident, "-o", str(d / "picklist.pdf")],
    "population import": lambda a, d: [str(d / "population.csv"), "--dry-run"],
    "population list": lambda a, d: ["--history", "--json"],
    "population set": lambda a, d: ["201", "--year", "2026", "--residents", "50"],
    "print due": lambda a, d: ["--all", "--month", "2026-11", "-o", str(d / "due.pdf")],
    "print forms": lambda a, d: ["--form", "personal_info", "--code", a.resident, "-o", str(d / "forms.pdf")],
    "print labels": lambda a, d: ["--kind", "folder", "--code", a.folder, "-o", str(d / "labels.pdf")],
    "jobs rerun": lambda a, d: [str(a.job_id), "--json"],
    "jobs show": lambda a, d: [str(a.job_id), "--json"],
    "relayout": lambda a, d: ["--village", "201", "--json"],
    "reopen": lambda a, d: [a.folder, "--reason", "x"],
    "shelve": lambda a, d: ["--village", "201"],
    "township set": lambda a, d: ["--county", "130123", "--county-name", "正定县", "--code", "100", "--name", "甲"],
    "user activate": lambda a, d: ["clerk-ZFT"],
    "user create": lambda a, d: ["new-clerk", "--role", "clerk", "--password", "long-enough-1"],
    "user deactivate": lambda a, d: ["clerk-ZFT"],
    "user passwd": lambda a, d: ["clerk-ZFT", "--password-stdin"],
    "user role": lambda a, d: ["clerk-ZFT", "viewer"],
    "user villages": lambda a, d: ["clerk-ZFT", "201"],
    "village add": lambda a, d: ["203", "南村"],
    "village list": lambda a, d: ["--json"],
}
# The installation's own commands (and those that read only the program's shipped files): they hold no site's rows,
# so they never ask which site.
INSTALLATION: dict[str, Args] = {
    "due schedules": lambda a, d: ["--json"],
    "forms list": lambda a, d: ["--json"],
    "forms variants": lambda a, d: [],
    "labels kinds": lambda a, d: ["--json"],
    "labels stocks": lambda a, d: ["--json"],
    "lend rules": lambda a, d: ["--json"],
    "backup": lambda a, d: ["-o", str(d / "backup.tar")],
    "db current": lambda a, d: [],
    "db upgrade": lambda a, d: [],
    "site add": lambda a, d: ["XY", "--name", "新安镇卫生院", "--county", "130123", "--county-name", "正定县",
                              "--township", "102"],
    "site list": lambda a, d: ["--json"],
    "user create": lambda a, d: ["county-sup", "--role", "county_supervisor", "--password", "long-enough-1"],
    # County users belong to no site: found by name, whatever the --site.
    "user passwd": lambda a, d: ["county-sup", "--password-stdin"],
    "user role": lambda a, d: ["county-sup", "county_print"],
    "user deactivate": lambda a, d: ["county-sup"],
    "user activate": lambda a, d: ["county-sup"],
}
# Without --site the installation's (every site's users), with it that site's only: run both ways.
EITHER: dict[str, Args] = {
    "jobs clean": lambda a, d: ["--older-than", "1", "--json"],  # without --site: the installation's jobs folder
    "user exists": lambda a, d: ["clerk-ZFT"],
    "user list": lambda a, d: ["--json"],
}
NOT_RUN = {"restore": "replaces the whole database", "serve": "runs until stopped (tests/cli/test_serve.py)",
           "site transfer": "the installation's, naming both sites (tests/sites/test_transfer_cli.py)"}


def command_paths() -> list[str]:
    """Every leaf command of `archiveprint`, walked from the click tree (lazy groups load their commands)."""
    ctx = click.Context(main, obj=AppContext())
    found: list[str] = []

    def walk(command: click.Command, path: list[str]) -> None:
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                walk(sub, [*path, name])
        else:
            found.append(" ".join(path))
    walk(main, [])
    return found


def test_every_command_is_named_here() -> None:
    paths = set(command_paths())
    named = set(SITE_COMMANDS) | set(INSTALLATION) | set(EITHER) | set(NOT_RUN)
    assert paths - named == set(), "say what each new command is given (SITE_COMMANDS) or why it needs no site"
    assert named - paths == set()


@pytest.fixture
def sites(cli_env: Database, tmp_path: Path) -> TwoSites:
    return build_two_sites(cli_env, tmp_path / "instance")


@pytest.fixture
def files(tmp_path: Path, sites: TwoSites) -> Path:
    """The input files the commands read, naming site A's things."""
    a = sites.a
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "register.csv").write_text(
        f"档案编号,姓名,性别,与户主关系,户主姓名,所属村(居)委会\n{a.resident},张三丰,男,户主,张三丰,东村\n",
        encoding="utf-8-sig")
    (folder / "population.csv").write_text("村(居)委会代码,年度,常住人口\n201,2026,10\n", encoding="utf-8-sig")
    (folder / "codes.txt").write_text(f"{a.folder}\n{a.resident}\n", encoding="utf-8")
    (folder / "scans.json").write_text(json.dumps([{"client_id": "replay-0001", "action": "out", "code": a.folder,
                                                    "client_at": "2026-11-25T08:30:00Z", "borrower": "wang"}]),
                                       encoding="utf-8")
    # B's room gets a third 列: six new shelves with the codes A's room does not have either.
    (folder / "layout.yaml").write_text(LAYOUT.format(marker="柏棠").replace("列 1-2", "列 1-3"), encoding="utf-8")
    writer = pypdf.PdfWriter()
    writer.add_blank_page(595, 842)
    with (folder / "stack.pdf").open("wb") as handle:
        writer.write(handle)
    return folder


@pytest.fixture
def cli(cli_env: Database) -> Callable[..., Result]:
    """`archiveprint …` in-process (as tests/conftest.py run_cli), with a password on standard input."""
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(main, list(args), obj=AppContext(), input="long-enough-1\n", catch_exceptions=False)
    return run


def _written(folder: Path, before: set[Path]) -> str:
    """The text of the files a command wrote: PDF pages, .xlsx members, plain text."""
    texts = []
    for path in sorted(set(folder.rglob("*")) - before):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if data.startswith(b"%PDF"):
            texts += page_texts(data)
        elif data.startswith(b"PK"):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                texts += [archive.read(name).decode("utf-8", "replace") for name in archive.namelist()]
        else:
            texts.append(data.decode("utf-8", "replace"))
    return "\n".join(texts)


def _typed(a: SiteWorld) -> tuple[str, ...]:
    return (a.resident, a.folder, a.lent_folder, a.printer, a.inspection, a.inventory, a.handover, "clerk-ZFT",
            "admin-ZFT")


def test_with_two_sites_a_site_command_refuses_to_guess(sites: TwoSites, files: Path,
                                                        cli: Callable[..., Result]) -> None:
    guessed = []
    for path, args in SITE_COMMANDS.items():
        result = cli(*path.split(), *args(sites.a, files))
        refused = result.exit_code != 0 and "请指定在哪个机构操作" in result.output \
            and "ZFT（诸福屯镇卫生院）" in result.output and "BT（柏棠镇卫生院）" in result.output
        if not refused:
            guessed.append(f"archiveprint {path}: {result.exit_code} {result.output[:300]}")
    assert guessed == [], "\n".join(guessed)


def test_the_installations_commands_need_no_site(sites: TwoSites, files: Path, cli: Callable[..., Result]) -> None:
    for path, args in {**EITHER, **INSTALLATION}.items():
        result = cli(*path.split(), *args(sites.a, files))
        assert result.exit_code == 0, f"archiveprint {path}: {result.output}"
    listed = json.loads(cli("site", "list", "--json").output)
    assert [row["code"] for row in listed] == ["ZFT", "BT", "XY"]


def test_no_command_run_in_one_site_shows_or_changes_another(sites: TwoSites, files: Path, cli: Callable[..., Result],
                                                             cli_env: Database) -> None:
    a = sites.a
    before = site_counts(cli_env, a.id)
    control = cli("--site", "BT", "find", "张三丰", "--json")
    assert sites.b.resident in control.output and a.resident not in control.output  # B's own is found
    for path, args in {**SITE_COMMANDS, **EITHER}.items():
        written = set(files.rglob("*"))
        result = cli("--site", "BT", *path.split(), *args(a, files))
        where = f"archiveprint --site BT {path}"
        assert result.exit_code in (0, 1, 2), f"{where}: {result.output}"
        # Import names the site and township a stray code belongs to (by design, #14); demo and township set repeat
        # the township code they were given.
        typed = _typed(a) + (("诸福屯镇卫生院",) if path == "import" else ())
        typed += ("130123-100",) if path in ("import", "demo", "township set") else ()
        shown = result.output + _written(files, written)
        assert sites.leaks(shown, typed) == [], f"{where} shows site A's rows: {result.output}"
    assert site_counts(cli_env, a.id) == before
    with cli_env.reader() as session:
        for site, active in ((a.id, 12), (sites.b.id, 18)):  # B's layout added its own shelves, retired none of A's
            apply_scope(session, site_scope(session, site))
            assert session.scalar(select(func.count()).select_from(Shelf).where(Shelf.retired_at.is_(None))) \
                == active
        assert session.get(Site, a.id) is not None


def test_numbers_read_in_one_site_count_its_rows_only(sites: TwoSites, files: Path,
                                                      cli: Callable[..., Result]) -> None:
    """Counts carry no name to leak, so they are held to the site's own numbers: each site has 东村 with 3 households
    (6 residents, 3 of them 65 or over) and 西村 with 1, 12 shelves, 1 loan — a count over both sites doubles."""
    for site in ("BT", "ZFT"):
        villages = json.loads(cli("--site", site, "village", "list", "--json").output)
        assert sorted((v["code"], v["households"], v["residents"]) for v in villages) \
            == ([("001", 0, 0)] if site == "ZFT" else []) + [("201", 3, 6), ("202", 1, 2)]
        indicators = json.loads(cli("--site", site, "indicators", "--json").output)
        east = next(v for v in indicators["villages"] if v["village"] == "201")
        assert (east["population"], east["residents"], east["populations"]["elderly"]["residents"]) == (100, 6, 3)
        capacity = json.loads(cli("--site", site, "capacity", "--json").output)
        assert capacity["totals"]["village"] == {"shelves": 12, "capacity": 48, "used": 3}
        overdue = json.loads(cli("--site", site, "lend", "overdue", "--date", "2027-06-01", "--json").output)
        assert overdue["count"] == 1
        assert len(json.loads(cli("--site", site, "population", "list", "--json").output)) == 1
        assert len(json.loads(cli("--site", site, "inspect", "list", "--json").output)) == 1


def test_county_users_are_managed_whatever_the_site_and_site_users_in_theirs(sites: TwoSites,
                                                                            cli: Callable[..., Result],
                                                                            cli_env: Database) -> None:
    """`user list` shows every user with their site (全县 for a county user) or one site's; a county user is found by
    name whatever the --site; a site user only in their own site, and without --site the refusal names the user and
    the sites; a role change between a site role and a county role sets or clears the site."""
    assert cli("user", "create", "county-adm", "--role", "county_admin", "--password", "long-enough-1").exit_code == 0
    listed = json.loads(cli("user", "list", "--json").output)
    assert {(row["username"], row["site"]) for row in listed} == {
        ("clerk-ZFT", "ZFT"), ("admin-ZFT", "ZFT"), ("clerk-BT", "BT"), ("admin-BT", "BT"), ("county-adm", None)}
    assert "county-adm\tcounty-adm\t全县\t县级管理员" in cli("user", "list").output
    assert {row["username"] for row in json.loads(cli("--site", "BT", "user", "list", "--json").output)} \
        == {"clerk-BT", "admin-BT"}
    assert cli("--site", "BT", "user", "exists", "clerk-ZFT").exit_code == 1
    assert cli("--site", "BT", "user", "exists", "county-adm").exit_code == 0
    for where in ((), ("--site", "BT"), ("--site", "ZFT")):  # a county user: any or no --site
        result = cli(*where, "user", "passwd", "county-adm", "--password-stdin")
        assert result.exit_code == 0, result.output
    refused = cli("user", "deactivate", "clerk-BT")
    assert refused.exit_code == 1
    assert "用户 clerk-BT 是 BT（柏棠镇卫生院） 的用户" in refused.output and "ZFT（诸福屯镇卫生院）" in refused.output
    assert "--site BT" in refused.output
    elsewhere = cli("--site", "ZFT", "user", "deactivate", "clerk-BT")
    assert elsewhere.exit_code == 1 and "没有这个用户" in elsewhere.output
    assert cli("--site", "BT", "user", "deactivate", "clerk-BT").exit_code == 0

    unplaced = cli("user", "role", "county-adm", "clerk")  # to a site role: which site?
    assert unplaced.exit_code == 1
    assert "county-adm 改为机构的角色" in unplaced.output and "BT（柏棠镇卫生院）" in unplaced.output
    assert cli("--site", "BT", "user", "role", "county-adm", "village_doctor", "--village", "201").exit_code == 0
    with cli_env.reader() as session:
        moved = session.execute(select(User.site_id, User.role).where(User.username == "county-adm")).one()
        villages = session.scalars(select(Village.site_id).join(user_villages).join(User)
                                   .where(User.username == "county-adm")).all()
    assert moved == (sites.b.id, "village_doctor") and villages == [sites.b.id]  # BT's 201, not ZFT's
    assert cli("user", "role", "county-adm", "county_supervisor").exit_code == 1  # a site user now: which site?
    assert cli("--site", "BT", "user", "role", "county-adm", "county_supervisor").exit_code == 0
    with cli_env.reader() as session:
        assert session.execute(select(User.site_id, User.role).where(User.username == "county-adm")).one() \
            == (None, "county_supervisor")
