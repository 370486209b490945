"""`archiveprint site …`: the sites (archive rooms) of one installation — add one, list them."""

from __future__ import annotations

import getpass

import click

from archiveprint.cli import Answer, AppContext, Reply, answers, pass_app
from archiveprint.sites.queries import site_summaries
from archiveprint.sites.services import add_site


@click.group("site")
def site_group() -> None:
    """机构（乡镇卫生院、社区卫生服务中心）：新增、列出；一个系统可管理全县多个机构。"""


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
                        township_code=township_code, township_name=township_name, actor=f"cli:{getpass.getuser()}")
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
