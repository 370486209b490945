"""本月随访包: the cover list of who is due, their due forms prefilled in walking order, and the pick list — one run."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session

from archiveprint.accounts.models import User
from archiveprint.accounts.services import audit
from archiveprint.due.queries import DueItem, DueList, find_due
from archiveprint.errors import InvalidValue
from archiveprint.forms.by_sex import for_resident
from archiveprint.forms.catalog import Catalog, FormDef, load_catalog
from archiveprint.forms.context import person_values, slot_values
from archiveprint.forms.printer import FormPrinter
from archiveprint.forms.services import missing_glyphs_error
from archiveprint.locations.queries import PickList, StatusProvider, picklist_of
from archiveprint.pdf.fonts import font_path, load_metrics
from archiveprint.pdf.table import Column, Table
from archiveprint.register.models import Resident
from archiveprint.register.names import SEX_CODES
from archiveprint.register.queries import select_for_print
from archiveprint.register.services import get_township

Progress = Callable[[int, int], None]
TITLE = "本月随访包"
COVER_COLUMNS = (Column("序号", 9, True), Column("户号", 10, True), Column("姓名", 17), Column("性别", 8, True),
                 Column("年龄", 10, True), Column("人群", 24), Column("服务", 38), Column("表单", 46),
                 Column("用表", 14, True), Column("完成", 10, True))
PICK_COLUMNS = (Column("序号", 9, True), Column("位置", 44), Column("档案袋", 50), Column("户主", 18),
                Column("随访对象", 40), Column("状态", 25))


@dataclass
class PacketResult:
    """What one packet printed: its due list, pages and files."""

    due: DueList
    villages: str = ""  # in words, for titles and the audit
    pages: int = 0
    forms: int = 0  # form sheets printed (a form of two pages counts once)
    seconds: float = 0.0
    outputs: list[Path] = field(default_factory=list)  # the packet, then the pick list
    printed: list[str] = field(default_factory=list)  # archive codes whose forms were printed, for the audit

    def entries(self) -> list[dict[str, object]]:
        """One entry per resident due: what population, which visits, which forms (joined when several)."""
        grouped: dict[str, list[DueItem]] = {}
        for item in self.due.items:
            grouped.setdefault(item.archive_code, []).append(item)
        on = self.due.month_end
        return [{"archive_code": code, "name": items[0].name, "village": items[0].village_name,
                 "household": items[0].household_number, "age": items[0].age_text(on),
                 "population": "、".join(dict.fromkeys(i.population for i in items)),
                 "visit": "、".join(i.visit_name for i in items),
                 "form": "、".join(dict.fromkeys(form for i in items for form in i.sheet)),
                 "printed": [form for i in items for form in i.forms],
                 "visits": [i.as_json(on) for i in items]} for code, items in grouped.items()]

    def as_json(self) -> dict[str, object]:
        return {"month": f"{self.due.month:%Y-%m}", "villages": self.villages, "residents": self.due.residents,
                "visits": len(self.due.items), "forms": self.forms, "pages": self.pages,
                "seconds": round(self.seconds, 3), "output": str(self.outputs[0]) if self.outputs else None,
                "picklist": str(self.outputs[1]) if len(self.outputs) > 1 else None,
                "undated": self.due.undated, "due": self.entries()}

    def text_lines(self) -> list[str]:
        lines = [f"{self.due.month:%Y年%m月} {self.villages}：{self.due.residents} 人到期"
                 f"（{len(self.due.items)} 项服务），"
                 f"打印表单 {self.forms} 张，共 {self.pages} 页，用时 {self.seconds:.1f} 秒"]
        lines += [f"  {name}：{count} 项" for name, count in self.due.by_schedule().items()]
        lines += [f"  {name}：{count} 人未登记排期所需日期，未列入" for name, count in self.due.undated.items()]
        lines += [f"已生成：{path}" for path in self.outputs]
        return lines


@dataclass
class PacketPlan:
    """What a packet will hold, before it is printed: the due list, the sheets it prints, its pages, and the names
    the font cannot draw."""

    due: DueList
    villages: str = ""
    forms: int = 0  # new sheets printed (a form of two pages counts once)
    pages: int = 0  # the packet's pages: the cover list and the sheets (the pick list is a file of its own)
    missing_glyphs: dict[str, set[str]] = field(default_factory=dict)

    @property
    def new_sheets(self) -> int:
        """Visits written on a new sheet that the packet brings."""
        return sum(1 for item in self.due.items if item.new_sheet)

    @property
    def continued(self) -> int:
        """Visits written on the sheet already in the folder (续填第N栏)."""
        return sum(1 for item in self.due.items if not item.new_sheet)

    def check(self) -> None:
        """Refuse a packet with nobody due (no empty print job) or with names the font cannot draw."""
        if not self.due.items:
            raise InvalidValue("{month} {villages}没有到期的服务，不需要打印随访包",
                               params={"month": f"{self.due.month:%Y-%m}", "villages": self.villages},
                               field="月份", value=f"{self.due.month:%Y-%m}")
        if self.missing_glyphs:
            raise missing_glyphs_error(self.missing_glyphs)


def plan_packet(session: Session, month: date, *, villages: Sequence[str] | None, villages_text: str) -> PacketPlan:
    """The packet print_packet would write for the same month and villages, counted without drawing it."""
    due = find_due(session, month, villages=villages)
    plan = PacketPlan(due=due, villages=villages_text, missing_glyphs=_missing_glyphs(due))
    catalog = load_catalog()
    plan.pages = sum(table.page_count for table in cover_tables(due, unit="", day=due.month))
    for items in _by_resident(due).values():
        forms = _forms_of(items, catalog)
        plan.forms += len(forms)
        plan.pages += sum(form.pages for form in forms)
    return plan


def audit_packet(session: Session, result: PacketResult, *, user: User | None = None, actor: str) -> None:
    """One 'print' row per resident the packet names (its cover list and pick list), saying whether their new
    sheets were printed too."""
    printed = set(result.printed)
    for code in dict.fromkeys(item.archive_code for item in result.due.items):
        what = "随访名单及预填表单" if code in printed else "随访名单"
        audit(session, user, "print", "resident", code, detail=f"{TITLE} {result.due.month:%Y-%m} {what}（{actor}）")


def _by_resident(due: DueList) -> dict[int, list[DueItem]]:
    items_of: dict[int, list[DueItem]] = {}
    for item in due.items:
        items_of.setdefault(item.resident_id, []).append(item)
    return items_of


def _forms_of(items: list[DueItem], catalog: Catalog) -> list[FormDef]:
    """One resident's new sheets, in the order of their visits (a form due twice is printed once; of a form that
    exists per sex, the resident's)."""
    wanted = list(dict.fromkeys(form_id for item in items for form_id in item.forms))
    return for_resident([catalog.forms[form_id] for form_id in wanted], items[0].sex) if wanted else []


def _missing_glyphs(due: DueList) -> dict[str, set[str]]:
    metrics = load_metrics(font_path())
    return {item.archive_code: lacking for item in due.items if (lacking := metrics.missing([item.name]))}


def cover_tables(due: DueList, *, unit: str, day: date) -> list[Table]:
    """The 随访名单, one table per village (each village doctor gets his own pages), in walking order."""
    by_village: dict[str, list[DueItem]] = {}
    for item in due.items:
        by_village.setdefault(item.village_name, []).append(item)
    tables = []
    for village, items in by_village.items() or {"": []}.items():
        rows = [[str(n), str(item.household_number), item.name, SEX_CODES.get(item.sex, ""),
                 item.age_text(due.month_end), item.population,
                 item.visit_name + ("（逾期）" if item.overdue else ""), item.sheet_titles(),
                 "新表" if item.new_sheet else f"续第{item.column}栏", "□"]
                for n, item in enumerate(items, start=1)]
        people = len({item.resident_id for item in items})
        tables.append(Table(
            title=f"{TITLE}　随访名单　{due.month:%Y年%m月}",
            subtitle=[f"{unit}　{village or '（无人到期）'}　共 {people} 人 {len(items)} 项服务"
                      f"　打印日期 {day:%Y-%m-%d}",
                      "用表“新表”：表单已预填附后，按户序排列；“续第N栏”：在档案袋中已有的表上续填第N栏。"],
            columns=COVER_COLUMNS, rows=rows, footer=f"{TITLE} {village}"))
    return tables


def picklist_table(picklist: PickList, *, month: date, unit: str, villages: str) -> Table:
    """The folders to pull, in shelf walking order, as the packet's second file."""
    rows = [[str(row.number), row.location.place.address or "—", row.location.folder_display, row.location.head_name,
             row.wanted, row.location.place.status.text] for row in picklist.rows]
    return Table(title=f"调档单　{TITLE}　{month:%Y年%m月}",
                 subtitle=[f"{unit}　{villages}　共 {len(rows)} 袋　按库房行走顺序排列"],
                 columns=PICK_COLUMNS, rows=rows, footer="调档单")


def print_packet(session: Session, month: date, target: Path, *, villages: Sequence[str] | None,
                 villages_text: str, today: date, providers: Sequence[StatusProvider] = (),
                 progress: Progress | None = None) -> PacketResult:
    """Write the packet (cover list + prefilled due forms) to `target` and its pick list beside it
    (<stem>-picklist.pdf). Reads only; the caller audits `printed` after it."""
    started = time.perf_counter()
    due = find_due(session, month, villages=villages)
    result = PacketResult(due=due, villages=villages_text)
    catalog = load_catalog()
    township = get_township(session)
    unit = township.unit_name or township.name
    missing = _missing_glyphs(due)
    if missing:
        raise missing_glyphs_error(missing)
    items_of = _by_resident(due)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    with partial.open("wb") as fp:
        printer = FormPrinter(fp)
        for table in cover_tables(due, unit=unit, day=today):
            printer.add_table(table)
        codes = [item.archive_code for item in due.items]
        total = len(items_of)
        done = 0
        for start in range(0, len(codes), 500):
            chunk = tuple(dict.fromkeys(codes[start:start + 500]))
            for resident in session.scalars(select_for_print(codes=chunk)):
                _resident_forms(printer, resident, items_of.pop(resident.id, []), township, today, catalog, result)
                done += 1
                if progress and (done % 50 == 0 or done == total):
                    progress(done, total)
        result.pages = printer.page_count
        printer.close(title=f"{TITLE} {month:%Y-%m} {villages_text}")
    partial.replace(target)
    folders: dict[int, list[str]] = {}
    for item in due.items:
        codes_of = folders.setdefault(item.household_id, [])
        if item.archive_code not in codes_of:
            codes_of.append(item.archive_code)
    picks = picklist_of(session, folders, providers=providers)
    pick_target = target.with_name(f"{target.stem}-picklist.pdf")
    pick_partial = pick_target.with_name(pick_target.name + ".part")
    with pick_partial.open("wb") as fp:
        printer = FormPrinter(fp)
        printer.add_table(picklist_table(picks, month=due.month, unit=unit, villages=villages_text))
        printer.close(title=f"调档单 {month:%Y-%m} {villages_text}")
    pick_partial.replace(pick_target)
    result.outputs = [target, pick_target]
    result.seconds = time.perf_counter() - started
    return result


def _resident_forms(printer: FormPrinter, resident: Resident, items: list[DueItem], township, today: date,  # type: ignore[no-untyped-def]
                    catalog, result: PacketResult) -> None:
    """One resident's new sheets, prefilled (see _forms_of)."""
    forms = _forms_of(items, catalog) if items else []
    if not forms:
        return
    person = person_values(resident, township, today=today)
    for form in forms:
        printer.add_form(form, slot_values(form, person), code17=resident.archive_code)
        result.forms += 1
    result.printed.append(resident.archive_code)
