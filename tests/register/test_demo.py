"""The seeded demo township: deterministic, valid codes and ID numbers, believable families, loads and exports."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from archiveprint.errors import Conflict, InvalidValue
from archiveprint.register import demo, queries
from archiveprint.register.codes import parse_code
from archiveprint.register.idcard import parse_id_number
from archiveprint.register.models import Household, Resident
from archiveprint.register.names import DEFAULT_TAGS, pinyin_initials
from tests.conftest import ACTOR

TODAY = date(2026, 11, 25)
NOT_GBK = re.compile("[𠮷䶮]")


@pytest.fixture(scope="module")
def synthetic() -> demo.SyntheticTownship:
    return demo.generate(today=TODAY)


@pytest.fixture(scope="module")
def people(synthetic: demo.SyntheticTownship) -> list[demo.SyntheticPerson]:
    return [person for household in synthetic.households for person in household.members]


def age(person: demo.SyntheticPerson) -> int:
    return demo.age_on(person.birth_date, TODAY)


# --- generation ---------------------------------------------------------------------------------------------

def test_same_seed_gives_the_same_township_and_another_seed_does_not():
    first = demo.generate(seed=7, villages=3, households_per_village=20, today=TODAY)
    assert first == demo.generate(seed=7, villages=3, households_per_village=20, today=TODAY)
    assert first != demo.generate(seed=8, villages=3, households_per_village=20, today=TODAY)


def test_default_township_has_committees_and_villages(synthetic):
    assert [v.code for v in synthetic.villages] == ["001", "002", "201", "202", "203", "204"]
    assert all(v.name.endswith("社区") for v in synthetic.villages[:2])
    assert all(v.name.endswith("村") and not v.name.endswith("村村") for v in synthetic.villages[2:])
    assert len(synthetic.households) == 6 * 60
    assert synthetic.resident_count == sum(len(h.members) for h in synthetic.households)
    assert 2.5 <= synthetic.resident_count / len(synthetic.households) <= 4.0  # rural households average ~3


def test_every_id_number_is_valid_unique_and_matches_the_person(synthetic, people):
    for person in people:
        number = parse_id_number(person.id_number, today=TODAY)
        assert number.value == person.id_number
        assert number.value[:6] == synthetic.county_code
        assert number.birth_date == person.birth_date
        assert number.sex == person.sex
    assert len({p.id_number for p in people}) == len(people)


def test_archive_codes_are_valid_unique_and_follow_registration_order(synthetic, people):
    by_village: dict[str, list[tuple[int, date]]] = {}
    for household in synthetic.households:
        for person in household.members:
            code = parse_code(person.archive_code)
            assert (code.county, code.township, code.village) == (
                synthetic.county_code, synthetic.township_code, household.village_code)
            by_village.setdefault(code.village, []).append((code.serial, person.registered_on))
    assert len({p.archive_code for p in people}) == len(people)
    for entries in by_village.values():
        entries.sort()
        assert [serial for serial, _ in entries] == list(range(1, len(entries) + 1))
        dates = [registered for _, registered in entries]
        assert dates == sorted(dates)


def test_every_household_has_exactly_one_head_listed_first(synthetic):
    numbers = [h.external_no for h in synthetic.households]
    assert len(set(numbers)) == len(numbers)
    assert len({h.address for h in synthetic.households}) == len(synthetic.households)
    for household in synthetic.households:
        heads = [p for p in household.members if p.relation_to_head == "户主"]
        assert len(heads) == 1
        assert household.members[0] is heads[0]
        assert household.head_name == heads[0].name
        assert 1 <= len(household.members) <= 7
        prefix = synthetic.county_code + synthetic.township_code + household.village_code
        assert re.fullmatch(prefix + r"\d{4}", household.external_no)
        village = next(v for v in synthetic.villages if v.code == household.village_code)
        assert re.fullmatch(re.escape(village.name) + r"(\d+组|\w+[路街])\d+号", household.address)


def test_family_ages_and_sexes_are_plausible(synthetic):
    for household in synthetic.households:
        head = household.members[0]
        for person in household.members[1:]:
            relation = person.relation_to_head
            if relation == "配偶":
                assert person.sex != head.sex
                assert abs(age(person) - age(head)) <= 15
            elif relation in ("儿子", "女儿"):
                assert age(head) - age(person) >= 20
                assert person.sex == ("1" if relation == "儿子" else "2")
            elif relation in ("父亲", "母亲"):
                assert age(person) - age(head) >= 22
            elif relation in ("孙子", "孙女"):
                assert age(head) - age(person) >= 40
            else:
                assert relation == "儿媳"
                assert person.sex == "2"


def test_tags_fit_the_age_and_sex(people):
    for person in people:
        years, tags = age(person), set(person.tags)
        assert tags <= set(DEFAULT_TAGS)
        assert ("老年人" in tags) == (years >= 65)
        assert ("0-6岁儿童" in tags) == (years <= 6)
        if "孕产妇" in tags:
            assert person.sex == "2" and 20 <= years <= 40
        if tags & {"高血压", "2型糖尿病"}:
            assert years >= 18
        if tags & {"严重精神障碍", "肺结核"}:
            assert years >= 15
        assert person.birth_date <= person.registered_on <= TODAY


def test_maternal_and_tb_residents_have_the_dates_their_schedules_count_from(people):
    """预产期 for every 孕产妇 (a few delivered, on their baby's birthday or lately), 结核治疗开始日期 within six
    months for every 肺结核 patient, and no such date for anyone else."""
    mothers = [p for p in people if "孕产妇" in p.tags]
    patients = [p for p in people if "肺结核" in p.tags]
    assert mothers and patients
    for person in people:
        if "孕产妇" not in person.tags:
            assert person.due_date is None and person.delivery_date is None
        if "肺结核" not in person.tags:
            assert person.tb_treatment_start is None
    for mother in mothers:
        assert mother.due_date is not None
        if mother.delivery_date is None:  # pregnant: due within the next 40 weeks
            assert TODAY < mother.due_date <= TODAY + timedelta(days=280)
        else:
            assert TODAY - timedelta(days=90) < mother.delivery_date <= TODAY
            assert abs((mother.due_date - mother.delivery_date).days) <= 14
    delivered = [m for m in mothers if m.delivery_date]
    assert 0 < len(delivered) < len(mothers)
    for patient in patients:
        assert TODAY - timedelta(days=183) <= patient.tb_treatment_start <= TODAY


def test_the_service_dates_draw_from_their_own_generator():
    """The same seed and today give the same dates; every other value is what the seed gave before there were
    dates (pinned by a digest of the export's other columns)."""
    first = demo.generate(seed=5, villages=2, households_per_village=40, today=TODAY)
    again = demo.generate(seed=5, villages=2, households_per_village=40, today=TODAY)
    assert [p.service_dates() for h in first.households for p in h.members] == \
        [p.service_dates() for h in again.households for p in h.members]
    before_dates = [row[:13] for row in demo.export_rows(first)]  # the columns there were before the dates
    digest = hashlib.sha256(json.dumps(before_dates, ensure_ascii=False).encode()).hexdigest()
    assert digest == "8d52ddefb2a4133640b4f3df3dc8d2258150f3ccd81a59d20da7dc73b9fa8e58"  # as generated at fb3ca55


def test_chronic_disease_is_commoner_with_age(people):
    def share(tag: str, low: int, high: int) -> float:
        group = [p for p in people if low <= age(p) <= high]
        return sum(tag in p.tags for p in group) / len(group)

    for tag in ("高血压", "2型糖尿病"):
        assert share(tag, 18, 44) < share(tag, 45, 64) < share(tag, 65, 120)
    assert 0.30 <= share("高血压", 65, 120) <= 0.60


def test_names_phones_and_dates_look_real(people):
    names = [p.name for p in people]
    assert any(name.startswith(("欧阳", "司马", "上官", "诸葛")) for name in names)
    assert any(re.search("[堃犇喆昇䶮𠮷]", name) for name in names)
    assert any("·" in name for name in names)
    assert Counter(name[0] for name in names).most_common(1)[0][1] < len(names) / 3
    for person in people:
        assert person.phone == "" or re.fullmatch(r"1[3-9]\d{9}", person.phone)
        assert person.sex in ("1", "2")


def test_rare_false_keeps_every_name_inside_gbk():
    township = demo.generate(villages=10, households_per_village=100, today=TODAY, rare=False)
    for household in township.households:
        for person in household.members:
            person.name.encode("gbk")


def test_bad_arguments_are_refused():
    with pytest.raises(InvalidValue):
        demo.generate(villages=0, today=TODAY)
    with pytest.raises(InvalidValue):
        demo.generate(households_per_village=0, today=TODAY)


# --- loading into the database ------------------------------------------------------------------------------

def test_load_writes_villages_households_and_residents(session):
    township = demo.generate(seed=11, villages=3, households_per_village=8, today=TODAY)
    added: list[int] = []
    summary = demo.load(session, township, actor=ACTOR, progress=added.append)

    assert summary == (f"已载入 演示乡镇 正定县柏棠镇（130123100）：3 个村，24 户，{township.resident_count} 人")
    assert sum(added) == township.resident_count and len(added) == 24
    counts = {village.code: (households, residents) for village, households, residents
              in queries.list_villages(session)}
    assert counts == {v.code: (8, sum(len(h.members) for h in township.households if h.village_code == v.code))
                      for v in township.villages}
    assert session.scalar(select(func.count(Resident.id))) == township.resident_count
    assert session.scalar(select(func.count(Household.id))) == 24

    household = township.households[-1]
    person = household.members[-1]
    match, = queries.find_residents(session, person.archive_code)
    assert (match.name, match.birth_date, match.household_head) == (person.name, person.birth_date,
                                                                    household.head_name)
    stored = session.scalar(select(Resident).where(Resident.archive_code == person.archive_code))
    assert stored.tag_names == person.tags
    assert stored.household.external_no == household.external_no


def test_loaded_residents_are_found_by_pinyin_initials(session):
    township = demo.generate(seed=12, villages=2, households_per_village=6, today=TODAY)
    demo.load(session, township, actor=ACTOR)
    person = next(p for h in township.households for p in h.members if not NOT_GBK.search(p.name))
    initials = pinyin_initials(person.name)
    found = queries.find_residents(session, initials, limit=1000)
    assert person.archive_code in {m.archive_code for m in found}
    assert all(pinyin_initials(m.name).startswith(initials) for m in found)


def test_loading_twice_is_refused(session):
    township = demo.generate(seed=13, villages=2, households_per_village=2, today=TODAY)
    demo.load(session, township, actor=ACTOR)
    with pytest.raises(Conflict):
        demo.load(session, township, actor=ACTOR)


# --- exports ------------------------------------------------------------------------------------------------

def test_xlsx_export_has_a_title_row_the_exact_headers_and_every_resident(synthetic, tmp_path: Path):
    from openpyxl import load_workbook

    path = tmp_path / "花名册.xlsx"
    assert demo.write_export(synthetic, path) == synthetic.resident_count

    workbook = load_workbook(path, read_only=True)
    rows = list(workbook.active.iter_rows(values_only=True))
    workbook.close()
    assert rows[0][0] == "柏棠镇居民健康档案花名册"
    assert rows[1] == demo.EXPORT_HEADERS
    assert len(rows) - 2 == synthetic.resident_count
    first = synthetic.households[0].members[0]
    assert rows[2] == (first.archive_code, first.name, "男" if first.sex == "1" else "女",
                       first.birth_date.isoformat(), first.id_number, "户主", first.name,
                       synthetic.households[0].external_no, synthetic.households[0].address, "东关社区",
                       first.phone, first.registered_on.isoformat(), "、".join(first.tags) or None, None, None, None)
    assert [list(map(lambda v: v or "", row)) for row in rows[2:]] == demo.export_rows(synthetic)
    merged = load_workbook(path).active.merged_cells.ranges
    assert [str(r) for r in merged] == ["A1:P1"]


def test_gbk_csv_export_of_a_gbk_safe_township_round_trips(tmp_path: Path):
    township = demo.generate(villages=3, households_per_village=30, today=TODAY, rare=False)
    path = tmp_path / "export.csv"
    assert demo.write_export(township, path, encoding="gbk") == township.resident_count

    with path.open(encoding="gbk", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][0] == "柏棠镇居民健康档案花名册" and set(rows[0][1:]) == {""}
    assert tuple(rows[1]) == demo.EXPORT_HEADERS
    assert rows[2:] == demo.export_rows(township)
    assert all(re.fullmatch(r"\d{17}", row[0]) and row[2] in ("男", "女") for row in rows[2:])


def test_gbk_csv_export_refuses_names_outside_gbk_and_leaves_no_file(tmp_path: Path):
    township = demo.generate(villages=6, households_per_village=100, today=TODAY)
    assert any(NOT_GBK.search(p.name) for h in township.households for p in h.members)
    path = tmp_path / "export.csv"
    with pytest.raises(InvalidValue, match="gb18030") as raised:
        demo.write_export(township, path, encoding="gbk")
    assert raised.value.row is not None and raised.value.row > 2
    assert not path.exists()

    assert demo.write_export(township, path, encoding="gb18030") == township.resident_count
    with path.open(encoding="gb18030", newline="") as handle:
        names = {row[1] for row in csv.reader(handle)}
    assert any(NOT_GBK.search(name) for name in names)


def test_utf8_csv_starts_with_a_bom_for_excel(synthetic, tmp_path: Path):
    path = tmp_path / "export.csv"
    demo.write_export(synthetic, path)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")


def test_other_suffixes_are_refused(synthetic, tmp_path: Path):
    with pytest.raises(InvalidValue):
        demo.write_export(synthetic, tmp_path / "export.xls")
