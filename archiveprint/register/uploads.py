"""Uploaded register files waiting for their dry run to be confirmed: instance/uploads/<token>/ (deleted after use).

Plain files, no Flask: the web pages and the background import jobs (archiveprint.register.importjob) share them.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from archiveprint.errors import Conflict, NotFound

TOKEN = re.compile(r"[A-Za-z0-9_-]{22}")
KEEP_SECONDS = 24 * 3600  # an upload nobody confirmed is removed the next day (it holds people's data)
FOLDER = "uploads"  # under the instance folder
SOURCE = "source"
APPLYING = "applying"
META = "meta.json"


@dataclass
class PendingUpload:
    """One uploaded file and what the clerk chose for it; `report` is the last report shown, as plain values."""

    token: str
    filename: str
    suffix: str
    user_id: int
    add_villages: bool
    state: str = "checked"  # checked → applied
    report: dict[str, object] | None = None
    force: bool = False  # read it even if the same file was already imported into an unchanged register
    rows: int = 0  # data rows the file seemed to hold when it was uploaded (importjob.estimate_rows)
    background: bool = False  # checked and applied as background jobs (a large file), not inside the request

    def folder(self, root: Path) -> Path:
        return root / self.token

    def source(self, root: Path) -> Path:
        return self.folder(root) / f"{SOURCE}{self.suffix}"

    def claimed(self, root: Path) -> Path:
        return self.folder(root) / f"{APPLYING}{self.suffix}"

    def error_report(self, root: Path) -> Path:
        return self.folder(root) / "errors.xlsx"


def upload_root(instance_dir: Path) -> Path:
    return instance_dir / FOLDER


def save_upload(root: Path, stream: IO[bytes], filename: str, *, user_id: int, add_villages: bool,
                force: bool = False) -> PendingUpload:
    """Keep an uploaded file under a random token; the original name is kept only as data."""
    forget_stale(root)
    token = secrets.token_urlsafe(16)
    suffix = Path(filename).suffix.lower()
    upload = PendingUpload(token=token, filename=Path(filename).name[:200], suffix=suffix, user_id=user_id,
                           add_villages=add_villages, force=force)
    folder = upload.folder(root)
    folder.mkdir(parents=True, mode=0o700)
    with upload.source(root).open("wb") as target:
        shutil.copyfileobj(stream, target)
    store(root, upload)
    return upload


def load(root: Path, token: str) -> PendingUpload:
    if not TOKEN.fullmatch(token) or not (root / token / META).is_file():
        raise missing(token)
    data = json.loads((root / token / META).read_text(encoding="utf-8"))
    return PendingUpload(**data)


def missing(token: str) -> NotFound:
    """The one answer for an upload that is not there, or not the asker's: the same words either way."""
    return NotFound("没有这次上传（可能已过期，或不是您上传的），请重新上传", field="上传", value=token[:32])


def store(root: Path, upload: PendingUpload) -> None:
    _write(upload.folder(root) / META, upload)


def stage(root: Path, upload: PendingUpload, job_id: int) -> None:
    """Write what a job's outcome makes of the upload beside meta.json, before the job's transaction commits.

    promote() puts it in place once the commit is done; had the process stopped in between, the next reader that
    finds the job done promotes it (importjob.settle), and one that finds the job failed ignores it.
    """
    _write(_staged(root, upload.token, job_id), upload)


def promote(root: Path, token: str, job_id: int) -> bool:
    """Put a job's staged state in place of meta.json; False if there is none (already promoted, or never)."""
    try:
        _staged(root, token, job_id).replace(root / token / META)
    except FileNotFoundError:
        return False
    return True


def unstage(root: Path, token: str, job_id: int) -> None:
    _staged(root, token, job_id).unlink(missing_ok=True)


def _staged(root: Path, token: str, job_id: int) -> Path:
    return root / token / f"meta-{int(job_id)}.json"


def _write(path: Path, upload: PendingUpload) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(asdict(upload), ensure_ascii=False, default=str), encoding="utf-8")
    os.replace(temporary, path)


def claim(root: Path, upload: PendingUpload, *, resume: bool = False) -> Path:
    """Take the file for applying; a second click (or a second clerk) finds it gone and gets a clear message.

    `resume`: a file an earlier apply job left claimed (the process stopped mid-import, so nothing was written)
    is taken as it is; the caller has made sure no other job is applying it.
    """
    claimed = upload.claimed(root)
    if resume and claimed.is_file():
        return claimed
    try:
        upload.source(root).rename(claimed)
    except FileNotFoundError:
        raise Conflict("这个文件已经导入或正在导入", field="上传", value=upload.filename) from None
    return claimed


def release(root: Path, upload: PendingUpload) -> None:
    """Put a claimed file back after an apply that wrote nothing, so it can be checked again."""
    claimed = upload.claimed(root)
    if claimed.exists():
        claimed.rename(upload.source(root))


def discard_source(root: Path, upload: PendingUpload) -> None:
    for path in (upload.source(root), upload.claimed(root)):
        path.unlink(missing_ok=True)


def discard(root: Path, upload: PendingUpload) -> None:
    shutil.rmtree(upload.folder(root), ignore_errors=True)


def forget_stale(root: Path, *, now: float | None = None) -> None:
    if not root.is_dir():
        return
    limit = (now or time.time()) - KEEP_SECONDS
    for folder in root.iterdir():
        if folder.is_dir() and TOKEN.fullmatch(folder.name) and folder.stat().st_mtime < limit:
            shutil.rmtree(folder, ignore_errors=True)
