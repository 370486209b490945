"""One stack read from start to end (the command line's `archiveprint intake`) and its report: every page's outcome,
the counts, and the filing list."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session

from archiveprint.config import IntakeLimits
from archiveprint.db import Database
from archiveprint.errors import NotFound
from archiveprint.intake.queries import BatchSummary, FilingList, PageItem, batch_pages, filing_list, find_batch
from archiveprint.intake.services import Progress, read_batch, start_batch
from archiveprint.intake.sources import inspect_files
from archiveprint.locations.queries import StatusProvider

OUTCOME_TEXT = {"filed": "归档", "blank": "空白页（舍去）", "unreadable": "待处理", "duplicate": "重复（未再归档）",
                "set_aside": "已放一边"}


@dataclass
class IntakeReport:
    """A batch after reading: its pages in stack order, how many went which way, and where the filed ones go."""

    batch: BatchSummary
    items: list[PageItem]
    filing: FilingList

    def count(self, outcome: str) -> int:
        return sum(1 for item in self.items if item.outcome == outcome)

    @property
    def needs_decision(self) -> bool:
        """Some page waits for the clerk: no readable mark, or the same page filed before."""
        return any(item.outcome in ("unreadable", "duplicate") for item in self.items)

    def as_json(self) -> dict[str, object]:
        return {"pages": len(self.items), "filed": self.count("filed"), "blank": self.count("blank"),
                "unreadable": self.count("unreadable"), "duplicates": self.count("duplicate"),
                "seconds": round(self.batch.seconds, 3), "items": [item.as_json() for item in self.items]}

    def text_lines(self) -> list[str]:
        lines = [f"回收归档第 {self.batch.id} 批（收到日期 {self.batch.received_on:%Y-%m-%d}）："
                 f"共 {len(self.items)} 页，归档 {self.count('filed')}，空白页 {self.count('blank')}，"
                 f"待处理 {self.count('unreadable')}，重复 {self.count('duplicate')}，用时 {self.batch.seconds:.1f} 秒"]
        for item in self.items:
            if item.outcome in ("unreadable", "duplicate"):
                what = (f"{item.name} {item.form_title} 第{item.form_page}页" if item.archive_code
                        else item.reason_text)
                lines.append(f"  {item.file} 第{item.page}页：{OUTCOME_TEXT[item.outcome]}  {what}")
        if self.filing.folders:
            lines.append("归档清单（按库房行走顺序）：")
            lines += self.filing.text_lines()
        return lines


def intake_report(session: Session, batch_id: int, *, providers: Sequence[StatusProvider] = ()) -> IntakeReport:
    batch = find_batch(session, batch_id)
    if batch is None:
        raise NotFound("没有这一批回收的表单", field="批次", value=batch_id)
    return IntakeReport(batch, batch_pages(session, batch_id, providers=providers),
                        filing_list(session, batch_id, providers=providers))


def intake_files(database: Database, files: Sequence[tuple[Path, str]], *, instance_dir: Path, limits: IntakeLimits,
                 received_on: date, actor: str, providers: Sequence[StatusProvider] = (),
                 progress: Progress | None = None) -> IntakeReport:
    """Check the files, read every page as one batch and report it (what the web's background job does, at once)."""
    stack = inspect_files(files, limits)
    with database.transaction() as session:
        batch_id = start_batch(session, stack, received_on=received_on, actor=actor).id
    read_batch(database, batch_id, stack, instance_dir=instance_dir, actor=actor, progress=progress)
    with database.reader() as session:
        return intake_report(session, batch_id, providers=providers)
