"""#15 storage and lists, on both databases: the filing list walks the shelves (folders not on their shelf last, a lent
one flagged), its PDF; each page filed is an event on its resident and counted per village and village doctor; the
same page again is a duplicate within 90 days and a new sheet after; the village scope; backups keep the pictures;
`archiveprint intake` answers the issue's JSON and exit status."""

from __future__ import annotations

import io
import json
import tarfile
from datetime import date, timedelta
from pathlib import Path

import pypdf
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from archiveprint.accounts.scope import AccessScope, apply_scope
from archiveprint.accounts.services import create_user
from archiveprint.backup.services import make_backup
from archiveprint.cli import AppContext, main
from archiveprint.config import IntakeLimits
from archiveprint.db import Database
from archiveprint.eventlog import Event
from archiveprint.forms.catalog import load_catalog
from archiveprint.forms.printer import FormPrinter
from archiveprint.intake.document import render_filing_pdf
from archiveprint.intake.models import IntakePage
from archiveprint.intake.queries import returned_pages, returns_by_doctor, returns_by_village
from archiveprint.intake.report import intake_files
from archiveprint.intake.services import set_keep_images
from archiveprint.lending.queries import status_provider
from archiveprint.lending.rules import load_rules, shipped_rules_file
from archiveprint.lending.services import check_out
from archiveprint.register.codes import folder_code
from archiveprint.register.models import Resident, Village
from archiveprint.register.services import find_village
from tests.conftest import ACTOR
from tests.lending.conftest import T0, build_archive
from tests.pdfcheck import compact, page_texts

RECEIVED = date(2026, 11, 25)


def printed_pages(pages: list[tuple[str, str, int]]) -> bytes:
    """A printed PDF (vector, as the print centre writes it) of the given (archive code, form id, page) in that
    order: each form printed whole, then only the wanted page kept."""
    catalog = load_catalog()
    out = io.BytesIO()
    printer = FormPrinter(out)
    for code, form_id, _page in pages:
        printer.add_form(catalog.forms[form_id], {}, code17=code)
    printer.close()
    if all(catalog.forms[form_id].pages == 1 for _code, form_id, _page in pages):
        return out.getvalue()
    reader, writer = pypdf.PdfReader(io.BytesIO(out.getvalue())), pypdf.PdfWriter()
    index = 0
    for _code, form_id, page in pages:
        writer.add_page(reader.pages[index + page - 1])
        index += catalog.forms[form_id].pages
    kept = io.BytesIO()
    writer.write(kept)
    return kept.getvalue()


@pytest.fixture
def archive(committed_db: Database) -> dict[str, object]:
    """The lending tests' archive: 201 (6 households) and 202 (3) shelved, one of 001 not; 201's fifth folder lent."""
    rules = load_rules([shipped_rules_file()])
    with committed_db.transaction() as session:
        made = build_archive(session, now=T0)
        lent = made["homes"][4]
        check_out(session, folder_code(lent.village.full_code, lent.number).value, borrower=made["doctor"],
                  purpose="随访", rules=rules, actor=ACTOR, now=T0 + timedelta(hours=1))
        codes = {resident.name: resident.archive_code for resident in session.scalars(select(Resident))}
    return {"codes": codes, "rules": rules}


def take_in(database: Database, tmp_path: Path, pages: list[tuple[str, str, int]], *, received_on: date = RECEIVED,
            name: str = "stack.pdf", rules=None):  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_bytes(printed_pages(pages))
    return intake_files(database, [(path, name)], instance_dir=tmp_path / "instance", limits=IntakeLimits(),
                        received_on=received_on, actor=ACTOR,
                        providers=[status_provider(rules)] if rules is not None else ())


def test_the_filing_list_walks_the_shelves_and_flags_the_lent_folder(committed_db: Database, archive, tmp_path):
    codes = archive["codes"]
    wanted = [(codes["张5号"], "hypertension_followup", 1), (codes["赵1号"], "hypertension_followup", 1),
              (codes["李2号"], "health_check", 3), (codes["张1号"], "health_check", 2),
              (codes["张1号"], "health_check", 1), (codes["张3号"], "elderly_tcm", 2),
              (codes["李2号"], "health_check", 1)]
    report = take_in(committed_db, tmp_path, wanted, rules=archive["rules"])
    assert report.count("filed") == len(wanted) and not report.needs_decision
    folders = report.filing.folders
    heads = [folder.location.head_name for folder in folders]
    # on the shelves in walking order (201's run, then 202's), then those off their shelves: never shelved, lent
    assert heads == ["张1号", "张3号", "李2号", "赵1号", "张5号"]
    assert [folder.waiting for folder in folders] == [False, False, False, False, True]
    assert [folder.location.place.status.code for folder in folders[3:]] == ["unshelved", "lent"]
    assert [(e.name, e.form_title, e.form_page) for e in folders[0].entries] == [
        ("张1号", "健康体检表", 1), ("张1号", "健康体检表", 2)]
    assert [e.form_page for e in folders[2].entries] == [1, 3]
    addresses = [folder.location.place.address for folder in folders[:3]]
    assert all(address.startswith("一号库房") for address in addresses)

    pdf = render_filing_pdf(report.filing, unit="诸福屯镇卫生院", day=RECEIVED)
    text = compact(" ".join(page_texts(pdf)))
    assert "归档清单" in text and "借出·归还后放" in text and "健康体检表" in text
    assert text.index("张1号") < text.index("李2号") < text.index("赵1号") < text.index("张5号")

    data = report.as_json()
    assert list(data) == ["pages", "filed", "blank", "unreadable", "duplicates", "seconds", "items"]
    assert list(data["items"][0]) == ["file", "page", "outcome", "archive_code", "form", "form_page", "folder",
                                      "address"]
    assert data["items"][0]["archive_code"] == codes["张5号"] and data["items"][0]["form"] == "hypertension_followup"


def test_each_filed_page_is_an_event_counted_per_village_and_village_doctor(committed_db: Database, archive,
                                                                            tmp_path: Path) -> None:
    codes = archive["codes"]
    take_in(committed_db, tmp_path, [(codes["张1号"], "hypertension_followup", 1),
                                     (codes["张2号"], "hypertension_followup", 1),
                                     (codes["李1号"], "elderly_tcm", 1)])
    with committed_db.transaction() as session:
        create_user(session, "wangcunyi", "correct-horse-9", "village_doctor", display_name="王村医",
                    villages=[find_village(session, "201")])
    with committed_db.reader() as session:
        events = list(session.scalars(select(Event).where(Event.kind == "form.returned").order_by(Event.id)))
        assert [(e.entity_id, e.data["form"], e.data["page"], e.data["received_on"]) for e in events] == [
            (codes["张1号"], "高血压患者随访服务记录表", 1, "2026-11-25"),
            (codes["张2号"], "高血压患者随访服务记录表", 1, "2026-11-25"),
            (codes["李1号"], "老年人中医药健康管理服务记录表", 1, "2026-11-25")]
        villages = {count.key: (count.residents, count.pages, count.forms)
                    for count in returns_by_village(session, 2026)}
        assert villages == {"201": (2, 2, {"高血压患者随访服务记录表": 2}),
                            "202": (1, 1, {"老年人中医药健康管理服务记录表": 1})}
        doctors = {count.key: (count.villages, count.pages) for count in returns_by_doctor(session, 2026)}
        assert doctors == {"wangcunyi": (("201",), 2)}
        assert returns_by_village(session, 2025) == []
        resident = session.scalars(select(Resident).where(Resident.archive_code == codes["张1号"])).one()
        assert [(page.form_title, page.received_on) for page in returned_pages(session, resident.id)] == [
            ("高血压患者随访服务记录表", RECEIVED)]


def test_the_same_page_again_is_a_duplicate_within_ninety_days_and_a_new_sheet_after(committed_db: Database,
                                                                                       archive, tmp_path: Path):
    codes = archive["codes"]
    pages = [(codes["张1号"], "hypertension_followup", 1), (codes["张2号"], "hypertension_followup", 1)]
    first = take_in(committed_db, tmp_path, pages + pages[:1])  # scanned twice in one batch
    assert [item.outcome for item in first.items] == ["filed", "filed", "duplicate"]
    assert first.needs_decision and first.as_json()["duplicates"] == 1
    soon = take_in(committed_db, tmp_path, pages, received_on=RECEIVED + timedelta(days=30), name="again.pdf")
    assert [item.outcome for item in soon.items] == ["duplicate", "duplicate"]
    later = take_in(committed_db, tmp_path, pages, received_on=RECEIVED + timedelta(days=120), name="later.pdf")
    assert [item.outcome for item in later.items] == ["filed", "filed"]
    with committed_db.reader() as session:
        dup = session.scalars(select(IntakePage).where(IntakePage.batch_id == first.batch.id,
                                                       IntakePage.outcome == "duplicate")).one()
        original = session.get(IntakePage, dup.duplicate_of)
        assert (original.batch_id, original.seq) == (first.batch.id, 1)


def test_a_village_doctor_sees_only_his_villages_returned_pages(committed_db: Database, archive, tmp_path: Path):
    codes = archive["codes"]
    take_in(committed_db, tmp_path, [(codes["张1号"], "hypertension_followup", 1),
                                     (codes["李1号"], "hypertension_followup", 1)])
    with committed_db.reader() as session:
        west = session.scalar(select(Village.id).where(Village.code == "202"))
        east_resident = session.scalar(select(Resident.id).where(Resident.archive_code == codes["张1号"]))
        apply_scope(session, AccessScope.villages([west]))
        seen = {page.archive_code for page in session.scalars(select(IntakePage))}
        assert seen == {codes["李1号"]}
        assert returned_pages(session, east_resident) == []


def test_backups_keep_the_pictures_of_filed_and_waiting_pages(committed_db: Database, archive, tmp_path: Path):
    codes = archive["codes"]
    with committed_db.transaction() as session:
        set_keep_images(session, "full", actor=ACTOR)
    blank_form = tmp_path / "unmarked.pdf"
    catalog = load_catalog()
    out = io.BytesIO()
    printer = FormPrinter(out)
    printer.add_form(catalog.forms["hypertension_followup"], {})  # no mark
    printer.add_form(catalog.forms["hypertension_followup"], {}, code17=codes["张1号"])
    printer.close()
    blank_form.write_bytes(out.getvalue())
    instance = tmp_path / "instance"
    report = intake_files(committed_db, [(blank_form, "unmarked.pdf")], instance_dir=instance,
                          limits=IntakeLimits(), received_on=RECEIVED, actor=ACTOR)
    assert [item.outcome for item in report.items] == ["unreadable", "filed"]
    pictures = sorted(item.image for item in report.items)
    assert all(picture.startswith(f"intake/{report.batch.id}/") for picture in pictures)
    target = tmp_path / "backup.tar"
    make_backup(committed_db, instance, target)
    with tarfile.open(target) as tar:
        names = set(tar.getnames())
    assert {f"instance/{picture}" for picture in pictures} <= names


def test_archiveprint_intake_answers_the_issues_json_and_exits_1_when_a_page_needs_a_decision(
        committed_db: Database, archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    codes = archive["codes"]
    monkeypatch.setenv("DATABASE_URL", committed_db.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ARCHIVEPRINT_INSTANCE", str(tmp_path / "instance"))
    clean = tmp_path / "clean.pdf"
    clean.write_bytes(printed_pages([(codes["张1号"], "hypertension_followup", 1),
                                     (codes["李1号"], "hypertension_followup", 1)]))
    listing = tmp_path / "归档清单.pdf"
    done = CliRunner().invoke(main, ["intake", str(clean), "-o", str(listing), "--json"], obj=AppContext(),
                              catch_exceptions=False)
    assert done.exit_code == 0, done.output
    data = json.loads(done.output)
    assert list(data) == ["pages", "filed", "blank", "unreadable", "duplicates", "seconds", "items"]
    assert (data["pages"], data["filed"], data["unreadable"]) == (2, 2, 0)
    assert data["items"][0]["folder"] == folder_code("130123100201", 1).value
    assert data["items"][0]["address"].startswith("一号库房")
    assert "张1号" in compact(" ".join(page_texts(listing)))

    again = CliRunner().invoke(main, ["intake", str(clean)], obj=AppContext(), catch_exceptions=False)
    assert again.exit_code == 1 and "重复" in again.output  # the same pages the same day: duplicates to decide
    not_a_scan = tmp_path / "notes.pdf"
    not_a_scan.write_bytes(b"just text")
    refused = CliRunner().invoke(main, ["intake", str(not_a_scan)], obj=AppContext(), catch_exceptions=False)
    assert refused.exit_code == 1 and "不是 PDF 或 TIFF 文件" in refused.output


def test_a_batch_stopped_midway_goes_on_after_the_pages_it_wrote(committed_db: Database, archive, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A job that stopped (a worker lost) and is run again reads on from where its last chunk was written."""
    from archiveprint.intake import services
    from archiveprint.intake.services import read_batch, start_batch
    from archiveprint.intake.sources import inspect_files

    codes = archive["codes"]
    wanted = [(codes[f"张{n}号"], "hypertension_followup", 1) for n in range(1, 7)]
    path = tmp_path / "six.pdf"
    path.write_bytes(printed_pages(wanted))
    stack = inspect_files([(path, path.name)], IntakeLimits())
    with committed_db.transaction() as session:
        batch_id = start_batch(session, stack, received_on=RECEIVED, actor=ACTOR).id
    monkeypatch.setattr(services, "CHUNK", 2)
    real = services._file_read_page

    def stop_at_five(session, batch, seq, *args, **kwargs):  # type: ignore[no-untyped-def]
        if seq == 5:
            raise RuntimeError("worker lost")
        return real(session, batch, seq, *args, **kwargs)

    monkeypatch.setattr(services, "_file_read_page", stop_at_five)
    with pytest.raises(RuntimeError):
        read_batch(committed_db, batch_id, stack, instance_dir=tmp_path / "instance", actor=ACTOR)
    monkeypatch.setattr(services, "_file_read_page", real)
    read_batch(committed_db, batch_id, stack, instance_dir=tmp_path / "instance", actor=ACTOR)
    with committed_db.reader() as session:
        rows = session.execute(select(IntakePage.seq, IntakePage.file_page, IntakePage.archive_code, IntakePage.outcome)
                               .where(IntakePage.batch_id == batch_id).order_by(IntakePage.seq)).all()
        events = session.scalars(select(Event).where(Event.kind == "form.returned")).all()
    assert [tuple(row) for row in rows] == [(n, n, code, "filed") for n, (code, _f, _p) in enumerate(wanted, 1)]
    assert len(events) == 6
