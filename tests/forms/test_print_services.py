"""Printing forms for scopes of residents from the real register (SQLite and PostgreSQL)."""

from __future__ import annotations

import zipfile
from datetime import date

import pytest
from sqlalchemy import func, select

from archiveprint.accounts.models import AuditEntry
from archiveprint.forms.services import MissingGlyphs, PrintOptions, Scope, audit_print, print_forms, resolve_scope
from archiveprint.register import services
from tests.conftest import ACTOR, TODAY
from tests.pdfcheck import compact, page_texts, read


@pytest.fixture
def family(session, create_household, create_resident):
    """Two households in village 201, one in 202; the head is registered last to test head-first order."""
    first = create_household("201", head_name="王大山")
    create_resident(first, name="王小河", relation_to_head="子", sex="1", birth_date=date(1990, 1, 2))
    create_resident(first, name="王大山", relation_to_head="户主", phone="13900000001")
    second = create_household("201", head_name="李𠮷")
    create_resident(second, name="李𠮷", relation_to_head="户主", sex="2", birth_date=date(1948, 5, 6))
    other = create_household("202", head_name="赵堃")
    create_resident(other, name="赵堃", relation_to_head="户主")
    return first


def names_in_order(pdf) -> list[str]:
    found = []
    for text in page_texts(pdf):
        for name in ("王大山", "王小河", "李𠮷", "赵堃"):
            if name in compact(text):
                found.append(name)
    return found


def test_a_village_prints_in_filing_order_with_head_first(session, family, tmp_path):
    result = print_forms(session, "personal_info", resolve_scope(session, village="东村"), tmp_path / "v.pdf",
                         today=TODAY)
    audit_print(session, result, actor=ACTOR)
    assert (result.pages, result.residents) == (3, 3)
    assert names_in_order(tmp_path / "v.pdf") == ["王大山", "王小河", "李𠮷"]
    assert session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "print")) == 3


def test_household_scope_by_village_and_number(session, family, tmp_path):
    scope = resolve_scope(session, household=f"201-{family.number}")
    result = print_forms(session, "personal_info", scope, tmp_path / "h.pdf", today=TODAY)
    assert result.residents == 2


def test_tag_scope_and_list_of_codes(session, family, tmp_path):
    head = services.get_resident(session, "13012310020100002")
    services.set_tags(session, head, ["高血压"], actor=ACTOR)
    result = print_forms(session, "personal_info", resolve_scope(session, tag="高血压"), tmp_path / "t.pdf",
                         today=TODAY)
    assert result.residents == 1
    codes = ("130123-100-202-00001", "13012310020100003")
    result = print_forms(session, "personal_info", resolve_scope(session, codes=codes), tmp_path / "c.pdf",
                         today=TODAY)
    assert names_in_order(tmp_path / "c.pdf") == ["李𠮷", "赵堃"]


def test_duplex_starts_each_resident_on_a_fresh_sheet_and_separators_mark_households(session, family, tmp_path):
    result = print_forms(session, "personal_info", resolve_scope(session, village="201"), tmp_path / "d.pdf",
                         options=PrintOptions(duplex=True, separators=True), today=TODAY)
    texts = [compact(t) for t in page_texts(tmp_path / "d.pdf")]
    # household 1: separator, blank back, head's form, blank, child's form, blank; household 2: four more
    assert result.pages == len(texts) == 10
    assert texts[0].startswith("分户页") and "王大山" in texts[0]
    assert texts[1] == texts[3] == texts[5] == ""
    assert "王大山" in texts[2] and "王小河" in texts[4] and texts[6].startswith("分户页")


def test_blank_copies_carry_no_personal_data_and_no_refiling_mark(session, family, tmp_path):
    result = print_forms(session, "personal_info", Scope(), tmp_path / "b.pdf",
                         options=PrintOptions(blank=True, copies=3), today=TODAY)
    assert result.pages == 3
    assert all("王" not in t and "130123-100" not in t for t in page_texts(tmp_path / "b.pdf"))


def test_large_jobs_split_into_zipped_parts(session, family, tmp_path):
    result = print_forms(session, "personal_info", resolve_scope(session, village="201"), tmp_path / "s.pdf",
                         options=PrintOptions(split_pages=2), today=TODAY)
    archive, *parts = result.outputs
    assert [len(read(p).pages) for p in parts] == [2, 1]
    assert sorted(zipfile.ZipFile(archive).namelist()) == ["s-001.pdf", "s-002.pdf"]


def test_a_character_the_font_lacks_is_reported_before_printing(session, create_household, create_resident,
                                                                 tmp_path):
    create_resident(create_household("201", head_name="张\U00031350"), name="张\U00031350")
    with pytest.raises(MissingGlyphs, match="字体缺少"):
        print_forms(session, "personal_info", resolve_scope(session, village="201"), tmp_path / "m.pdf",
                    today=TODAY)
    assert not (tmp_path / "m.pdf").exists()
