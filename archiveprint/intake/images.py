"""Page pictures kept under the instance folder (intake/<batch>/<seq>-<kind>.jpg): the scan of a page the clerk must
look at, and of a filed page what the site chose to keep (nothing, a small preview, the scan)."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image

FOLDER = "intake"  # under the instance folder: copied by backups with every other instance file
SCAN_DPI = 200.0  # a page kept or queued "as scanned" is at most this sharp (handwriting reads well)
SPARE_DPI = 100.0  # a read page's picture while it is not known yet whether it will be filed (names still legible)
PREVIEW_DPI = 60.0  # a preview: the page recognisable at a glance, about 30 KB
SCAN_QUALITY, PREVIEW_QUALITY = 82, 70
A4_WIDTH_INCHES = 8.27  # a kept JPEG carries no resolution of its own: its width says it


def encode(image: Image, dpi: float, *, preview: bool = False, target: float = SCAN_DPI) -> bytes:
    """The picture as JPEG, reduced to `target` dpi (PREVIEW_DPI for a preview) when it was scanned sharper."""
    from PIL import Image as Pillow  # lazy: Pillow only to read a scanned stack

    target = PREVIEW_DPI if preview else target
    if dpi > target * 1.05:
        factor = target / dpi
        image = image.resize((max(1, round(image.width * factor)), max(1, round(image.height * factor))),
                             Pillow.Resampling.LANCZOS if preview else Pillow.Resampling.BILINEAR)
    out = io.BytesIO()
    image.convert("L").save(out, "JPEG", quality=PREVIEW_QUALITY if preview else SCAN_QUALITY, optimize=preview)
    return out.getvalue()


def shrink(data: bytes) -> bytes:
    """A kept scan made into a preview (a page the clerk assigned, on a site that keeps previews)."""
    from PIL import Image as Pillow  # lazy: Pillow only to read a scanned stack

    with Pillow.open(io.BytesIO(data)) as image:
        image.load()
        dpi = float((image.info.get("dpi") or (0, 0))[0]) or image.width / A4_WIDTH_INCHES
        return encode(image, dpi, preview=True)


def relative_path(batch_id: int, seq: int, kind: str) -> str:
    return f"{FOLDER}/{int(batch_id)}/{int(seq):05d}-{kind}.jpg"


def save(instance_dir: Path, relative: str, data: bytes) -> str:
    """Write a picture (0600, as every instance file) and give its path relative to the instance folder."""
    path = instance_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
    return relative


def load(instance_dir: Path, relative: str) -> bytes | None:
    """A kept picture's bytes, or None when there is none (never a path outside the intake folder)."""
    if not relative or not relative.startswith(FOLDER + "/"):
        return None
    root = (instance_dir / FOLDER).resolve()
    path = (instance_dir / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path.read_bytes()


def remove(instance_dir: Path, relative: str) -> None:
    if relative and relative.startswith(FOLDER + "/"):
        (instance_dir / relative).unlink(missing_ok=True)
