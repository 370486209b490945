"""Settings from the environment: database, instance folder, secrets (plain Python, no Flask)."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archiveprint.errors import N_, InvalidValue, Message, NotConfigured


@dataclass(frozen=True)
class ImportLimits:
    """How large a register file may be. A larger one is refused before it is read, with a message naming the
    limit and the file's figure (a township's whole export is tens of thousands of rows, a few MB)."""

    rows: int = 300_000  # rows of a sheet (its last row number) or records of a .csv
    columns: int = 200  # columns of a sheet (its last column) or fields of a .csv record
    megabytes: int = 256  # the file unpacked: a .csv's size, or all members of an .xlsx once unzipped
    ratio: int = 100  # unzipped ÷ zipped size of one .xlsx member (an export's sheet is about 10)
    memory_megabytes: int = 512  # a sheet is read into memory as a grid of CELL_BYTES a cell (rows × columns)

    CELL_BYTES = 32

    @classmethod
    def from_env(cls, env: dict[str, str] | os._Environ[str]) -> ImportLimits:
        default = cls()
        values = {}
        for name, variable in (("rows", "ROWS"), ("columns", "COLUMNS"), ("megabytes", "MB"),
                               ("ratio", "RATIO"), ("memory_megabytes", "MEMORY_MB")):
            key = f"ARCHIVEPRINT_IMPORT_MAX_{variable}"
            values[name] = positive(env.get(key) or str(getattr(default, name)), name=key)
        return cls(**values)


@dataclass(frozen=True)
class Settings:
    """Everything the CLI, the web app and the jobs need to find their storage.

    The embedded default is one SQLite file in the instance folder; DATABASE_URL switches to PostgreSQL.
    """

    instance_dir: Path
    database_url: str
    secret_key: str = field(repr=False)
    redis_url: str | None = None
    default_locale: str = "zh_CN"
    job_retention_days: int = 30  # print-job output (PDFs of people's data) is removed after this many days
    import_background_rows: int = 2000  # a web import of at least this many rows runs as a background job
    web_busy_seconds: float = 5.0  # a page waits this long for another writer's lock, then says 系统正忙 (503)
    session_idle_hours: float = 10.0  # a signed-in browser left alone this long must sign in again (a working day)
    secure_cookies: str = "auto"  # auto: Secure cookie when the request came over HTTPS; on; off
    trusted_proxy: bool = False  # believe X-Forwarded-For/-Proto/-Host from one reverse proxy in front (nginx)
    import_limits: ImportLimits = field(default_factory=ImportLimits)  # larger register files are refused
    rq_queue: str = "archiveprint"  # the RQ queue the web app fills and `rq worker` empties
    # How many web processes serve the installation at once (ARCHIVEPRINT_WEB_WORKERS); None: not said.
    web_workers: int | None = None
    # A multi-process server that said so in the environment (gunicorn sets SERVER_SOFTWARE=gunicorn/<version>).
    web_server: str = ""

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        instance = Path(env.get("ARCHIVEPRINT_INSTANCE") or Path.cwd() / "instance").resolve()
        url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'archiveprint.sqlite3'}"
        return cls(
            instance_dir=instance,
            database_url=normalize_database_url(url),
            secret_key=env.get("SECRET_KEY") or _instance_secret(instance),
            redis_url=env.get("REDIS_URL") or None,
            default_locale=env.get("ARCHIVEPRINT_LOCALE", "zh_CN"),
            job_retention_days=retention_days(env.get("ARCHIVEPRINT_JOB_RETENTION_DAYS") or "30"),
            import_background_rows=row_count(env.get("ARCHIVEPRINT_IMPORT_BACKGROUND_ROWS") or "2000"),
            web_busy_seconds=busy_seconds(env.get("ARCHIVEPRINT_WEB_BUSY_SECONDS") or "5"),
            session_idle_hours=idle_hours(env.get("ARCHIVEPRINT_SESSION_IDLE_HOURS") or "10"),
            secure_cookies=choice(env.get("ARCHIVEPRINT_SECURE_COOKIES") or "auto", SECURE_COOKIE_CHOICES,
                                  name="ARCHIVEPRINT_SECURE_COOKIES"),
            trusted_proxy=switch(env.get("ARCHIVEPRINT_TRUSTED_PROXY") or "off", name="ARCHIVEPRINT_TRUSTED_PROXY"),
            import_limits=ImportLimits.from_env(env),
            rq_queue=queue_name(env.get("ARCHIVEPRINT_RQ_QUEUE") or "archiveprint"),
            web_workers=positive(env["ARCHIVEPRINT_WEB_WORKERS"], name="ARCHIVEPRINT_WEB_WORKERS")
            if env.get("ARCHIVEPRINT_WEB_WORKERS") else None,
            web_server=multi_process_server(env.get("SERVER_SOFTWARE") or ""),
        )

    def ensure_instance_dir(self) -> Path:
        """The instance folder, readable by the owner only (it holds the database, uploads and print files)."""
        self.instance_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.instance_dir.chmod(0o700)
        return self.instance_dir

    def protect_database_files(self) -> None:
        """An SQLite database and its -wal/-shm files are the owner's only (0600), also when an older version
        created them 0644; SQLite gives new -wal/-shm files the database file's mode."""
        if not self.database_url.startswith("sqlite:///"):
            return
        database = Path(self.database_url.removeprefix("sqlite:///"))
        for path in (database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")):
            if path.is_file():
                path.chmod(0o600)


# --- one process or several ----------------------------------------------------------------------------------

MULTI_PROCESS_SERVERS = ("gunicorn/",)  # SERVER_SOFTWARE of the servers that run the app in several processes
SQLITE_SHARED = N_("多个网页进程（{server}）不能共用 SQLite 数据库：请把 DATABASE_URL 设为 PostgreSQL 数据库"
                   "（见 docs/deploy.md）；确实只有一个网页进程时设 ARCHIVEPRINT_WEB_WORKERS=1")
LOCAL_THREAD_REFUSED = N_("在多进程网页服务器（{server}）中，后台任务不能在网页进程的线程里运行（进程随时可能被替换，"
                          "任务会丢失）：请设置 REDIS_URL 并启动 rq worker（见 docs/deploy.md）")
WORKERS_NOT_SAID = N_("{server}，未设置 ARCHIVEPRINT_WEB_WORKERS")


def multi_process_server(server_software: str) -> str:
    """The SERVER_SOFTWARE a multi-process server put in the environment (gunicorn's master does, before it forks
    the workers that load the app), or "" for anything else (waitress, a test, the CLI)."""
    return server_software if server_software.startswith(MULTI_PROCESS_SERVERS) else ""


def check_web_processes(settings: Settings) -> None:
    """Refuse to start the web app where it cannot work: several web processes on one SQLite file, or jobs on a
    thread of a web process in a multi-process server (a worker is killed and replaced at will — timeouts,
    max-requests, reloads — taking its thread's job with it, and each process would run its own queue).

    Several processes are said by ARCHIVEPRINT_WEB_WORKERS > 1 (the shipped gunicorn settings set it to gunicorn's
    real worker count in every worker), or by running under gunicorn without saying how many.
    """
    server = settings.web_server
    workers = settings.web_workers
    if workers is not None and workers > 1:
        shown: object = f"ARCHIVEPRINT_WEB_WORKERS={workers}"
    elif server and workers is None:
        shown = Message(WORKERS_NOT_SAID, {"server": server})
    else:
        shown = None
    if shown is not None and settings.database_url.startswith("sqlite"):
        raise NotConfigured(SQLITE_SHARED, params={"server": shown}, field="DATABASE_URL",
                            value=settings.database_url.partition(":")[0])
    if (shown is not None or server) and not settings.redis_url:
        raise NotConfigured(LOCAL_THREAD_REFUSED, params={"server": shown or server}, field="REDIS_URL", value="")


PRIVATE_UMASK = 0o077  # files 0600, folders 0700: residents' data is for the service's own account only


def keep_files_private() -> None:
    """Set at the start of every entry point (CLI, serve, the web app, a job): whatever this process writes — the
    database, uploads, PDFs, error reports — is readable by the owner only."""
    os.umask(PRIVATE_UMASK)


def make_private(path: Path) -> None:
    """A folder and everything in it (folders 0700, files 0600), or one file 0600: for outputs made elsewhere
    or before the umask was set."""
    if path.is_dir():
        path.chmod(0o700)
        for child in path.rglob("*"):
            child.chmod(0o700 if child.is_dir() else 0o600)
    elif path.is_file():
        path.chmod(0o600)


def _number(value: str, *, name: str, parse: type[int] | type[float], ok: Callable[[float], bool],
            message: str) -> Any:
    """One numeric setting: parsed, checked against its range, or refused in Chinese naming the variable."""
    try:
        number = parse(value.strip().replace("_", ""))
    except ValueError:
        number = None
    if number is None or not ok(number):
        raise InvalidValue(message, field=name, value=value)
    return number


def retention_days(value: str, *, name: str = "ARCHIVEPRINT_JOB_RETENTION_DAYS") -> int:
    """A whole number of days, at least 1 (a typo must not remove today's print files)."""
    return _number(value, name=name, parse=int, ok=lambda n: n >= 1, message=N_("保留天数应为不小于 1 的整数"))


def row_count(value: str, *, name: str = "ARCHIVEPRINT_IMPORT_BACKGROUND_ROWS") -> int:
    """A whole number of rows, 0 or more (0: every web import runs in the background)."""
    return _number(value, name=name, parse=int, ok=lambda n: n >= 0, message=N_("行数应为不小于 0 的整数"))


def busy_seconds(value: str, *, name: str = "ARCHIVEPRINT_WEB_BUSY_SECONDS") -> float:
    """Seconds a page waits for a database lock: more than 0, at most 60 (a clerk will not wait longer)."""
    return _number(value, name=name, parse=float, ok=lambda n: 0 < n <= 60, message=N_("等待秒数应为 0 到 60 之间的数"))


SECURE_COOKIE_CHOICES = ("auto", "on", "off")


def idle_hours(value: str, *, name: str = "ARCHIVEPRINT_SESSION_IDLE_HOURS") -> float:
    """Hours (a fraction allowed) a session may sit unused, more than 0 and at most a week."""
    return _number(value, name=name, parse=float, ok=lambda n: 0 < n <= 168,
                   message=N_("空闲时长应为大于 0、不超过 168 的小时数"))


def choice(value: str, choices: tuple[str, ...], *, name: str) -> str:
    """One of a few words (case-insensitive)."""
    word = value.strip().lower()
    if word not in choices:
        raise InvalidValue("可选值：{choices}", params={"choices": " / ".join(choices)}, field=name, value=value)
    return word


def switch(value: str, *, name: str) -> bool:
    """on/off, also 1/0, yes/no, true/false."""
    word = value.strip().lower()
    if word in ("on", "1", "yes", "true"):
        return True
    if word in ("off", "0", "no", "false", ""):
        return False
    raise InvalidValue("可选值：on / off", field=name, value=value)


def positive(value: str, *, name: str) -> int:
    """A whole number, at least 1 (a limit of 0 would refuse every file)."""
    return _number(value, name=name, parse=int, ok=lambda n: n >= 1, message=N_("应为不小于 1 的整数"))


QUEUE_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def queue_name(value: str, *, name: str = "ARCHIVEPRINT_RQ_QUEUE") -> str:
    """An RQ queue's name: letters, digits and _.:- (it is part of Redis keys), at most 64."""
    if not QUEUE_NAME.fullmatch(value.strip()):
        raise InvalidValue("队列名只能由字母、数字和 _.:- 组成，最多 64 个字符", field=name, value=value)
    return value.strip()


def normalize_database_url(url: str) -> str:
    """Accept the postgres:// and postgresql:// spellings hosting tools print; use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _instance_secret(instance: Path) -> str:
    """A per-installation secret kept in the instance folder, so sessions survive restarts.

    Several processes may start at once on a fresh instance (gunicorn's web workers, RQ workers, possibly on other
    machines sharing the folder): each writes a candidate and links it into place, which succeeds for one of them
    only (also on NFS), and all of them then read that one.
    """
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True, mode=0o700)
        candidate = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
        candidate.write_text(secrets.token_hex(32))
        candidate.chmod(0o600)
        try:
            os.link(candidate, path)
        except FileExistsError:
            pass  # another process was first: its key is the installation's
        finally:
            candidate.unlink()
    return path.read_text().strip()
