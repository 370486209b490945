"""Two sites that share village codes (201 东村, 202 西村) and names (张三丰 …), each with the whole of an archive
room's rows: households and residents, a storage layout and shelved folders, a borrower, a loan and a request, a
count, a handover, a signed inspection with a 整改 task, a print job with its file, a printer profile, a custom set,
a service record, 常住人口, an intake batch and users. Site A (诸福屯镇卫生院, 130123-100) is the one whose rows must
never reach site B (柏棠镇卫生院, 130123-101); every string that only A has carries the marker 诸福屯 or A's number
prefix 130123100."""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from archiveprint.accounts.scope import apply_scope, site_scope
from archiveprint.accounts.services import create_user
from archiveprint.db import Base, Database
from archiveprint.due.services import record_visit
from archiveprint.forms.catalog import load_catalog
from archiveprint.forms.sets import create_form_set
from archiveprint.indicators.services import record_figures, values_of
from archiveprint.inspections.checklist import load_checklist
from archiveprint.inspections.models import InspectionTask
from archiveprint.inspections.services import draw_inspection, record_check, sign_inspection
from archiveprint.intake.models import IntakeBatch, IntakePage
from archiveprint.jobs import queue as jobqueue
from archiveprint.labels.printers import set_printer_profile
from archiveprint.labels.services import label_stocks
from archiveprint.lending.borrowers import add_borrower
from archiveprint.lending.models import LoanRequest
from archiveprint.lending.requests import request_folders
from archiveprint.lending.rules import load_rules, shipped_rules_file
from archiveprint.lending.services import check_out
from archiveprint.locations.handover import hand_over
from archiveprint.locations.inventory import start_inventory
from archiveprint.locations.layout import parse_layout
from archiveprint.locations.services import apply_layout, shelve_village
from archiveprint.register import services, uploads
from archiveprint.register.codes import folder_code
from archiveprint.register.idcard import make_id_number
from archiveprint.register.models import Household
from archiveprint.sites.models import Site
from archiveprint.sites.services import add_site
from tests.conftest import ACTOR, setup_township

PASSWORD = "site-pass-123"
NOW = datetime(2026, 11, 25, 1, 0)
ON = date(2026, 11, 25)
# What only site A has: its name (in its unit, rooms, addresses, borrower, printer, set, file names, user names), its
# 9-digit number prefix (in every archive and folder code, and as printed: 130123-100-201-F00001-3) and a phone.
A_MARKERS = ("诸福屯", "130123100", "130123-100", "13911112222")

LAYOUT = """\
name: {marker}档案室
growth_reserve: 0.25
rooms:
  - code: K1
    name: {marker}一号库房
    blocks:
      - code: M
        kind: 密集架
        levels: 列 1-2 × 面 A,B × 层 1-3
        capacity: 4
"""


@dataclass
class SiteWorld:
    """One site's rows, by what a URL or a command names them with."""

    id: int
    code: str
    marker: str
    resident: str  # archive code of 张三丰, 东村 第1户's head
    household: int
    folder: str  # 东村 第1户's folder code (F130123100201000013)
    lent_folder: str
    requested_folder: str
    shelf: str
    loan_id: int
    request_id: int
    inventory_id: int
    inventory: str  # PD-2026-0001
    handover: str  # YJ-2026-0001
    inspection_id: int
    inspection: str  # CC-2026-0001
    inspection_folder: int
    task_id: int
    job_id: int
    job_file: str
    profile_id: int
    printer: str
    set_key: str
    visit_id: int
    batch_id: int
    page_id: int
    upload_token: str
    population_token: str
    user_ids: dict[str, int] = field(default_factory=dict)  # username → id


@dataclass
class TwoSites:
    a: SiteWorld  # 诸福屯镇卫生院: nothing of it may reach B
    b: SiteWorld  # 柏棠镇卫生院

    def leaks(self, text: str, typed: tuple[str, ...] = ()) -> list[str]:
        """A's markers in `text`, apart from what the asker typed (a message may repeat a code it was given, as typed
        or as printed: a folder code's display form is taken out with it)."""
        typed = (*typed, *(display(code) for code in typed if FOLDER.fullmatch(code)),
                 *(archive_display(code) for code in typed if ARCHIVE.fullmatch(code)))
        for value in sorted(typed, key=len, reverse=True):
            text = text.replace(value, "")
        return [marker for marker in A_MARKERS if marker in text]


FOLDER = re.compile(r"F\d{18}")
ARCHIVE = re.compile(r"\d{17}")


def display(code: str) -> str:
    """F130123100201000013 → 130123-100-201-F00001-3, as pages and messages print a folder code."""
    return f"{code[1:7]}-{code[7:10]}-{code[10:13]}-F{code[13:18]}-{code[18]}"


def archive_display(code: str) -> str:
    """13012310020100001 → 130123-100-201-00001, as messages print an archive code."""
    return f"{code[:6]}-{code[6:9]}-{code[9:12]}-{code[12:]}"


def require_postgresql(database: Database) -> None:
    if database.is_sqlite:
        pytest.skip("several sites need PostgreSQL (SQLite holds one site: tests/accounts/test_site_scope.py)")


def build_two_sites(database: Database, instance_dir: Path) -> TwoSites:
    """Both sites, committed. A is the first site (made by `township set`), B the second."""
    require_postgresql(database)
    with database.transaction() as session:
        setup_township(session)
        first = session.scalars(select(Site)).one()
        second = add_site(session, "BT", name="柏棠镇卫生院", county_code="130123", county_name="正定县",
                          township_code="101", actor=ACTOR)
        first_id, second_id = first.id, second.id
        apply_scope(session, site_scope(session, second_id))
        services.add_village(session, "201", "东村", actor=ACTOR)
        services.add_village(session, "202", "西村", actor=ACTOR)
    worlds = []
    for site_id, code, marker in ((first_id, "ZFT", "诸福屯"), (second_id, "BT", "柏棠")):
        with database.transaction() as session:
            apply_scope(session, site_scope(session, site_id))
            if code == "ZFT":
                session.get(Site, site_id).code = "ZFT"  # type: ignore[union-attr]
            worlds.append(_fill_site(session, site_id, code, marker, instance_dir))
    return TwoSites(*worlds)


def _fill_site(session: Session, site_id: int, code: str, marker: str, instance_dir: Path) -> SiteWorld:
    rules = load_rules([shipped_rules_file()])
    apply_layout(session, parse_layout(LAYOUT.format(marker=marker), source=f"{code}.yaml"), actor=ACTOR, now=NOW)
    east, west = services.find_village(session, "201"), services.find_village(session, "202")
    phone = "13911112222" if code == "ZFT" else "13800000000"
    homes: list[Household] = []
    id_serial = 11 if code == "ZFT" else 61  # ID numbers are unique in the whole installation
    for village, head, spouse in ((east, "张三丰", "李秀英"), (east, "张无忌", "赵敏"), (east, "张翠山", "殷素素"),
                                  (west, "宋远桥", "宋夫人")):
        home = services.create_household(session, village, head_name=head, address=f"{marker}{village.name}1组",
                                         actor=ACTOR)
        services.register_resident(session, home, name=head, sex="1", birth_date=date(1950, 3, 7),
                                   id_number=make_id_number("130123", date(1950, 3, 7), id_serial + len(homes)),
                                   phone=phone, relation_to_head="户主", tags=["高血压", "老年人"], actor=ACTOR)
        services.register_resident(session, home, name=spouse, sex="2", birth_date=date(1988, 5, 5),
                                   relation_to_head="配偶", actor=ACTOR)
        homes.append(home)
    for village in (east, west):
        shelve_village(session, village, actor=ACTOR, now=NOW)
    folders = [folder_code(h.village.full_code, h.number).value for h in homes]
    borrower = add_borrower(session, "wang", kind="village_doctor", name="王村医", unit=f"{marker}东村卫生室",
                            phone=phone, villages=["201"], actor=ACTOR, now=NOW)
    loan = check_out(session, folders[1], borrower=borrower, purpose="随访", rules=rules, actor=ACTOR, now=NOW)
    request_folders(session, [folders[2]], borrower=borrower, purpose="随访", rules=rules, actor=ACTOR, now=NOW)
    request = session.scalars(select(LoanRequest)).one()
    inventory = start_inventory(session, counters=[f"{marker}盘点人"], village="201", actor=ACTOR, now=NOW)
    handover = hand_over(session, from_party=f"{marker}镇卫生院", to_party="县档案馆", codes=[folders[3]],
                         actor=ACTOR, now=NOW)
    checklist = load_checklist(instance_dir)
    inspection = draw_inspection(session, seed=f"seed-{code}", size=2, minimum=0, villages=["201"],
                                 inspector=f"{marker}督导", on=ON, checklist=checklist, actor=ACTOR, now=NOW)
    sampled = [f for f in inspection.folders if f.state == "sampled"]
    for n, folder in enumerate(sampled):
        for item in checklist.items:
            if item.kind == "dynamic":
                record_check(session, folder, item.key, passed=None, seen_on=ON, actor=ACTOR, now=NOW)
            else:
                record_check(session, folder, item.key, passed=n > 0, note=f"{marker}缺页", actor=ACTOR, now=NOW)
    sign_inspection(session, inspection, actor=ACTOR, now=NOW)
    task = session.scalars(select(InspectionTask)).first()
    assert task is not None
    job = jobqueue.create_job(session, "forms", {"set": "personal_info", "scope": {"codes": [homes[0].members[0]
                                                                                     .archive_code]},
                                                "options": {}, "filename": f"{code}.pdf"}, actor=ACTOR)
    output = job_dir(instance_dir, job.id) / f"{code}-forms.txt"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(f"{marker} {homes[0].members[0].archive_code} 张三丰", encoding="utf-8")
    job.status, job.outputs, job.pages, job.finished_at = "done", [str(output)], 1, NOW
    stock = label_stocks(instance_dir)["a4-3x8"]
    profile = set_printer_profile(session, f"{marker}打印机", stock, dx=0.5, actor=ACTOR)
    forms = [f.id for f in load_catalog().forms.values() if f.size == "A4"][:2]
    form_set = create_form_set(session, f"{marker}随访套组", forms, description=f"{marker}用", actor=ACTOR, now=NOW)
    head = homes[0].members[0]
    visit = record_visit(session, head, "elderly", on=date(2026, 6, 3), note=f"{marker}随访", actor=ACTOR)
    record_figures(session, east, 2026, values_of(100, age65=25), source=f"{marker}统计", actor=ACTOR)
    batch = IntakeBatch(created_by=ACTOR, received_on=ON, files=[{"name": f"{marker}.pdf", "pages": 1}],
                        status="done", pages=1)
    session.add(batch)
    session.flush()
    page = IntakePage(batch_id=batch.id, seq=1, file_name=f"{marker}.pdf", file_page=1, outcome="filed",
                      how="mark", resident_id=head.id, household_id=homes[0].id, archive_code=head.archive_code,
                      form_number=1, form_page=1)
    session.add(page)
    clerk = create_user(session, f"clerk-{code}", PASSWORD, "clerk", display_name=f"{marker}孙管理员")
    admin = create_user(session, f"admin-{code}", PASSWORD, "admin", display_name=f"{marker}周院长")
    root = uploads.upload_root(instance_dir)
    upload = uploads.save_upload(root, io.BytesIO(f"档案编号,姓名\n{head.archive_code},{marker}\n".encode()),
                                 f"{marker}.csv", user_id=clerk.id, add_villages=False)
    population = uploads.save_upload(instance_dir / "population_uploads",
                                     io.BytesIO(f"村,常住人口\n201,{marker}\n".encode()), f"{marker}.csv",
                                     user_id=clerk.id, add_villages=False)
    session.flush()
    return SiteWorld(
        id=site_id, code=code, marker=marker, resident=head.archive_code, household=homes[0].id, folder=folders[0],
        lent_folder=folders[1], requested_folder=folders[2], shelf="K1-M-1-A-1", loan_id=loan.id,
        request_id=request.id, inventory_id=inventory.id, inventory=inventory.number, handover=handover.number,
        inspection_id=inspection.id, inspection=inspection.number, inspection_folder=sampled[0].id,
        task_id=task.id, job_id=job.id, job_file=output.name, profile_id=profile.id, printer=profile.printer,
        set_key=form_set.key, visit_id=visit.id, batch_id=batch.id, page_id=page.id, upload_token=upload.token,
        population_token=population.token, user_ids={clerk.username: clerk.id, admin.username: admin.id})


def job_dir(instance_dir: Path, job_id: int) -> Path:
    """Where the job runner keeps a job's files (archiveprint.jobs.runners.job_dir, from the instance folder)."""
    return instance_dir / "jobs" / str(job_id)


def site_counts(database: Database, site_id: int) -> dict[str, object]:
    """Every row one site sees, table by table, as a digest of all its columns (and how many): a request that
    changed anything of the site — a status, a date, a new row — changes these."""
    counts: dict[str, object] = {}
    with database.reader() as session:
        apply_scope(session, site_scope(session, site_id))
        for mapper in Base.registry.mappers:
            entity = mapper.class_
            columns = [getattr(entity, attribute.key) for attribute in mapper.column_attrs]
            rows = session.execute(select(*columns).order_by(*mapper.primary_key)).all()
            digest = hashlib.sha256(repr([tuple(row) for row in rows]).encode()).hexdigest()[:16]
            counts[entity.__tablename__] = (len(rows), digest)
    return counts


__all__ = ["A_MARKERS", "LAYOUT", "NOW", "ON", "PASSWORD", "SiteWorld", "TwoSites", "build_two_sites",
           "display", "job_dir", "require_postgresql", "site_counts"]
