"""#14 county print runs: one request printed per village as parts (jobs of their own), one zip of them all, a
failed part named with its village and reason, and re-run without printing anything twice."""

from __future__ import annotations

import uuid
import zipfile
from datetime import date
from pathlib import Path

import pytest
import redis  # a hard dependency (pyproject.toml): these tests run on the real Redis, never skip
from redis import exceptions as redis_errors
from sqlalchemy import func, select, update

from archiveprint.accounts.models import AuditEntry
from archiveprint.config import Settings
from archiveprint.db import Database, utcnow
from archiveprint.errors import Conflict, InvalidValue
from archiveprint.forms.services import PrintOptions, Scope
from archiveprint.forms.sets import FORM, find_form_set
from archiveprint.jobs import queue as jobqueue
from archiveprint.jobs import runners, runs
from archiveprint.jobs.models import Job
from archiveprint.jobs.parts import plan_due_run, plan_forms_run
from archiveprint.jobs.runners import on_app_start, run_job
from archiveprint.register import services
from archiveprint.register.models import Resident
from tests.conftest import ACTOR, TODAY, setup_township
from tests.pdfcheck import read
from tests.rqwork import work_burst
from tests.waiting import eventually

PEOPLE = {"201": ["王大山", "王小河"], "202": ["李西"], "001": ["赵城", "赵关", "赵社"]}  # one household each
LACKING = "\U00031350"  # a character the shipped font cannot draw


@pytest.fixture
def settings(committed_db: Database, tmp_path: Path) -> Settings:
    return Settings(instance_dir=tmp_path / "instance", secret_key="test",
                    database_url=committed_db.engine.url.render_as_string(False))


@pytest.fixture
def villages(committed_db: Database) -> dict[str, list[str]]:
    """东村 (201) 2 residents, 西村 (202) 1, 城关社区 (001) 3, each one household."""
    with committed_db.transaction() as session:
        setup_township(session)
        for code, names in PEOPLE.items():
            household = services.create_household(session, services.find_village(session, code),
                                                  head_name=names[0], actor=ACTOR)
            for number, name in enumerate(names):
                services.register_resident(session, household, name=name, sex="1", birth_date=date(1960, 1, 1),
                                           relation_to_head="户主" if number == 0 else "子", actor=ACTOR)
    return PEOPLE


def create_forms_run(database: Database, villages: list[str] | None = None) -> tuple[int, list[int]]:
    with database.transaction() as session:
        form = find_form_set(session, "personal_info", kind=FORM)
        plan = plan_forms_run(session, form, Scope(), PrintOptions(), villages=villages, set_kind=FORM,
                              today=TODAY)
        run = runs.create_run(session, plan.kind, plan.params, plan.parts, actor=ACTOR)
        return run.id, runs.part_ids(session, run.id)


def state(database: Database, run_id: int) -> runs.RunState:
    with database.reader() as session:
        return runs.find_run(session, run_id)


def run_parts(database: Database, settings: Settings, ids: list[int]) -> None:
    """What the local thread does with a run: its parts, one after another."""
    for part_id in ids:
        run_job(part_id, settings=settings, database=database)


def zipped(run: runs.RunState) -> dict[str, int | str]:
    """The run's zip: each PDF's page count (opened with pypdf), each text file's text, in the zip's order."""
    with zipfile.ZipFile(run.run.outputs[0]) as archive:
        return {name: archive.read(name).decode() if name.endswith(".txt") else len(read(archive.read(name)).pages)
                for name in archive.namelist()}


def print_audits(database: Database) -> int:
    with database.reader() as session:
        return session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "print")) or 0


def test_a_run_of_three_villages_is_three_parts_and_one_zip_in_village_order(committed_db, settings, villages):
    run_id, ids = create_forms_run(committed_db)
    before = state(committed_db, run_id)
    assert [(p.part.village, p.part.name, p.part.residents, p.status) for p in before.parts] == [
        ("001", "城关社区", 3, "queued"), ("201", "东村", 2, "queued"), ("202", "西村", 1, "queued")]
    assert (before.status, before.total, before.run.params["expected_pages"]) == ("queued", 6, 6)

    run_parts(committed_db, settings, ids)

    after = state(committed_db, run_id)
    assert (after.status, after.pages, after.done, after.total, after.percent) == ("done", 6, 6, 6, 100)
    assert after.run.status == "done" and after.run.pages == 6 and after.run.error == ""
    assert zipped(after) == {"001-城关社区.pdf": 3, "201-东村.pdf": 2, "202-西村.pdf": 1}
    zip_path = Path(after.run.outputs[0])
    assert zip_path.parent == settings.instance_dir / "jobs" / str(run_id)
    assert zip_path.name == "personal_info-3villages-20261125.zip"
    for part in after.parts:  # each part's own PDF stays downloadable, in its own folder
        (output,) = part.outputs
        assert Path(output).parent == settings.instance_dir / "jobs" / str(part.id)
        assert len(read(Path(output)).pages) == part.part.residents
    assert print_audits(committed_db) == 6
    with committed_db.reader() as session:  # the job list shows the run, not its parts
        assert [job.id for job in jobqueue.list_jobs(session, kinds=jobqueue.PRINT_KINDS)] == [run_id]


def test_the_local_thread_runs_the_parts_one_after_another(committed_db, settings, villages):
    run_id, ids = create_forms_run(committed_db, ["201", "东村", "西村"])  # a village named twice is one part
    assert len(ids) == 2
    dispatcher = jobqueue.Dispatcher(lambda job_id: run_job(job_id, settings=settings, database=committed_db))
    try:
        assert runs.submit_parts(committed_db, dispatcher, ids, instance_dir=settings.instance_dir) == []
        ended = eventually(lambda: (found := state(committed_db, run_id)).run.status in ("done", "failed",
                                                                                          "partial") and found,
                           what="the run ended", seconds=60)
    finally:
        dispatcher.shutdown()
    assert ended.status == "done" and zipped(ended) == {"201-东村.pdf": 2, "202-西村.pdf": 1}
    with committed_db.reader() as session:
        first, second = (jobqueue.get_job(session, part_id) for part_id in ids)
    assert first.finished_at <= second.started_at


def test_a_failed_part_names_its_village_and_why_and_is_rerun_without_duplicates(committed_db, settings,
                                                                                  villages):
    run_id, ids = create_forms_run(committed_db)
    with committed_db.transaction() as session:  # after the plan was checked, 西村's name gains a lacking glyph
        session.execute(update(Resident).where(Resident.name == "李西").values(name=f"李{LACKING}"))
    run_parts(committed_db, settings, ids)

    partial = state(committed_db, run_id)
    assert [part.status for part in partial.parts] == ["done", "done", "failed"]
    failed = partial.parts[2]
    assert failed.part.name == "西村" and "字体缺少的字" in failed.error and LACKING in failed.error
    assert partial.status == partial.run.status == "partial"
    assert partial.run.error == "1 个村未完成（共 3 个）：西村"
    assert partial.run.pages == 5
    contents = zipped(partial)
    assert list(contents)[:2] == ["001-城关社区.pdf", "201-东村.pdf"]
    assert contents["未完成.txt"].startswith("202 西村：") and "字体缺少" in contents["未完成.txt"]
    assert print_audits(committed_db) == 5

    with committed_db.transaction() as session:  # the clerk corrects the name and runs the village again
        session.execute(update(Resident).where(Resident.name == f"李{LACKING}").values(name="李西"))
        assert runs.rerun_failed(session, run_id) == [failed.id]
        with pytest.raises(Conflict):  # a second click queues nothing more
            runs.rerun_failed(session, run_id)
    assert state(committed_db, run_id).run.status == "running"
    run_parts(committed_db, settings, [failed.id])
    run_parts(committed_db, settings, ids)  # delivered again (RQ may): the parts done are not printed again

    done = state(committed_db, run_id)
    assert (done.run.status, done.run.pages, done.run.error) == ("done", 6, "")
    assert zipped(done) == {"001-城关社区.pdf": 3, "201-东村.pdf": 2, "202-西村.pdf": 1}
    assert print_audits(committed_db) == 6  # every resident printed once
    assert sorted(path.name for path in (settings.instance_dir / "jobs" / str(run_id)).iterdir()) == [
        "personal_info-3villages-20261125.zip"]


def test_a_run_whose_every_part_fails_is_failed_with_no_zip(committed_db, settings, villages):
    run_id, ids = create_forms_run(committed_db, ["202"])
    with committed_db.transaction() as session:
        session.execute(update(Resident).where(Resident.name == "李西").values(name=f"李{LACKING}"))
    run_parts(committed_db, settings, ids)
    failed = state(committed_db, run_id)
    assert (failed.run.status, failed.run.outputs, failed.run.error) == ("failed", [], "1 个村未完成（共 1 个）：西村")


def test_a_part_the_queue_cannot_take_fails_saying_so_and_ends_the_run(committed_db, settings, villages):
    run_id, ids = create_forms_run(committed_db)
    dispatcher = jobqueue.Dispatcher(lambda job_id: None, redis_url="redis://127.0.0.1:1/0",
                                     database_url=settings.database_url, database=committed_db)
    assert runs.submit_parts(committed_db, dispatcher, ids, instance_dir=settings.instance_dir) == ids
    refused = state(committed_db, run_id)
    assert refused.run.status == "failed"
    assert [part.error for part in refused.parts] == [jobqueue.QUEUE_UNREACHABLE] * len(ids)  # no class name


@pytest.mark.parametrize(("error", "reason"), [
    (redis_errors.ConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused."),
     jobqueue.QUEUE_UNREACHABLE),
    (ConnectionRefusedError(111, "Connection refused"), jobqueue.QUEUE_UNREACHABLE),
    (redis_errors.TimeoutError("Timeout connecting to server"), jobqueue.QUEUE_TIMEOUT),
    (TimeoutError("timed out"), jobqueue.QUEUE_TIMEOUT),
    (redis_errors.AuthenticationError("invalid username-password pair"), jobqueue.QUEUE_DENIED),
    (redis_errors.ResponseError("NOAUTH Authentication required."), jobqueue.QUEUE_DENIED),
    (redis_errors.BusyLoadingError("Redis is loading the dataset in memory"), jobqueue.QUEUE_BUSY),
    (redis_errors.OutOfMemoryError("OOM command not allowed"), jobqueue.QUEUE_BUSY),
    (redis_errors.ResponseError("ERR unknown command"), jobqueue.QUEUE_FAILED),
    (RuntimeError("anything else"), jobqueue.QUEUE_FAILED),
])
def test_why_the_queue_refused_is_said_in_words_from_the_kind_of_error(error, reason):
    said = jobqueue.not_submitted(error)
    assert said == reason and said.startswith("无法提交任务：任务队列（Redis）")
    assert type(error).__name__ not in said and str(error) not in said


@pytest.mark.parametrize(("error", "reason"), [
    (RuntimeError("boom"), runners.BROKE), (KeyError("user_id"), runners.BROKE),
    (MemoryError(), runners.OUT_OF_MEMORY), (OSError(28, "No space left on device"), runners.DISK_FULL)])
def test_a_part_that_breaks_says_why_in_words_not_the_exception(committed_db, settings, villages, monkeypatch,
                                                                   error, reason):
    def broken(*args: object) -> None:
        raise error

    run_id, ids = create_forms_run(committed_db, ["202"])
    monkeypatch.setattr(runners, "_run", broken)
    run_parts(committed_db, settings, ids)
    part = state(committed_db, run_id).parts[0]
    assert (part.status, part.error) == ("failed", reason)
    assert type(error).__name__ not in part.error and "boom" not in part.error


def test_what_a_run_by_village_refuses(committed_db, villages):
    with committed_db.transaction() as session:
        form = find_form_set(session, "personal_info", kind=FORM)
        for scope, options, field in [(Scope(), PrintOptions(blank=True), "按村分批"),
                                      (Scope(village="201"), PrintOptions(), "按村分批"),
                                      (Scope(codes=("13012310020100001",)), PrintOptions(), "按村分批"),
                                      (Scope(), PrintOptions(split_pages=100), "每个文件最多页数")]:
            with pytest.raises(InvalidValue) as caught:
                plan_forms_run(session, form, scope, options, villages=None, set_kind=FORM, today=TODAY)
            assert caught.value.field == field
        services.add_village(session, "203", "北村", actor=ACTOR)  # nobody lives there
        with pytest.raises(InvalidValue, match="没有在档居民") as caught:
            plan_forms_run(session, form, Scope(), PrintOptions(), villages=["203"], set_kind=FORM, today=TODAY)
        assert caught.value.value == "北村"
        plan = plan_forms_run(session, form, Scope(), PrintOptions(), villages=["203", "202"], set_kind=FORM,
                              today=TODAY)
        assert plan.skipped == ["北村"] and [part.name for part, _ in plan.parts] == ["西村"]
        with pytest.raises(InvalidValue, match="没有要打印的村"):
            runs.create_run(session, plan.kind, plan.params, [], actor=ACTOR)


def test_the_monthly_packet_by_village_is_a_packet_and_a_pick_list_each(committed_db, settings, villages):
    with committed_db.transaction() as session:
        for resident in session.scalars(select(Resident)):
            resident.birth_date = date(1950, 12, 3)  # elderly with a December birthday: due for the annual check
        plan = plan_due_run(session, date(2026, 12, 1), villages=None, today=TODAY)
        assert [part.name for part, _ in plan.parts] == ["城关社区", "东村", "西村"]
        run = runs.create_run(session, plan.kind, plan.params, plan.parts, actor=ACTOR)
        run_id, ids = run.id, runs.part_ids(session, run.id)
    run_parts(committed_db, settings, ids)
    done = state(committed_db, run_id)
    assert done.status == "done"
    contents = zipped(done)
    assert list(contents) == ["001-城关社区.pdf", "001-城关社区-调档单.pdf", "201-东村.pdf", "201-东村-调档单.pdf",
                              "202-西村.pdf", "202-西村-调档单.pdf"]
    assert done.pages == sum(part.pages for part in done.parts) == sum(
        pages for name, pages in contents.items() if not name.endswith("调档单.pdf"))


def test_after_a_restart_an_interrupted_village_fails_and_the_run_ends_partial(committed_db, settings, villages):
    run_id, (first, interrupted, queued) = create_forms_run(committed_db)
    run_job(first, settings=settings, database=committed_db)
    with committed_db.transaction() as session:  # the process died while it printed the second village
        session.execute(update(Job).where(Job.id == interrupted).values(status="running"))
    dispatcher = jobqueue.Dispatcher(lambda job_id: run_job(job_id, settings=settings, database=committed_db))
    try:
        on_app_start(settings, committed_db, dispatcher)
        ended = eventually(lambda: (found := state(committed_db, run_id)).run.status in ("done", "failed",
                                                                                          "partial") and found,
                           what="the run ended", seconds=60)
    finally:
        dispatcher.shutdown()
    assert [part.status for part in ended.parts] == ["done", "failed", "done"]
    assert ended.parts[1].error == jobqueue.INTERRUPTED and ended.run.error == "1 个村未完成（共 3 个）：东村"
    assert list(zipped(ended)) == ["001-城关社区.pdf", "202-西村.pdf", "未完成.txt"]
    assert ended.parts[2].id == queued


def test_parts_rq_reports_failed_end_their_run(committed_db, settings, villages, monkeypatch, tmp_path):
    from rq import Queue

    connection = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    queue = Queue(f"archiveprint-test-{uuid.uuid4().hex[:8]}", connection=connection)
    monkeypatch.setenv("ARCHIVEPRINT_INSTANCE", str(settings.instance_dir))
    # The workers cannot open the database: every part fails in RQ before run_job could record anything.
    dispatcher = jobqueue.Dispatcher(lambda job_id: None, redis_url="redis://127.0.0.1:6379/0", queue=queue.name,
                                     database=committed_db,
                                     database_url=f"sqlite:///{tmp_path / 'no-such-folder' / 'db.sqlite3'}")
    try:
        run_id, ids = create_forms_run(committed_db)
        runs.submit_parts(committed_db, dispatcher, ids, instance_dir=settings.instance_dir)
        work_burst([queue], connection)
        assert state(committed_db, run_id).run.status == "queued"  # nothing in the database knows yet
        changed = dispatcher.check(committed_db, ids, now=utcnow())  # what the run's page does
        assert runs.settle_runs_of(committed_db, changed, instance_dir=settings.instance_dir) == [run_id]
    finally:
        queue.delete(delete_jobs=True)
        connection.close()
    failed = state(committed_db, run_id)
    assert failed.run.status == "failed" and {part.error for part in failed.parts} == {jobqueue.RQ_FAILED}
    assert failed.run.error == "3 个村未完成（共 3 个）：城关社区、东村、西村"
