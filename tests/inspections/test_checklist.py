"""The checklist file: the shipped one, a site's file over it key by key, and mistakes named by file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from archiveprint.configfile import ConfigError
from archiveprint.errors import InvalidValue, NotFound
from archiveprint.inspections.checklist import SITE_FILE, Checklist, load_checklist


def test_the_shipped_checklist(tmp_path: Path):
    checklist = load_checklist(tmp_path)
    assert [item.key for item in checklist.items] == ["cover", "basic_info", "population_forms", "dynamic",
                                                      "signatures"]
    assert checklist.dynamic.key == "dynamic" and not checklist.dynamic.qualified
    assert (checklist.window_months, checklist.unavailable) == (12, "fail")
    assert checklist.item("签字齐全").key == "signatures"
    with pytest.raises(NotFound, match="cover（封面项目填写完整）"):
        checklist.item("nope")
    assert Checklist.from_json(checklist.as_json()) == checklist


def test_a_site_replaces_switches_off_and_adds_items(tmp_path: Path):
    (tmp_path / SITE_FILE).write_text(
        "name: 某县健康档案督导抽查表\nunavailable: exclude\nwindow_months: 6\nitems:\n"
        "  - {key: signatures, enabled: false}\n"
        "  - {key: cover, title: 封面填写完整（含照片）}\n"
        "  - {key: consistency, title: 档案与本人情况一致, help: 入户或电话核实}\n", encoding="utf-8")
    checklist = load_checklist(tmp_path)
    assert checklist.name == "某县健康档案督导抽查表"
    assert (checklist.window_months, checklist.unavailable) == (6, "exclude")
    assert [item.key for item in checklist.items] == ["cover", "basic_info", "population_forms", "dynamic",
                                                      "consistency"]
    assert checklist.items[0].title == "封面填写完整（含照片）"


@pytest.mark.parametrize(("text", "expected"), [
    ("items:\n  - {key: cover, title: 封面, kind: perhaps}\n", "第2行"),
    ("items:\n  - key: cover\n    title: 封面\n    colour: red\n", "colour"),
    ("window_months: 0\n", "应不小于 1"),
    ("items:\n  - {key: extra, title: 另一项动态, kind: dynamic}\n", "有且只有一项"),
    ("items:\n  - {key: new_one}\n", "缺少 title"),
])
def test_a_mistake_in_the_site_file_names_where(tmp_path: Path, text: str, expected: str):
    (tmp_path / SITE_FILE).write_text(text, encoding="utf-8")
    with pytest.raises((ConfigError, InvalidValue)) as raised:
        load_checklist(tmp_path)
    assert expected in str(raised.value)
    if isinstance(raised.value, ConfigError):
        assert SITE_FILE in str(raised.value)
