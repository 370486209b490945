"""The English catalogue: every string translated (the domain's messages too), the compiled .mo matching the .po,
every stored code labelled."""

from __future__ import annotations

import re
import string
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from archiveprint.accounts.roles import ROLES
from archiveprint.errors import TOWNSHIP_NOT_SET
from archiveprint.jobs.queue import INTERRUPTED
from archiveprint.register.names import SEX_CODES
from archiveprint.register.services import CLOSE_REASONS
from archiveprint.web import i18n

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "archiveprint/translations/en/LC_MESSAGES/messages.po"
MO = PO.with_suffix(".mo")


def _messages(catalog) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {message.id: message.string for message in catalog if message.id}


def test_compiled_catalogue_is_up_to_date_with_the_po_file(tmp_path):
    with PO.open("rb") as source:
        catalog = read_po(source, locale="en")
    compiled = tmp_path / "messages.mo"
    with compiled.open("wb") as target:
        write_mo(target, catalog)
    with compiled.open("rb") as fresh, MO.open("rb") as shipped:
        assert _messages(read_mo(shipped)) == _messages(read_mo(fresh)), \
            "messages.mo is stale: run .venv/bin/pybabel compile -d archiveprint/translations"
    assert _messages(read_mo(BytesIO(MO.read_bytes())))["查找"] == "Search"


@cache
def _used() -> frozenset[str]:
    """The msgids babel.cfg extracts: templates, the web's gettext calls and the domain's messages."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    keywords = {**DEFAULT_KEYWORDS, "_l": None}
    return frozenset(message for _file, _line, message, _comments, _context in
                     extract_from_dir(str(ROOT), method_map, options_map, keywords=keywords))


def _translated() -> dict[str, str]:
    with PO.open("rb") as source:
        return {key: value for key, value in _messages(read_po(source)).items() if value}


def test_every_interface_string_has_an_english_translation():
    translated = _translated()
    missing = sorted(str(message) for message in _used() if message not in translated)
    assert missing == [], "extract and translate (see babel.cfg): " + ", ".join(missing)


def test_the_domain_messages_are_extracted():
    used = _used()
    assert {"第{row}行", "「{field}」", "值“{value}”", "{where}：{message}", "，"} <= used  # render's own words
    assert "档案编号应为17位数字，实际{length}位" in used  # an error's template (params=)
    assert "档案编号为空" in used  # an error's literal message
    assert "身份证号与第{first}行重复" in used  # a reason of the register import (errors.Message)
    assert {TOWNSHIP_NOT_SET, INTERRUPTED, "在架"} <= used  # N_ marks: constants, a word shown as a param
    assert {"村代码", "移交范围"} <= used  # field= names, also one passed on to an error (shelf_range)
    assert "q" not in used  # an API parameter named as the field stays as it is


def _placeholders(text: str) -> tuple[list[str], list[str]] | None:
    """{name} (a domain template's) and %(name)s (a web gettext's) placeholders, each sorted; None for text whose
    braces are not placeholders (a format shown as it is: 表单编号: {字段: 版本})."""
    try:
        names = [name for _text, name, _spec, _conversion in string.Formatter().parse(text) if name is not None]
    except ValueError:
        return None
    if not all(name.isidentifier() and name.isascii() for name in names):
        return None
    return sorted(names), sorted(re.findall(r"%\((\w+)\)", text))


def test_every_translation_keeps_the_placeholders_of_its_message():
    """A template renders its translation with the same params: a name lost or misspelt would show the Chinese."""
    wrong = [f"{msgid} → {text}" for msgid, text in _translated().items()
             if _placeholders(msgid) is not None and _placeholders(msgid) != _placeholders(text)]
    assert wrong == []


def test_every_stored_code_has_a_label():
    assert {key: str(value) for key, value in i18n.ROLE_LABELS.items()} == ROLES
    assert {key: str(value) for key, value in i18n.SEX_LABELS.items()} == SEX_CODES
    assert set(i18n.CLOSE_REASON_LABELS) == set(CLOSE_REASONS)
    assert {key: str(value) for key, value in i18n.CLOSE_REASON_LABELS.items()} == CLOSE_REASONS
