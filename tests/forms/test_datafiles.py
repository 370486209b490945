"""The small mappings beside the forms (aliases.yaml, by_sex.yaml) are read like every data file: a mistake is named
by file, line and value, in Chinese."""

from __future__ import annotations

from pathlib import Path

import pytest

from archiveprint import resources
from archiveprint.configfile import ConfigError
from archiveprint.forms import aliases, by_sex
from archiveprint.forms.datafiles import read_mapping


@pytest.fixture
def forms_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "forms").mkdir()
    monkeypatch.setattr(resources, "template_dir", lambda: tmp_path)
    return tmp_path / "forms"


def test_the_shipped_files_read_as_before():
    assert aliases.load_aliases()["1岁以内儿童健康检查记录表"] == "child_1_8m"
    assert by_sex.load_groups() == {"growth_chart": {"1": "growth_chart_boys", "2": "growth_chart_girls"}}


@pytest.mark.parametrize(("name", "schema", "text", "line", "value"), [
    ("aliases.yaml", aliases._ALIASES, "老名字: child_1_8m\n另一个: [a, b]\n", 2, ["a", "b"]),
    ("aliases.yaml", aliases._ALIASES, "- child_1_8m\n", 1, ["child_1_8m"]),
    ("by_sex.yaml", by_sex._GROUPS, "growth_chart: growth_chart_boys\n", 1, "growth_chart_boys"),
])
def test_a_wrong_shape_is_refused_with_its_file_line_and_value(forms_dir: Path, name, schema, text, line, value):
    (forms_dir / name).write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        read_mapping(name, schema, what="表单别名")
    assert caught.value.row == line and caught.value.value == value
    assert f"表单别名 {name}：格式应为：" in str(caught.value)


def test_no_file_or_an_empty_one_is_an_empty_mapping(forms_dir: Path):
    assert read_mapping("aliases.yaml", aliases._ALIASES, what="表单别名") == {}
    (forms_dir / "aliases.yaml").write_text("# nothing yet\n", encoding="utf-8")
    assert read_mapping("aliases.yaml", aliases._ALIASES, what="表单别名") == {}
