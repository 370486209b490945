"""#14, running at county scale: the web app refuses SQLite with several web processes, and jobs on a local thread in
a multi-process server (gunicorn) — in the settings, in create_app, and under a real gunicorn started with the shipped
settings (archiveprint.web.gunicorn_conf); the instance's secret key is one, however many processes start at once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from archiveprint.config import Settings, check_web_processes
from archiveprint.errors import InvalidValue, NotConfigured
from archiveprint.web import create_app
from archiveprint.web.startup import startup_refusal

ROOT = Path(__file__).resolve().parents[1]
GUNICORN = Path(sys.executable).parent / "gunicorn"
PG = "postgresql+psycopg://archive@db.example/archive"
REDIS = "redis://127.0.0.1:6379/0"


def settings(tmp_path: Path, **values: object) -> Settings:
    values.setdefault("database_url", f"sqlite:///{tmp_path / 'instance' / 'archiveprint.sqlite3'}")
    return Settings(instance_dir=tmp_path / "instance", secret_key="k", **values)  # type: ignore[arg-type]


def refusal(tmp_path: Path, **values: object) -> NotConfigured:
    with pytest.raises(NotConfigured) as caught:
        check_web_processes(settings(tmp_path, **values))
    return caught.value


# --- the settings -----------------------------------------------------------------------------------------------

def test_the_environment_says_how_many_web_processes_which_server_and_which_queue(tmp_path):
    env = {"ARCHIVEPRINT_INSTANCE": str(tmp_path), "SECRET_KEY": "k"}
    plain = Settings.from_env(env)
    assert (plain.web_workers, plain.web_server, plain.rq_queue) == (None, "", "archiveprint")
    county = Settings.from_env({**env, "ARCHIVEPRINT_WEB_WORKERS": " 4 ", "SERVER_SOFTWARE": "gunicorn/27.0.1",
                                "ARCHIVEPRINT_RQ_QUEUE": "county-130123"})
    assert (county.web_workers, county.web_server, county.rq_queue) == (4, "gunicorn/27.0.1", "county-130123")
    # Only a server known to run several processes counts: waitress (archiveprint serve) is one process.
    assert Settings.from_env({**env, "SERVER_SOFTWARE": "waitress"}).web_server == ""


@pytest.mark.parametrize(("variable", "value"), [
    ("ARCHIVEPRINT_WEB_WORKERS", "0"), ("ARCHIVEPRINT_WEB_WORKERS", "two"),
    ("ARCHIVEPRINT_RQ_QUEUE", "archive print"), ("ARCHIVEPRINT_RQ_QUEUE", "档案"),
])
def test_a_wrong_value_is_refused_naming_the_variable(tmp_path, variable, value):
    with pytest.raises(InvalidValue) as caught:
        Settings.from_env({"ARCHIVEPRINT_INSTANCE": str(tmp_path), "SECRET_KEY": "k", variable: value})
    assert caught.value.field == variable and caught.value.value == value


# --- which combinations may start -------------------------------------------------------------------------------

@pytest.mark.parametrize("values", [
    {},  # the embedded default: one waitress process, SQLite, jobs on a local thread
    {"web_workers": 1},
    {"redis_url": REDIS},
    {"web_workers": 4, "database_url": PG, "redis_url": REDIS},
    {"web_server": "gunicorn/27.0.1", "web_workers": 1, "redis_url": REDIS},  # one gunicorn worker may use SQLite
    {"web_server": "gunicorn/27.0.1", "database_url": PG, "redis_url": REDIS},
])
def test_what_can_work_starts(tmp_path, values):
    check_web_processes(settings(tmp_path, **values))


def test_several_web_processes_on_sqlite_are_refused(tmp_path):
    error = refusal(tmp_path, web_workers=2, redis_url=REDIS)
    assert error.field == "DATABASE_URL" and error.value == "sqlite"
    assert "多个网页进程（ARCHIVEPRINT_WEB_WORKERS=2）不能共用 SQLite 数据库" in str(error)
    assert "PostgreSQL" in str(error) and "docs/deploy.md" in str(error)


def test_gunicorn_that_does_not_say_how_many_workers_counts_as_several(tmp_path):
    error = refusal(tmp_path, web_server="gunicorn/27.0.1", redis_url=REDIS)
    assert error.field == "DATABASE_URL"
    assert "多个网页进程（gunicorn/27.0.1，未设置 ARCHIVEPRINT_WEB_WORKERS）" in str(error)


@pytest.mark.parametrize(("values", "server"), [
    ({"web_workers": 3, "database_url": PG}, "ARCHIVEPRINT_WEB_WORKERS=3"),
    # gunicorn replaces a worker at will (timeout, max-requests, reload): even one worker's thread loses its job
    ({"web_server": "gunicorn/27.0.1", "web_workers": 1}, "gunicorn/27.0.1"),
    ({"web_server": "gunicorn/27.0.1", "database_url": PG}, "gunicorn/27.0.1，未设置 ARCHIVEPRINT_WEB_WORKERS"),
])
def test_the_local_job_thread_is_refused_in_a_multi_process_server(tmp_path, values, server):
    error = refusal(tmp_path, **values)
    assert error.field == "REDIS_URL"
    assert f"在多进程网页服务器（{server}）中，后台任务不能在网页进程的线程里运行" in str(error)
    assert "请设置 REDIS_URL 并启动 rq worker" in str(error)


def test_the_refusal_reads_in_english_too(tmp_path):
    shown = startup_refusal(refusal(tmp_path, web_workers=2, database_url=PG))
    chinese, english = shown.splitlines()
    assert chinese.startswith("archiveprint 拒绝启动：「REDIS_URL」")
    assert english.startswith("archiveprint refuses to start: ")
    assert "multi-process web server (ARCHIVEPRINT_WEB_WORKERS=2)" in english and "REDIS_URL" in english
    assert not any("\u4e00" <= character <= "\u9fff" for character in english)


def test_create_app_refuses_before_it_touches_the_database(tmp_path):
    with pytest.raises(NotConfigured, match="不能共用 SQLite"):
        create_app(settings(tmp_path, web_workers=2, redis_url=REDIS))
    assert not (tmp_path / "instance").exists()


# --- under a real gunicorn --------------------------------------------------------------------------------------

def gunicorn(tmp_path: Path, *options: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """gunicorn with the shipped settings, as the systemd unit starts it, on an empty instance (SQLite unless
    DATABASE_URL is given); returns when the master has stopped."""
    base = {key: value for key, value in os.environ.items()
            if not key.startswith("ARCHIVEPRINT_") and key not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")}
    base.update({"PYTHONPATH": str(ROOT), "ARCHIVEPRINT_INSTANCE": str(tmp_path / "instance"),
                 "ARCHIVEPRINT_BIND": "127.0.0.1:0", **(env or {})})
    return subprocess.run([str(GUNICORN), "-c", "python:archiveprint.web.gunicorn_conf", *options,
                           "archiveprint.web.wsgi:app"], env=base, cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.slow
def test_gunicorn_with_two_workers_on_sqlite_stops_with_the_reason_before_it_starts_a_worker(tmp_path):
    done = gunicorn(tmp_path, env={"REDIS_URL": REDIS})  # the shipped settings: 2 workers
    assert done.returncode == 4, done.stderr  # gunicorn's "App failed to load"
    assert ("archiveprint 拒绝启动：「DATABASE_URL」，值“sqlite”：多个网页进程（ARCHIVEPRINT_WEB_WORKERS=2）"
            in done.stderr)
    assert "archiveprint refuses to start: DATABASE_URL, value “sqlite”: Several web processes" in done.stderr
    assert "Booting worker" not in done.stderr
    assert not (tmp_path / "instance" / "archiveprint.sqlite3").exists()


@pytest.mark.slow
def test_gunicorn_tells_the_app_the_real_count_and_refuses_the_local_thread(tmp_path):
    # `--workers 1` on the command line wins over ARCHIVEPRINT_WEB_WORKERS=2: the app is told 1, so SQLite would
    # do; but a gunicorn worker may not run jobs on a thread of its own.
    done = gunicorn(tmp_path, "--workers", "1", env={"ARCHIVEPRINT_WEB_WORKERS": "2"})
    assert done.returncode == 4, done.stderr
    assert "在多进程网页服务器（gunicorn/" in done.stderr and "请设置 REDIS_URL" in done.stderr
    assert "SQLite" not in done.stderr


@pytest.mark.slow
def test_a_gunicorn_started_without_the_shipped_settings_is_refused_by_each_worker(tmp_path):
    """The app itself sees gunicorn (SERVER_SOFTWARE) and, not told how many workers, counts them as several."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ARCHIVEPRINT_")}
    env.update({"PYTHONPATH": str(ROOT), "ARCHIVEPRINT_INSTANCE": str(tmp_path / "instance"), "REDIS_URL": REDIS})
    env.pop("DATABASE_URL", None)
    done = subprocess.run([str(GUNICORN), "--bind", "127.0.0.1:0", "--workers", "1", "archiveprint.web.wsgi:app"],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "Booting worker" in done.stderr
    assert "多个网页进程（gunicorn/" in done.stderr and "未设置 ARCHIVEPRINT_WEB_WORKERS" in done.stderr


# --- the secret key ---------------------------------------------------------------------------------------------

def test_processes_starting_together_on_a_fresh_instance_agree_on_one_secret_key(tmp_path):
    """gunicorn's workers and the RQ workers may all read the settings of a new instance at the same moment: a key
    written by one and overwritten by another would sign a session that the other workers refuse."""
    for attempt in range(20):
        instance = tmp_path / str(attempt)
        start = threading.Barrier(8)
        keys: list[str] = []

        def read(instance: Path = instance, start: threading.Barrier = start, keys: list[str] = keys) -> None:
            start.wait()
            keys.append(Settings.from_env({"ARCHIVEPRINT_INSTANCE": str(instance)}).secret_key)

        threads = [threading.Thread(target=read) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(keys) == 8 and set(keys) == {(instance / "secret_key").read_text()}
        assert sorted(path.name for path in instance.iterdir()) == ["secret_key"]  # no candidate left behind
        assert (instance / "secret_key").stat().st_mode & 0o777 == 0o600
