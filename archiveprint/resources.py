"""Find the data folders (templates/, fonts/, storage_layout/) in a checkout and in an installed wheel."""

from __future__ import annotations

from functools import cache
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_NAMES = ("templates", "fonts", "storage_layout")


def _checkout_root() -> Path | None:
    """The repository root when running from a checkout (or an editable install), else None.

    setup.py marks a checkout; without that check an installed copy could pick up an unrelated
    site-packages/templates folder.
    """
    root = PACKAGE_DIR.parent
    return root if (root / "setup.py").is_file() and (root / "pyproject.toml").is_file() else None


@cache
def find(name: str) -> Path:
    """The absolute path of one data folder: the checkout's top-level copy first, then the wheel's _data copy."""
    if name not in DATA_NAMES:
        raise ValueError(f"unknown data folder {name!r}; expected one of {', '.join(DATA_NAMES)}")
    root = _checkout_root()
    candidates = ([root / name] if root else []) + [PACKAGE_DIR / "_data" / name]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"data folder {name!r} not found (looked in {', '.join(map(str, candidates))})")


def template_dir() -> Path:
    return find("templates")


def font_dir() -> Path:
    return find("fonts")


def storage_layout_dir() -> Path:
    return find("storage_layout")
