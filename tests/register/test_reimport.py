"""A file already applied into a register unchanged since is recognised by its sha256 and not read again."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from archiveprint.db import Database
from archiveprint.eventlog import Event
from archiveprint.register import services
from archiveprint.register.models import ImportRun
from tests.conftest import ACTOR, setup_township
from tests.register.test_importer import HEADER, counts, family, person, resident, run, write_csv, write_xlsx


def reading(session: Session, path, **options: object):  # type: ignore[no-untyped-def]
    """Import, noting whether the rows were read: the importer reports progress only while it reads."""
    seen: list[int] = []
    report = run(session, path, progress=seen.append, **options)
    return report, bool(seen)


def test_the_same_file_into_an_unchanged_register_is_recognised_without_reading(session, township, tmp_path):
    path = write_xlsx(tmp_path / "花名册.xlsx", family())
    first, read = reading(session, path)
    assert first.applied and read and first.already is None
    run_id = session.scalars(select(ImportRun.id)).one()
    before = counts(session)

    again, read = reading(session, path)
    assert not read
    assert again.already is not None and again.already.run == run_id and again.already.filename == "花名册.xlsx"
    assert (again.rows, again.accepted, again.unchanged, again.added, again.changed) == (4, 4, 4, 0, 0)
    assert again.ok and not again.applied and again.problems == [] and again.changes == []
    assert counts(session) == before  # nothing written, no second ImportRun
    assert f"此文件已于 {again.already.shown_at} 导入（第 {run_id} 次导入），未作改动" in again.summary()
    assert again.as_json()["already_imported"] == {"run": run_id, "at": again.already.at.isoformat(),
                                                   "filename": "花名册.xlsx"}

    preview, read = reading(session, path, dry_run=True)  # the web page's check is a dry run
    assert not read and preview.already == again.already and preview.dry_run


def test_force_reads_every_row_anyway(session, township, tmp_path):
    path = write_csv(tmp_path / "f.csv", family())
    run(session, path)
    report, read = reading(session, path, force=True)
    assert read and report.already is None
    assert (report.rows, report.unchanged, report.applied) == (4, 4, False)
    assert "没有需要写入的变化" in report.summary()


def test_a_register_change_since_means_the_file_is_read_and_applied_again(session, township, tmp_path):
    path = write_csv(tmp_path / "v1.csv", family())
    run(session, path)
    zhang = resident(session, "13012310020100001")
    services.update_resident(session, zhang, {"phone": "13900000000"}, actor=ACTOR)  # a clerk's edit
    report, read = reading(session, path)
    assert read and report.already is None
    assert report.changed == 1 and report.applied  # the file's phone number is back
    assert resident(session, "13012310020100001").phone == "13800138000"
    assert session.scalar(select(func.count()).select_from(ImportRun)) == 2

    again, read = reading(session, path)  # applied again just now: recognised as that second run
    assert not read and again.already is not None
    assert again.already.run == session.scalar(select(func.max(ImportRun.id)))


def test_a_later_import_of_another_file_means_the_first_is_read_again(session, township, tmp_path):
    first = write_csv(tmp_path / "a.csv", family())
    run(session, first)
    newborn = person(4, "新生儿", date(2026, 1, 1), 17, relation="子", head="张三丰", registered="2026-02-01")
    second = write_csv(tmp_path / "b.csv", [*family(), newborn])
    assert run(session, second).added == 1
    report, read = reading(session, first)
    assert read and report.already is None and report.unchanged == 4 and not report.applied


def test_the_column_mapping_is_part_of_what_was_imported(session, township, tmp_path):
    header = ["档案编号", "姓名", "曾用名", *HEADER[2:]]
    row = family()[0]
    path = write_csv(tmp_path / "alias.csv", [[row[0], "张老三", row[1], *row[2:]]], header=header)
    run(session, path, mapping={"曾用名": "姓名"})
    same, read = reading(session, path, mapping={"曾用名": "姓名"})
    assert not read and same.already is not None
    plain, read = reading(session, path)  # the same bytes read another way: not the same import
    assert read and plain.already is None
    assert [problem.value for problem in plain.problems] == ["户主 / 张三丰"]  # 姓名 is now 张老三


def test_a_run_recorded_before_the_fingerprint_existed_is_never_matched(session, township, tmp_path):
    path = write_csv(tmp_path / "old.csv", family())
    run(session, path)
    session.execute(update(ImportRun).values(register_events=None, mapping=None))  # as migration 0008 left it
    report, read = reading(session, path)
    assert read and report.already is None and report.unchanged == 4


def test_a_dry_run_records_nothing_to_match(session, township, tmp_path):
    path = write_csv(tmp_path / "d.csv", family())
    run(session, path, dry_run=True)
    report, read = reading(session, path, dry_run=True)
    assert read and report.already is None


def test_a_clerk_edit_committed_during_an_import_is_not_missed(backend, committed_db: Database, tmp_path):
    """The edit's event gets a lower id than the import's but commits after the import: only a count sees it.

    PostgreSQL only: SQLite lets one writer at a time, so the two transactions cannot overlap there.
    """
    if backend == "sqlite":
        pytest.skip("SQLite serialises writers: an edit cannot commit in the middle of an import")
    rows = family()
    with committed_db.transaction() as session:
        setup_township(session)
        run(session, write_csv(tmp_path / "v1.csv", rows))
    newborn = person(4, "新生儿", date(2026, 1, 1), 17, relation="子", head="张三丰", registered="2026-02-01")
    path = write_csv(tmp_path / "v2.csv", [*rows, newborn])

    with committed_db.writer() as clerk:  # begins, edits 张三丰, and waits before committing
        services.update_resident(clerk, resident(clerk, "13012310020100001"), {"phone": "13900000000"},
                                 actor="clerk")
        clerk.flush()
        with committed_db.transaction() as session:  # the import reads the committed phone: unchanged row
            assert run(session, path).added == 1
        clerk.commit()
    with committed_db.reader() as session:
        edit = session.scalar(select(Event.id).where(Event.actor == "clerk"))
        last_of_import = session.scalar(select(func.max(Event.id)).where(Event.actor == ACTOR))
    assert edit < last_of_import  # "no register event after the import's last one" would have missed it

    with committed_db.transaction() as session:
        report, read = reading(session, path)
        assert read and report.already is None
        assert report.changed == 1 and resident(session, "13012310020100001").phone == "13800138000"
