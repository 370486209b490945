"""Small YAML mappings beside the forms (templates/forms/aliases.yaml, by_sex.yaml): read through configfile, so a
mistake is named by file, line and value like in every other data file."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, RootModel

from archiveprint import resources
from archiveprint.configfile import Invalid, read_yaml, worded


def mapping_of(kind: Any, shape: str) -> type[RootModel[Any]]:
    """A schema for a file that is one mapping of `kind` values; any other shape is refused with `shape`."""
    def must_be_mapping(raw: object) -> object:
        if not isinstance(raw, dict):
            raise Invalid(shape)
        return raw

    return RootModel[Annotated[dict[str, Annotated[kind, worded(shape)]], BeforeValidator(must_be_mapping)]]


def read_mapping(name: str, schema: type[RootModel[Any]], *, what: str) -> dict[str, Any]:
    """templates/forms/<name> checked against `schema` (empty when there is no file or it is empty)."""
    path = resources.template_dir() / "forms" / name
    if not path.is_file():
        return {}
    document = read_yaml(path, what=what)
    document.data = document.data or {}
    return dict(document.validate(schema).root)
