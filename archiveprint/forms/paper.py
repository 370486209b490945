"""Paper sizes of the forms: a set prints on one paper, so a set whose forms mix sizes is refused."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from archiveprint.errors import N_, InvalidValue

if TYPE_CHECKING:
    from archiveprint.forms.catalog import FormDef

PAPER_NAMES = {"A4": N_("A4纸"), "card": N_("卡片纸（85.6×54毫米）")}  # form.yaml `size:` → what the clerk loads


def paper_name(size: str) -> str:
    return PAPER_NAMES.get(size, size)


def check_one_paper(set_name: str, forms: Iterable[FormDef]) -> None:
    """Refuse a set whose forms need different paper: an office printer stops for (or shrinks) a card page in the
    middle of an A4 stream, so the card prints in its own set (信息卡（A4裁切） or 信息卡（卡片纸））."""
    by_size: dict[str, list[str]] = {}
    for form in forms:
        by_size.setdefault(form.size, []).append(form.title)
    if len(by_size) > 1:
        papers = "；".join(f"{paper_name(size)}：{'、'.join(titles)}" for size, titles in by_size.items())
        raise InvalidValue("套组“{name}”的表单用了不同的纸张（{papers}），一个套组只能用一种纸张打印，"
                           "请把不同纸张的表单分到不同的套组",
                           params={"name": set_name, "papers": papers}, field="套组")
