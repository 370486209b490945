"""Domain messages (#16.12): Chinese as written for the CLI, translated with their params filled for the web."""

from __future__ import annotations

import json
import pickle

from archiveprint.errors import N_, ArchiveprintError, InvalidValue, Message, joined

ENGLISH = {
    "村(居)委会代码 {code} 已登记为“{name}”": "Village code {code} is already registered as “{name}”",
    "该档案袋现在{state}，不能再取出": "The folder is {state} and cannot be taken out",
    "已取出": "out",
    "村代码": "Village code",
    "第{row}行": "Row {row}",
    "「{field}」": "{field}",
    "值“{value}”": "value “{value}”",
    "{where}：{message}": "{where}: {message}",
    "，": ", ",
    "结案原因应为：{reasons}": "The closing reason must be one of: {reasons}",
    "死亡": "Death",
    "、": ", ",
}


def english(text: str) -> str:
    return ENGLISH.get(text, text)


def test_render_fills_the_params_into_the_translated_template():
    error = InvalidValue("村(居)委会代码 {code} 已登记为“{name}”", params={"code": "201", "name": "东村"})
    assert str(error) == error.message == "村(居)委会代码 201 已登记为“东村”"
    assert error.render(english) == "Village code 201 is already registered as “东村”"
    assert error.translated(english) == "Village code 201 is already registered as “东村”"


def test_render_translates_row_field_and_value_around_the_message():
    error = InvalidValue("村(居)委会代码 {code} 已登记为“{name}”", params={"code": "201", "name": "东村"}, row=3,
                         field="村代码", value="201")
    assert str(error) == "第3行，「村代码」，值“201”：村(居)委会代码 201 已登记为“东村”"
    assert error.render(english) == "Row 3, Village code, value “201”: Village code 201 is already registered as “东村”"


def test_a_marked_word_in_the_params_is_translated_with_the_message():
    error = ArchiveprintError("该档案袋现在{state}，不能再取出", params={"state": N_("已取出")})
    assert str(error) == "该档案袋现在已取出，不能再取出"
    assert error.render(english) == "The folder is out and cannot be taken out"


def test_an_untranslated_message_is_shown_as_written():
    error = ArchiveprintError("没有译文的消息 {n}", params={"n": 2})
    assert error.render(english) == "没有译文的消息 2"


def test_a_message_is_its_chinese_text_and_survives_json_and_pickle():
    message = Message("村(居)委会代码 {code} 已登记为“{name}”", {"code": "201", "name": N_("已取出")})
    assert message == "村(居)委会代码 201 已登记为“已取出”"
    assert json.loads(json.dumps({"reason": message})) == {"reason": "村(居)委会代码 201 已登记为“已取出”"}
    stored = Message.from_values(json.loads(json.dumps(message.as_values())))
    assert stored == message and stored.render(english) == "Village code 201 is already registered as “out”"
    copied = pickle.loads(pickle.dumps(message))
    assert copied == message and copied.render(english) == stored.render(english)
    assert ArchiveprintError(message).render(english) == stored.render(english)  # a message raised as it is


def test_a_list_of_marked_words_is_joined_as_written_and_translated_item_by_item():
    reasons = joined([N_("死亡"), "迁出"])
    error = InvalidValue("结案原因应为：{reasons}", params={"reasons": reasons})
    assert reasons == "死亡、迁出" and str(error) == "结案原因应为：死亡、迁出"
    assert error.render(english) == "The closing reason must be one of: Death, 迁出"
    assert joined([]) == "" and joined([]).render(english) == ""
