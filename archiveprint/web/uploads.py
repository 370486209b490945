"""Uploaded register files waiting for their dry run to be confirmed: instance/uploads/<token>/ (deleted after use)."""

from __future__ import annotations

import json
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
SOURCE = "source"
APPLYING = "applying"


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

    def folder(self, root: Path) -> Path:
        return root / self.token

    def source(self, root: Path) -> Path:
        return self.folder(root) / f"{SOURCE}{self.suffix}"

    def error_report(self, root: Path) -> Path:
        return self.folder(root) / "errors.xlsx"


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
    if not TOKEN.fullmatch(token) or not (root / token / "meta.json").is_file():
        raise NotFound("没有这次上传（可能已过期，请重新上传）", field="上传", value=token[:32])
    data = json.loads((root / token / "meta.json").read_text(encoding="utf-8"))
    return PendingUpload(**data)


def store(root: Path, upload: PendingUpload) -> None:
    path = upload.folder(root) / "meta.json"
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(asdict(upload), ensure_ascii=False, default=str), encoding="utf-8")
    temporary.replace(path)


def claim(root: Path, upload: PendingUpload) -> Path:
    """Take the file for applying; a second click (or a second clerk) finds it gone and gets a clear message."""
    claimed = upload.folder(root) / f"{APPLYING}{upload.suffix}"
    try:
        upload.source(root).rename(claimed)
    except FileNotFoundError:
        raise Conflict("这个文件已经导入或正在导入", field="上传", value=upload.filename) from None
    return claimed


def release(root: Path, upload: PendingUpload) -> None:
    """Put a claimed file back after an apply that wrote nothing, so it can be checked again."""
    claimed = upload.folder(root) / f"{APPLYING}{upload.suffix}"
    if claimed.exists():
        claimed.rename(upload.source(root))


def discard_source(root: Path, upload: PendingUpload) -> None:
    for name in (f"{SOURCE}{upload.suffix}", f"{APPLYING}{upload.suffix}"):
        (upload.folder(root) / name).unlink(missing_ok=True)


def discard(root: Path, upload: PendingUpload) -> None:
    shutil.rmtree(upload.folder(root), ignore_errors=True)


def forget_stale(root: Path, *, now: float | None = None) -> None:
    if not root.is_dir():
        return
    limit = (now or time.time()) - KEEP_SECONDS
    for folder in root.iterdir():
        if folder.is_dir() and TOKEN.fullmatch(folder.name) and folder.stat().st_mtime < limit:
            shutil.rmtree(folder, ignore_errors=True)
