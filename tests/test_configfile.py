"""Configuration files (issue 16): YAML read with lines, pydantic errors in Chinese with file, line, field and value,
and every shipped file loads."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import Field, StrictInt, model_validator

from archiveprint.configfile import ConfigError, Invalid, Schema, parse_yaml, worded
from archiveprint.forms.catalog import load_catalog
from archiveprint.labels.services import label_kinds, label_stocks
from archiveprint.lending.rules import load_rules, shipped_rules_file
from archiveprint.locations.layout import load_layout
from archiveprint.resources import storage_layout_dir


class Shelf(Schema):
    code: str
    capacity: Annotated[StrictInt, worded("{path} 应为整数（袋）")] = 1
    levels: list[StrictInt] = Field(default_factory=list)

    @model_validator(mode="after")
    def _in_use(self) -> Shelf:
        if self.code == "X":
            raise Invalid("代码“{code}”已停用", {"code": self.code}, at=("code",), value=self.code)
        return self


class Room(Schema):
    name: str
    shelves: list[Shelf]


def test_issue_16_every_mistake_names_the_file_line_field_and_value():
    text = "name: 一号库房\nshelves:\n  - code: A\n  - code: B\n    levels: [1, two]\n"
    with pytest.raises(ConfigError) as error:
        parse_yaml(text, what="库房", source="k1.yaml").validate(Room)
    assert (error.value.row, error.value.field, error.value.value) == (5, "levels", "two")
    assert str(error.value) == "第5行，「levels」，值“two”：库房 k1.yaml：应为整数"


@pytest.mark.parametrize(("text", "line", "field", "message"), [
    ("shelves: []\n", 1, "name", "缺少字段"),
    ("name: 一号\nshelves:\n  - {code: A, capacity: many}\n", 3, "capacity", "shelves.capacity 应为整数（袋）"),
    ("name: 一号\nshelves:\n  - code: A\n    colour: red\n", 4, "colour",
     "shelves 中有未知的键：colour；可用：capacity、code、levels"),
    ("name: 一号\nshelf: []\n", 2, "shelf", "有未知的键：shelf；可用：name、shelves"),
    ("name: 一号\nshelves: {code: A}\n", 2, "shelves", "应为列表"),
    ("name: 一号\nshelves: [A]\n", 2, "shelves", "应为键值映射"),
    ("- 一号\n", 1, "文件", "应为键值映射"),
    ("name: 一号\nname: 二号\nshelves: []\n", 2, "name", "键重复出现"),
    ("name: 一号\nshelves: [\n", 3, "文件", "不是有效的 YAML"),
    ("name: 一号\nshelves: " + "[" * 13 + "]" * 13 + "\n", 2, "文件", "嵌套层数太多（最多 12 层）"),
    ("name: 一号\n? [a]\n: b\nshelves: []\n", 2, "文件", "键必须是文字"),
    ("name: 一号\n~: b\nshelves: []\n", 2, "文件", "键必须是文字"),
])
def test_issue_16_pydantic_errors_in_our_words(text, line, field, message):
    with pytest.raises(ConfigError) as error:
        parse_yaml(text, what="库房", source="k1.yaml").validate(Room)
    assert error.value.message.startswith("库房 k1.yaml：") and message in error.value.message
    assert (error.value.row, error.value.field) == (line, field)


def test_issue_16_our_own_rule_keeps_its_message_and_points_below_the_value():
    with pytest.raises(ConfigError) as error:
        parse_yaml("name: 一号\nshelves:\n  - code: X\n", what="库房", source="k1.yaml").validate(Room)
    assert str(error.value) == "第3行，「code」，值“X”：库房 k1.yaml：代码“X”已停用"
    english = {"{what} {file}：": "{what} {file}: ", "库房": "Room", "代码“{code}”已停用": "code {code} is retired",
               "第{row}行": "line {row}", "「{field}」": "{field}", "值“{value}”": "value {value}", "，": ", ",
               "{where}：{message}": "{where}: {message}"}
    assert error.value.render(lambda text: english.get(text, text)) == \
        "line 3, code, value X: Room k1.yaml: code X is retired"


def test_issue_16_keys_are_text_and_aliases_are_shared_not_copied():
    document = parse_yaml("options: {1: 男, 2: 女}\nbase: &b {x: 1}\nother: *b\n", what="表单", source="f.yaml")
    assert document.data == {"options": {"1": "男", "2": "女"}, "base": {"x": 1}, "other": {"x": 1}}
    assert document.data["base"] is document.data["other"]
    assert document.where(("options", "2")) == ("f.yaml", 1) and document.where(("other", "x")) == ("f.yaml", 3)


def test_issue_16_every_shipped_configuration_file_loads():
    rules = load_rules([shipped_rules_file()])
    assert set(rules.by_kind) == {"staff", "village_doctor", "external"} and rules.calendar.closed_weekdays == (5, 6)
    layouts = sorted(storage_layout_dir().glob("*.yaml"))
    assert layouts and all(load_layout(path).shelves for path in layouts)
    assert len(label_stocks()) >= 11 and {"a4-3x8", "roll-50x30"} <= set(label_stocks())
    assert {"folder", "spine", "resident", "card", "shelf", "calibration"} <= set(label_kinds())
    catalog = load_catalog()
    assert len(catalog.forms) >= 12 and all(form.fields for form in catalog.forms.values())
    assert "new_record" in catalog.sets
