"""Name keys for search: pinyin initials (张三丰 → zsf) with surname readings, and sex/relation vocabularies."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from functools import lru_cache

from archiveprint.errors import N_

# Surnames whose reading differs from the character's common reading (单 shàn, not dān).
SURNAME_INITIALS = {
    "单": "s", "曾": "z", "解": "x", "仇": "q", "区": "o", "朴": "p", "查": "z", "盖": "g", "乐": "y",
    "缪": "m", "尉": "y", "秘": "b", "华": "h", "任": "r", "沈": "s", "万": "w", "翟": "z", "覃": "q",
    "长": "c", "种": "c", "员": "y", "繁": "p", "句": "g", "阚": "k", "柏": "b", "卜": "b", "折": "s",
}
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文",
                     "司徒", "夏侯", "轩辕", "令狐", "端木", "独孤", "南宫", "西门", "百里", "呼延")

SEX_CODES = {"0": N_("未知的性别"), "1": N_("男"), "2": N_("女"), "9": N_("未说明的性别")}
SEX_WORDS = {"男": "1", "女": "2", "未知": "0", "未知的性别": "0", "未说明": "9", "未说明的性别": "9",
             "1": "1", "2": "2", "0": "0", "9": "9", "m": "1", "f": "2", "male": "1", "female": "2"}

HEAD_RELATIONS = frozenset({"户主", "本人", "本人(户主)", "本人（户主）", "01", "02"})
RELATION_ORDER = ("户主", "配偶", "父亲", "母亲", "子", "女", "儿子", "女儿", "儿媳", "女婿", "孙子", "孙女",
                  "外孙子", "外孙女", "兄弟姐妹", "祖父母", "其他")

DEFAULT_TAGS = ("老年人", "高血压", "2型糖尿病", "严重精神障碍", "肺结核", "孕产妇", "0-6岁儿童", "残疾人",
                "冠心病", "脑卒中", "慢阻肺", "贫困人口", "计生特殊家庭")
TAG_SYNONYMS = {"糖尿病": "2型糖尿病", "Ⅱ型糖尿病": "2型糖尿病", "II型糖尿病": "2型糖尿病", "65岁以上老年人": "老年人",
                "老人": "老年人", "精神病": "严重精神障碍", "重性精神疾病": "严重精神障碍", "结核病": "肺结核",
                "0~6岁儿童": "0-6岁儿童", "0～6岁儿童": "0-6岁儿童", "儿童": "0-6岁儿童", "孕产妇人群": "孕产妇"}

_TAG_SEPARATORS = re.compile(r"[,，、;；/|\s]+")


@lru_cache(maxsize=1)
def _first_letters() -> Callable[[str], list[str]]:
    """pypinyin's reading of one character, its first letter. Loaded without pypinyin's phrase dictionary: only
    single characters are looked up here and it has no single-character entries (checked for all 41,923
    characters of pypinyin 0.55: the same initial with and without it); loading it cost 0.1–0.2 s and 44 MB."""
    saved = os.environ.get("PYPINYIN_NO_PHRASES")
    os.environ["PYPINYIN_NO_PHRASES"] = "1"  # read once, when pypinyin is first imported
    try:
        from pypinyin import Style, lazy_pinyin  # lazy: only once PYPINYIN_NO_PHRASES is set (and it takes ~0.3 s)
    finally:
        if saved is None:
            del os.environ["PYPINYIN_NO_PHRASES"]
        else:
            os.environ["PYPINYIN_NO_PHRASES"] = saved
    return lambda ch: lazy_pinyin(ch, style=Style.FIRST_LETTER, errors="ignore")


@lru_cache(maxsize=4096)
def _char_initial(ch: str) -> str:
    if ch.isascii():
        return ch.lower() if ch.isalnum() else ""
    letters = _first_letters()(ch)
    return letters[0][:1].lower() if letters else ""


@lru_cache(maxsize=65536)  # names repeat across a township's register; an import asks for each one
def pinyin_initials(name: str) -> str:
    """Initials of a Chinese name for quick search; unknown characters (rare Ext-B) contribute nothing."""
    name = name.replace("·", "").replace(" ", "")
    if not name:
        return ""
    if name.startswith(COMPOUND_SURNAMES):
        head = "".join(_char_initial(ch) for ch in name[:2])
        rest = name[2:]
    else:
        head = SURNAME_INITIALS.get(name[0]) or _char_initial(name[0])
        rest = name[1:]
    return head + "".join(_char_initial(ch) for ch in rest)


def normalize_sex(raw: str) -> str | None:
    return SEX_WORDS.get(raw.strip().lower())


def is_head(relation: str) -> bool:
    return relation.strip() in HEAD_RELATIONS


def split_tags(raw: str) -> list[str]:
    """人群分类 cells list several groups separated by commas, 、, ；, / or spaces."""
    return list(_split_tags(raw))


@lru_cache(maxsize=4096)  # a township's cells repeat a few dozen combinations
def _split_tags(raw: str) -> tuple[str, ...]:
    parts = [part.strip() for part in _TAG_SEPARATORS.split(raw) if part.strip()]
    seen: list[str] = []
    for part in parts:
        tag = TAG_SYNONYMS.get(part, part)
        if tag not in seen:
            seen.append(tag)
    return tuple(seen)
