"""#14: a print run on real RQ worker processes (`rq worker --worker-class archiveprint.jobs.worker.PrintWorker`,
as deploy/ starts them) on the real Redis: both workers print parts, the blank form is laid out once between them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import pytest
import redis  # a hard dependency (pyproject.toml): these tests run on the real Redis, never skip

from archiveprint.jobs import queue as jobqueue
from archiveprint.jobs import runs
from tests.jobs.test_print_runs import create_forms_run, read, settings, state, villages  # noqa: F401
from tests.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
RQ = Path(sys.executable).parent / "rq"
REDIS_URL = "redis://127.0.0.1:6379/0"
WORKER_CLASS = "archiveprint.jobs.worker.PrintWorker"


@pytest.fixture
def workers(settings, tmp_path):  # noqa: F811
    """Two PrintWorkers on a queue of the test's own, registered and idle; stopped (warm shutdown) afterwards.
    Yields the queue's name, the workers' names and their log files."""
    connection = redis.Redis.from_url(REDIS_URL)
    queue = f"archiveprint-test-{uuid.uuid4().hex[:8]}"
    names = [f"{queue}-{number}" for number in (1, 2)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ARCHIVEPRINT_INSTANCE": str(settings.instance_dir)}
    logs = [tmp_path / f"{name}.log" for name in names]
    processes = []
    for name, log in zip(names, logs, strict=True):
        with log.open("wb") as output:  # the worker writes to its own copy of the file descriptor
            processes.append(subprocess.Popen([str(RQ), "worker", "--worker-class", WORKER_CLASS, "--url", REDIS_URL,
                                               "--name", name, queue], env=env, cwd=ROOT, stdout=output,
                                              stderr=subprocess.STDOUT))
    try:
        from rq import Worker

        eventually(lambda: {worker.name for worker in Worker.all(connection=connection)} >= set(names),
                   what="both workers registered", seconds=60)
        yield queue, names, logs
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)  # idle: RQ's warm shutdown stops at once
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:  # RQ's pubsub thread can hold its close up to 60 s: no job is lost
                process.kill()
                process.wait(15)
        from rq import Queue

        Queue(queue, connection=connection).delete(delete_jobs=True)
        connection.close()


def test_a_run_on_two_rq_workers_lays_the_form_out_once_between_them(committed_db, settings, villages,  # noqa: F811
                                                                    workers):
    queue, names, logs = workers
    dispatcher = jobqueue.Dispatcher(lambda job_id: None, redis_url=REDIS_URL, queue=queue, database=committed_db,
                                     database_url=settings.database_url)
    ended = []
    for _ in range(2):  # the second run finds the layout on disk: no worker lays it out again
        run_id, ids = create_forms_run(committed_db)
        assert runs.submit_parts(committed_db, dispatcher, ids, instance_dir=settings.instance_dir) == []
        ended.append(eventually(lambda run_id=run_id: (found := state(committed_db, run_id)).run.status
                                in ("done", "failed", "partial") and found, what=f"run {run_id} ended",
                                seconds=120))
    for run in ended:
        assert run.run.status == "done" and run.run.pages == 6
        with zipfile.ZipFile(run.run.outputs[0]) as archive:
            assert [(name, len(read(archive.read(name)).pages)) for name in archive.namelist()] == [
                ("001-城关社区.pdf", 3), ("201-东村.pdf", 2), ("202-西村.pdf", 1)]

    from rq.job import Job as RQJob

    with committed_db.reader() as session:
        rq_ids = [jobqueue.get_job(session, part.id).rq_id for part in ended[0].parts]
    ran_by = {job.worker_name for job in RQJob.fetch_many(rq_ids, connection=redis.Redis.from_url(REDIS_URL))}
    assert ran_by == set(names)  # both idle workers took a part of the first run
    text = "\n".join(log.read_text(encoding="utf-8") for log in logs)
    assert text.count("archiveprint worker warmed up") == 2
    assert text.count("ended: peak memory") == 6  # each part's work horse, with its peak RSS and CPU time
    assert text.count("laid out personal_info-") == 1, text
    assert len(list((settings.instance_dir / "cache" / "layouts").glob("personal_info-*.json"))) == 1
