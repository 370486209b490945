"""`archiveprint site …`: the sites (archive rooms) of one installation — add one, list them, transfer a site or some
of its villages to another (机构撤并)."""

from __future__ import annotations

from pathlib import Path

import click

from archiveprint.cli import Answer, AppContext, Reply, answers, cli_actor, pass_app
from archiveprint.config import make_private
from archiveprint.db import utcnow
from archiveprint.sites.queries import site_summaries
from archiveprint.sites.services import add_site


@click.group("site")
def site_group() -> None:
    """机构（乡镇卫生院、社区卫生服务中心）：新增、列出、移交（机构撤并）；一个系统可管理全县多个机构。"""


@site_group.command("add")
@click.argument("code")
@click.option("--name", required=True, help="机构名称，如 柏棠镇卫生院")
@click.option("--county", "county_code", required=True, help="县级行政区划代码（6位）")
@click.option("--county-name", required=True, help="县(市、区)名称")
@click.option("--township", "township_code", required=True, help="乡镇(街道)代码（3位，档案编号第7–9位）")
@click.option("--township-name", default="", help="乡镇(街道)名称（不给则取机构名称去掉“卫生院”）")
@answers()
@pass_app
def add(app: AppContext, code: str, name: str, county_code: str, county_name: str, township_code: str,
        township_name: str) -> Answer:
    """新增一个机构（第二个起需要 PostgreSQL）。"""
    with app.installation_db.transaction() as session:
        site = add_site(session, code, name=name, county_code=county_code, county_name=county_name,
                        township_code=township_code, township_name=township_name, actor=cli_actor())
        summary = next(s for s in site_summaries(session) if s.id == site.id)
    return Reply(summary.as_json(), [f"已新增机构 {summary.code}：{summary.name}（{summary.county_name} "
                                     f"{summary.county_code}-{summary.township_code} {summary.township_name}）"])


@site_group.command("list")
@answers()
@pass_app
def list_sites(app: AppContext) -> Answer:
    """列出本系统的机构及其村、户、居民和用户数。"""
    with app.installation_db.reader() as session:
        return Reply.listing(site_summaries(session), empty="还没有机构：先 archiveprint township set，或 site add")


@site_group.command("transfer")
@click.option("--from", "source", required=True, metavar="CODE", help="移交的机构（机构代码）")
@click.option("--to", "target", required=True, metavar="CODE", help="接收的机构（机构代码）")
@click.option("--village", "villages", multiple=True,
              help="只移交这个村(居)委会（3位或12位代码，或名称；可重复）；不给则移交整个机构并将其撤并")
@click.option("--supervisor", default="", help="监交人（印在移交清单上）")
@click.option("--dry-run", is_flag=True, help="只预览：数量、移交清单、调档单和架位标签，不写入")
@click.option("--expect", "expected", metavar="CODE", help="预览给出的核对码：档案或架位在预览后有变化则不执行")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
              help="文件写到这个文件夹（默认：实例文件夹/transfers/<编号>）")
@answers()
@pass_app
def transfer(app: AppContext, source: str, target: str, villages: tuple[str, ...], supervisor: str, dry_run: bool,
             expected: str | None, output: Path | None) -> Answer:
    """把一个机构（或其中几个村）的档案移交给另一个机构：移交清单一式三份、调档单、接收机构的新架位标签。

    档案编号不变；整个机构移交后该机构撤并为只读历史。有借出未还的档案袋时不移交。"""
    from archiveprint.lending.queries import status_provider  # lazy: `site list` loads no lending
    from archiveprint.sites.documents import transfer_folder, write_documents  # lazy: nor labels and WeasyPrint
    from archiveprint.sites.transfer import transfer_villages  # lazy: nor the locations and the shelving

    now = utcnow()
    with app.installation_db.transaction() as session:
        result = transfer_villages(session, source, target, villages=villages, supervisor=supervisor,
                                   expected=expected, providers=[status_provider(app.rules)], dry_run=dry_run,
                                   actor=cli_actor(), now=now)
        written: dict[str, Path] = {}
        if not dry_run:
            assert result.event_id is not None
            folder = output or transfer_folder(app.settings.instance_dir, result.event_id)
            written = write_documents(session, result, folder, user=None, actor=cli_actor(), now=now,
                                      timezone=app.rules.timezone, instance_dir=app.settings.instance_dir)
            make_private(folder)
    lines = result.text_lines()
    if dry_run:
        lines += [f"  将打印：{d['title']}，{d['lines']} 行" for d in result.documents()]
        lines.append(f"  核对码 {result.fingerprint}（执行时加 --expect {result.fingerprint}）")
    lines += [f"已写出 {path}" for path in written.values()]
    return Reply({**result.as_json(), "written": {key: str(path) for key, path in written.items()}}, lines)
