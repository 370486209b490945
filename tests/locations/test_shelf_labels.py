"""Shelf labels printed from the storage layout: one per shelf, its address, village and folder range."""

from __future__ import annotations

import pytest

from archiveprint.errors import InvalidValue
from archiveprint.labels.services import LabelScope, label_stocks, print_labels, resolve_label_scope
from archiveprint.locations import services
from archiveprint.register.services import find_village
from tests.conftest import ACTOR
from tests.labels.scan import decode_sheet
from tests.pdfcheck import page_texts

STOCK = label_stocks()["a4-2x7"]


def compact(text: str) -> str:
    return "".join(text.split())


def test_a_villages_shelf_labels_come_from_its_run(session, room, households, clock, tmp_path):
    households("201", 6)  # 6 × 1.25 reserve → two shelves of 4
    done = services.shelve_village(session, find_village(session, "201"), actor=ACTOR, now=clock())
    assert done.run == ("K1-M-1-A-1", "K1-M-1-A-2")
    result = print_labels(session, "shelf", "a4-2x7", LabelScope(village="201"), tmp_path / "run.pdf")
    assert result.labels == 2
    text = compact(page_texts(tmp_path / "run.pdf")[0])
    assert "201-F00001—201-F00004" in text and "201-F00005—201-F00006" in text
    assert "4袋" in text and "2袋" in text and "一号库房" in text
    decode_sheet((tmp_path / "run.pdf").read_bytes(), STOCK, [["K1-M-1-A-1", "K1-M-1-A-2"] + [None] * 12],
                 name="shelf-run", dpis=(300,))


def test_named_shelves_use_the_layout_and_unknown_codes_print_as_typed(session, room, households, clock, tmp_path):
    households("201", 2)
    services.shelve_village(session, find_village(session, "201"), actor=ACTOR, now=clock())
    with pytest.raises(InvalidValue, match="架位代码") as refused:
        resolve_label_scope(session, locations=["柜子-9"])
    assert refused.value.value == "柜子-9"
    scope = resolve_label_scope(session, locations=["K1-M-1-A-1", "CAB-9"])
    result = print_labels(session, "shelf", "a4-2x7", scope, tmp_path / "named.pdf")
    assert result.labels == 2
    text = compact(page_texts(tmp_path / "named.pdf")[0])
    assert "201-F00001—201-F00002" in text and "CAB-9" in text
