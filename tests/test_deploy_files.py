"""#14: the files in deploy/ stay true to the code: the units and the Procfile start modules and commands that exist,
with the queue the app fills; every setting in the example file is one archiveprint reads; docs/deploy.md names
every file. (The stack itself is tested by deploy/stack-smoke.sh, which .ci/run runs.)"""

from __future__ import annotations

import configparser
import importlib.util
import re
import sys
from pathlib import Path

from archiveprint.config import Settings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
GUNICORN = "gunicorn -c python:archiveprint.web.gunicorn_conf archiveprint.web.wsgi:app"
QUEUE = '"${ARCHIVEPRINT_RQ_QUEUE:-archiveprint}"'
WORKER_CLASS = "--worker-class archiveprint.jobs.worker.PrintWorker"


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((DEPLOY / "systemd" / name).read_text(encoding="utf-8"))
    return parser


def test_the_web_is_gunicorn_on_the_shipped_settings_and_entry_point():
    assert importlib.util.find_spec("archiveprint.web.gunicorn_conf") is not None
    assert importlib.util.find_spec("archiveprint.web.wsgi") is not None
    web = unit("archiveprint-web.service")["Service"]
    assert web["ExecStart"] == f"/srv/archiveprint/.venv/bin/{GUNICORN}"
    assert web["ExecStartPre"] == "/srv/archiveprint/.venv/bin/archiveprint db upgrade"
    assert web["RestartPreventExitStatus"] == "4"  # a refused setting (web/startup.py) is not retried
    assert f"web: {GUNICORN}" in (DEPLOY / "Procfile").read_text(encoding="utf-8").splitlines()


def test_the_workers_empty_the_queue_the_web_fills():
    default = Settings(instance_dir=ROOT, database_url="sqlite://", secret_key="k").rq_queue
    assert QUEUE.endswith(f":-{default}}}\"")
    worker = unit("archiveprint-worker@.service")["Service"]["ExecStart"].replace("$$", "$")
    assert f'rq worker {WORKER_CLASS} --url "$REDIS_URL" --name "%H-%i" {QUEUE}' in worker
    assert f'worker: rq worker {WORKER_CLASS} --url "$REDIS_URL" {QUEUE}' in (DEPLOY / "Procfile").read_text(
        encoding="utf-8")


def test_the_workers_run_the_worker_class_that_loads_archiveprint_before_it_forks():
    """#14: a plain `rq worker` loads the app again in every job's work horse (~2 s a job)."""
    from rq import Worker

    from archiveprint.jobs.worker import PrintWorker

    assert WORKER_CLASS == "--worker-class archiveprint.jobs.worker.PrintWorker" and issubclass(PrintWorker, Worker)


def test_every_command_the_files_run_is_installed():
    lines = [value for name in ("archiveprint-web.service", "archiveprint-worker@.service",
                                "archiveprint-backup.service") for key, value in unit(name)["Service"].items()
             if key.startswith("Exec")]
    commands = {match for line in lines for match in re.findall(r"/srv/archiveprint/\.venv/bin/([\w-]+)", line)}
    commands |= {line.split()[1] for line in (DEPLOY / "Procfile").read_text(encoding="utf-8").splitlines()
                 if line and not line.startswith("#")}
    assert commands == {"archiveprint", "gunicorn", "rq"}
    assert all((BIN / command).is_file() for command in commands)


def test_every_setting_in_the_example_file_is_read_by_archiveprint():
    example = (DEPLOY / "archiveprint.env.example").read_text(encoding="utf-8")
    names = re.findall(r"^(?:# )?([A-Z][A-Z0-9_]+)=", example, flags=re.MULTILINE)
    assert {"DATABASE_URL", "REDIS_URL", "ARCHIVEPRINT_INSTANCE", "ARCHIVEPRINT_WEB_WORKERS"} <= set(names)
    sources = "\n".join(path.read_text(encoding="utf-8") for path in (ROOT / "archiveprint").rglob("*.py"))
    assert [name for name in names if f'"{name}' not in sources] == []


def test_docs_deploy_names_every_file_of_the_deploy_folder():
    docs = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    files = [path for path in DEPLOY.rglob("*") if path.is_file() and "__pycache__" not in path.parts]
    assert [path.name for path in files if path.name not in docs] == []
