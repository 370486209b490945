"""Settings from the environment: database, instance folder, secrets (plain Python, no Flask)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from archiveprint.errors import InvalidValue


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
    import_limits: ImportLimits = field(default_factory=ImportLimits)  # larger register files are refused

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
            import_limits=ImportLimits.from_env(env),
        )

    def ensure_instance_dir(self) -> Path:
        self.instance_dir.mkdir(parents=True, exist_ok=True)
        return self.instance_dir


def retention_days(value: str, *, name: str = "ARCHIVEPRINT_JOB_RETENTION_DAYS") -> int:
    """A whole number of days, at least 1 (a typo must not remove today's print files)."""
    try:
        days = int(value.strip())
    except ValueError:
        days = 0
    if days < 1:
        raise InvalidValue("保留天数应为不小于 1 的整数", field=name, value=value)
    return days


def row_count(value: str, *, name: str = "ARCHIVEPRINT_IMPORT_BACKGROUND_ROWS") -> int:
    """A whole number of rows, 0 or more (0: every web import runs in the background)."""
    try:
        rows = int(value.strip())
    except ValueError:
        rows = -1
    if rows < 0:
        raise InvalidValue("行数应为不小于 0 的整数", field=name, value=value)
    return rows


def positive(value: str, *, name: str) -> int:
    """A whole number, at least 1 (a limit of 0 would refuse every file)."""
    try:
        number = int(value.strip().replace("_", ""))
    except ValueError:
        number = 0
    if number < 1:
        raise InvalidValue("应为不小于 1 的整数", field=name, value=value)
    return number


def normalize_database_url(url: str) -> str:
    """Accept the postgres:// and postgresql:// spellings hosting tools print; use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _instance_secret(instance: Path) -> str:
    """A per-installation secret kept in the instance folder, so sessions survive restarts."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key
