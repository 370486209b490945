"""`archiveprint intake`: read a scanned stack of returned form pages and say where every page goes."""

from __future__ import annotations

from pathlib import Path

import click

from archiveprint.accounts.services import audit
from archiveprint.cli import CLI_ACTOR, Answer, AppContext, Reply, answers, pass_app
from archiveprint.cli.locations import status_providers
from archiveprint.intake.document import render_filing_pdf
from archiveprint.intake.report import intake_files
from archiveprint.register.services import get_township


@click.command("intake")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="把归档清单写成 PDF（A4，按库房行走顺序）")
@answers()
@pass_app
def intake_command(app: AppContext, files: tuple[Path, ...], output: Path | None) -> Answer:
    """回收归档：读扫描的整叠表单（PDF 或多页 TIFF），按每页的归档条码列出该放入的档案袋（按库房行走顺序）。

    空白页（双面扫描的背面）舍去；读不出条码、或已经归档过的页要人工处理：此时退出码为 1。
    """
    report = intake_files(app.db, [(path, path.name) for path in files], instance_dir=app.settings.instance_dir,
                          limits=app.settings.intake_limits, received_on=app.today(), actor=CLI_ACTOR,
                          providers=status_providers(app))
    written = []
    if output is not None:
        with app.db.transaction() as session:
            unit = get_township(session).unit_name
            for folder in report.filing.folders:
                audit(session, None, "print", "household", folder.location.household_id,
                      detail=f"cli intake filing list batch={report.batch.id}")
        output.write_bytes(render_filing_pdf(report.filing, unit=unit, day=app.today()))
        written.append(f"已写出 {output}")
    return Reply(report.as_json(), [*report.text_lines(), *written], status=1 if report.needs_decision else 0)
