"""`archiveprint population import|set|list` (常住人口) and `archiveprint indicators`: 建档率, 在架率, the missing."""

from __future__ import annotations

from pathlib import Path

import click

from archiveprint.accounts.services import audit
from archiveprint.cli import Answer, AppContext, Reply, answers, cli_actor, pass_app, usage_error
from archiveprint.indicators.importer import import_figures
from archiveprint.indicators.queries import find_indicators, find_missing, find_shelf_coverage, list_figures
from archiveprint.indicators.services import CLI_SOURCE, VillageFinder, record_figures, values_of
from archiveprint.indicators.targets import site_targets


@click.group("population")
def population_group() -> None:
    """常住人口：各村每年的常住人口（及65岁及以上、0-6岁、孕产妇人数），建档率的分母。"""


@population_group.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="只检查并预览，不写入")
@answers("输出 JSON：rows, ok, applied, added, changed, unchanged, items, problems")
@pass_app
def import_population(app: AppContext, file: Path, dry_run: bool) -> Answer:
    """导入各村常住人口表（.xlsx / .csv），整份文件要么全部成功要么全部不写入。

    列：村(居)委会（代码或村名）、年份、常住人口，可选 65岁及以上、0-6岁、孕产妇。与现有数字相同的行不改动，
    同一文件导入两次不会有任何变化。
    """
    if not file.is_file():
        usage_error(f"文件不存在：{file}")
    with app.db.transaction() as session:
        report = import_figures(session, file, name=file.name, actor=cli_actor(), limits=app.settings.import_limits,
                                apply=not dry_run)
    return Reply(report.as_json(), report.text_lines(), status=0 if report.ok else 1)


@population_group.command("set")
@click.argument("village")
@click.option("--year", type=click.IntRange(1990, 2100), required=True, help="年份")
@click.option("--residents", type=click.IntRange(0), required=True, help="常住人口")
@click.option("--age65", type=click.IntRange(0), help="65岁及以上人数")
@click.option("--age0-6", "age0_6", type=click.IntRange(0), help="0-6岁人数")
@click.option("--maternal", type=click.IntRange(0), help="孕产妇人数")
@answers()
@pass_app
def set_population(app: AppContext, village: str, year: int, residents: int, age65: int | None, age0_6: int | None,
                   maternal: int | None) -> Answer:
    """录入或更正一个村某年的常住人口（新数字另存一行，旧数字留作历史；与现有数字相同则不改动）。"""
    with app.db.transaction() as session:
        return record_figures(session, VillageFinder(session).get(village), year,
                              values_of(residents, age65=age65, age0_6=age0_6, maternal=maternal),
                              source=CLI_SOURCE, actor=cli_actor())


@population_group.command("list")
@click.option("--year", type=int, help="只列这一年")
@click.option("--village", help="只列这个村（代码或村名）")
@click.option("--history", is_flag=True, help="连同已被更正的旧数字")
@answers()
@pass_app
def list_population(app: AppContext, year: int | None, village: str | None, history: bool) -> Answer:
    """列出各村各年的常住人口（现行数字；--history 连同历史）。"""
    with app.db.reader() as session:
        village_id = VillageFinder(session).get(village).id if village else None
        return Reply.listing(list_figures(session, year=year, village_id=village_id, history=history),
                             empty="（尚未录入常住人口）")


@click.command("indicators")
@click.option("--year", type=click.IntRange(1990, 2100), help="年份（默认今年）")
@click.option("--missing", "missing", metavar="人群", help="列出该重点人群本年度未登记服务的人（如 elderly）")
@click.option("--village", help="与 --missing 同用：只列这个村")
@answers("输出 JSON：year, as_of, targets, measures, villages（village, population, residents, rate, target, gap, "
         "populations）, total, shelves")
@pass_app
def indicators(app: AppContext, year: int | None, missing: str | None, village: str | None) -> Answer:
    """建档率（各村及全乡镇，全体及各重点人群，对照年度目标与差距）和纸质档案在架率。"""
    year = year or app.today().year
    targets = site_targets(app.settings.instance_dir)
    if missing is None:
        with app.db.reader() as session:
            result = find_indicators(session, year, targets=targets, today=app.today())
            shelves = find_shelf_coverage(session)
        return Reply({**result.as_json(), "shelves": shelves.as_json()},
                     [*result.text_lines(), "纸质档案在架率（在架户数/有在档居民的户数）", *shelves.text_lines()])
    with app.db.transaction() as session:
        village_id = VillageFinder(session).get(village).id if village else None
        found = find_missing(session, year, missing, targets=targets, today=app.today(), village_id=village_id)
        for household_id in dict.fromkeys(person.household_id for person in found.people):
            audit(session, None, "view", "household", household_id,
                  detail=f"建档率：{found.measure.name}{year}年未服务名单（{cli_actor()}）")
    return found
