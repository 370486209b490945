"""`archiveprint print forms` and `archiveprint forms …`: health-record forms from the command line."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import TextIO

import click
import yaml
from sqlalchemy.orm import Session

from archiveprint.cli import Answer, AppContext, Reply, answers, pass_app, wants_json
from archiveprint.cli.jobs import county_choice, run_options, start_run
from archiveprint.forms.catalog import FormSet, load_catalog, site_variants, site_variants_file
from archiveprint.forms.layout import layout_cache_dir, use_cache_dir
from archiveprint.forms.preview import plan_print
from archiveprint.forms.services import EVERYONE, PrintOptions, audit_print, print_forms, resolve_scope
from archiveprint.forms.sets import FORM, SET, UnknownPrint, find_form_set
from archiveprint.jobs.county import plan_county_forms
from archiveprint.jobs.parts import plan_forms_run
from archiveprint.register.populations import load_populations
from archiveprint.register.services import village_refs


@click.command("forms")
@click.option("--set", "set_key", help="套组（编号或名称）：new_record / 新建档套表 / encounter …")
@click.option("--form", "form_key", help="单张表单（编号或名称）：personal_info / 个人基本信息表 / encounter …")
@click.option("--code", "codes", multiple=True, help="档案编号（可重复）")
@click.option("--codes-file", type=click.File("r", encoding="utf-8-sig"), help="每行一个档案编号的文件")
@click.option("--household", help="户：内部编号，或 村代码-户号（201-17）")
@click.option("--village", "villages", multiple=True, help="村：3位代码或村名（--per-village 时可重复）")
@click.option("--tag", help="人群分类，如 高血压（可与 --village 同用）")
@click.option("--population", help="重点人群（编号或名称）：hypertension / 高血压患者 …；默认为套组所针对的人群")
@click.option("--everyone", is_flag=True, help="打印范围内的全部居民，不按套组的重点人群筛选")
@click.option("--blank", is_flag=True, help="空白表（不预填）")
@click.option("--copies", default=1, show_default=True, help="空白表份数（无范围时）")
@click.option("--duplex", is_flag=True, help="双面打印：每人从新的一张纸开始")
@click.option("--separators", is_flag=True, help="每户前加一张分户页")
@click.option("--split", type=int, help="每个 PDF 最多页数，超过则分成多个文件并打包为 .zip")
@click.option("--allow-missing-glyphs", is_flag=True, help="即使有字体缺字也继续打印")
@click.option("--instructions", type=click.Choice(["none", "once", "per-form"]), default="none", show_default=True,
              help="填表说明：none 不打印；once 整批最前面打印一次；per-form 每张表后各附一份（适合空白表）")
@click.option("--per-village", is_flag=True,
              help="按村分批：每村一个 PDF（--village 所列各村，不写即全部村），设置 REDIS_URL 时由各 rq worker "
                   "同时生成，打包为 -o 指定的 .zip")
@run_options
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="输出 PDF 路径（--per-village 时为 .zip）")
@answers("输出 JSON：pages, residents, population, seconds, output(s)；--per-village 时同 jobs show，另有 zip")
@pass_app
def print_forms_command(app: AppContext, set_key: str | None, form_key: str | None, codes: tuple[str, ...],
                        codes_file: TextIO | None, household: str | None, villages: tuple[str, ...],
                        tag: str | None, population: str | None, everyone: bool, blank: bool, copies: int,
                        duplex: bool, separators: bool, split: int | None, allow_missing_glyphs: bool,
                        instructions: str, per_village: bool, site_codes: str | None, all_sites: bool, no_wait: bool,
                        output: Path) -> Answer:
    """按套组（--set）或单张表单（--form）打印（空白或按档案预填），顺序：村 → 户 → 人（户主在前） → 表单。

    针对某一重点人群的套组（高血压随访 → 高血压患者）按村、户或人群分类打印时，默认只打印该人群；
    --everyone 打印范围内的全部居民，--population 指定其他人群。按档案编号打印时不筛选。
    --per-village 按村分批，每村一个 PDF，打包为一个 .zip（各村的进度与失败原因：archiveprint jobs show）。
    --sites/--all-sites 全县打印：所选各机构的各村，每个机构每村一个 PDF，一个 .zip（按机构分文件夹）。
    """
    use_cache_dir(layout_cache_dir(app.settings.instance_dir))
    if (set_key is None) == (form_key is None):
        raise click.UsageError("请用 --set 指定套组，或用 --form 指定单张表单（二选一）")
    if everyone and population:
        raise click.UsageError("--everyone 与 --population 只能选一个")
    county = county_choice(app, site_codes, all_sites, villages)
    per_village = per_village or county is not None
    if len(villages) > 1 and not per_village:
        raise click.UsageError("多个村请加 --per-village（每村一个 PDF，打包为 .zip）")
    if no_wait and not per_village:
        raise click.UsageError("--no-wait 只用于 --per-village")
    if codes_file:
        codes = codes + tuple(line.strip() for line in codes_file if line.strip())
    options = PrintOptions(blank=blank, copies=copies, duplex=duplex, separators=separators, split_pages=split,
                           allow_missing_glyphs=allow_missing_glyphs, instructions=instructions.replace("-", "_"))
    if county is not None:
        if codes or household:
            raise click.UsageError("全县打印（--sites/--all-sites）按村分批，不能按档案编号或户打印")
        plan = plan_county_forms(app.installation_db, county, set_key or form_key or "", options,
                                 set_kind=SET if set_key is not None else FORM, tag=tag,
                                 population=EVERYONE if everyone else population, today=app.today())
        click.echo(f"{plan.params['set_name']}：{len(plan.params['sites'])} 个机构，{len(plan.parts)} 个村，"
                   f"{plan.residents} 人，{plan.pages} 页",
                   err=wants_json())
        return start_run(app, plan, output=output, wait=not no_wait, database=app.installation_db)
    if per_village:
        with app.db.reader() as session:
            form_set = _what_to_print(session, set_key, form_key)
            scope = resolve_scope(session, codes=codes, household=household, tag=tag,
                                  population=EVERYONE if everyone else population, form_set=form_set, blank=blank,
                                  today=app.today())
            plan = plan_forms_run(session, form_set, scope, options, villages=village_refs(session, villages),
                                  set_kind=SET if set_key is not None else FORM, today=app.today())
        click.echo(f"{form_set.name}：{len(plan.parts)} 个村，{plan.residents} 人，{plan.pages} 页",
                   err=wants_json())
        return start_run(app, plan, output=output, wait=not no_wait)
    with app.db.reader() as session:
        form_set = _what_to_print(session, set_key, form_key)
        village = village_refs(session, villages[:1])
        scope = resolve_scope(session, codes=codes, household=household, village=village[0] if village else None,
                              tag=tag, population=EVERYONE if everyone else population, form_set=form_set,
                              blank=blank, today=app.today())
        click.echo(plan_print(session, form_set, scope, options).headline, err=wants_json())  # before printing
        with click.progressbar(length=1, label="打印表单", file=sys.stderr, show_pos=True) as bar:
            def progress(done: int, total: int) -> None:
                bar.length = total
                bar.update(done - bar.pos)

            result = print_forms(session, form_set, scope, output, options=options, today=app.today(),
                                 progress=progress)
    with app.db.transaction() as session:
        audit_print(session, result, actor=f"cli:{getpass.getuser()}")
    return result


def _what_to_print(session: Session, set_key: str | None, form_key: str | None) -> FormSet:
    """The set (--set) or single form (--form) asked for; a key of the other kind is refused with the right option."""
    kind, key = (SET, set_key) if set_key is not None else (FORM, form_key)
    assert key is not None
    try:
        return find_form_set(session, key, kind=kind)
    except UnknownPrint as error:
        if error.other is not None:
            error.message += f"：请用 --{error.other} {error.key}"
        raise


@click.group("forms")
def forms_group() -> None:
    """表单目录。"""


@forms_group.command("list")
@answers(None)
def list_forms() -> Answer:
    """列出全部表单和套组。"""
    catalog = load_catalog()
    forms, sets = catalog.forms.values(), catalog.sets.values()
    populations = load_populations()
    return Reply({"forms": [{"id": f.id, "title": f.title, "pages": f.pages} for f in forms],
                  "sets": [{"id": s.id, "name": s.name, "forms": list(s.forms), "population": s.population}
                           for s in sets]},
                 ["表单：", *(f"  {f.id:24} {f.title}（{f.pages}页）" for f in forms),
                  "套组：", *(f"  {s.id:24} {s.name}：{' + '.join(s.forms)}"
                             + (f"（{populations[s.population].name}）" if s.population else "") for s in sets)])


@forms_group.command("variants")
def list_variants() -> None:
    """列出来源不一致之处的可选版本、各省可增删的行，以及本院当前的选择（instance/form_variants.yaml）。"""
    chosen = site_variants()
    for form in load_catalog().forms.values():
        raw = yaml.safe_load((form.folder / "form.yaml").read_text(encoding="utf-8"))
        picked = dict(chosen[form.id].variants) if form.id in chosen else {}
        for item in raw.get("fields", []):
            if item.get("variants"):
                current = picked.get(item["slot"], "默认")
                click.echo(f"{form.id}.{item['slot']}（{item['label']}）：默认 / {' / '.join(item['variants'])}"
                           f"  当前：{current}")
        for row in form.rows:
            wish = ("可添加" if row.site == "add" else "可删除") + (f"（替换 {row.replaces}）" if row.replaces else "")
            click.echo(f"{form.id} 行 {row.name}（{row.label}）：{wish}  当前：{'印' if row.printed else '不印'}")
    click.echo(f"设置文件：{site_variants_file()}")
