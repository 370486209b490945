"""The English catalogue: every string translated, the compiled .mo matching the .po, every stored code labelled."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from archiveprint.accounts.roles import ROLES
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


def test_every_interface_string_has_an_english_translation():
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    keywords = {**DEFAULT_KEYWORDS, "_l": None}
    used = {message for _file, _line, message, _comments, _context in
            extract_from_dir(str(ROOT), method_map, options_map, keywords=keywords)}
    with PO.open("rb") as source:
        translated = {key: value for key, value in _messages(read_po(source)).items() if value}
    missing = sorted(str(message) for message in used if message not in translated)
    assert missing == [], "extract and translate (see babel.cfg): " + ", ".join(missing)


def test_every_stored_code_has_a_label():
    assert {key: str(value) for key, value in i18n.ROLE_LABELS.items()} == ROLES
    assert {key: str(value) for key, value in i18n.SEX_LABELS.items()} == SEX_CODES
    assert set(i18n.CLOSE_REASON_LABELS) == set(CLOSE_REASONS)
    assert {key: str(value) for key, value in i18n.CLOSE_REASON_LABELS.items()} == CLOSE_REASONS
