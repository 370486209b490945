"""Small YAML mappings beside the forms (templates/forms/aliases.yaml, by_sex.yaml): read, shape-checked."""

from __future__ import annotations

from typing import Any

import yaml

from archiveprint import resources
from archiveprint.errors import InvalidValue


def read_mapping(name: str, shape: str) -> dict[Any, Any]:
    """templates/forms/<name> as a mapping (empty when there is no file); `shape` says the format when it is not."""
    path = resources.template_dir() / "forms" / name
    if not path.is_file():
        return {}
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise InvalidValue(shape, field=str(path))
    return raw
