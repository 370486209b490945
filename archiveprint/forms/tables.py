"""Tables of reference values that a form's template draws from (the growth charts' WHO percentiles), read from
CSV files in the form's own folder: lines starting with # are comments, the first other line names the columns,
numbers come back as floats."""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

from archiveprint.errors import InvalidValue


def _value(text: str) -> str | float:
    try:
        return float(text)
    except ValueError:
        return text


@lru_cache(maxsize=16)
def _read(path: Path, mtime_ns: int) -> tuple[dict[str, str | float], ...]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    return tuple({key: _value(value) for key, value in row.items()} for row in csv.DictReader(lines))


def read_table(folder: Path, name: str) -> tuple[dict[str, str | float], ...]:
    """The rows of <folder>/<name> (a plain file name: a template reads its own form's tables only)."""
    path = folder / name
    if Path(name).name != name or path.suffix != ".csv" or not path.is_file():
        raise InvalidValue("表单没有这个数据表", field=folder.name, value=name)
    return _read(path, path.stat().st_mtime_ns)
