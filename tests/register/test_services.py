"""Register services on both databases: township, villages, codes, residents, events."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from archiveprint.errors import Conflict, InvalidValue, NotConfigured
from archiveprint.eventlog import Event
from archiveprint.register import queries, services
from archiveprint.register.codes import parse_code
from tests.conftest import ACTOR


def test_township_must_be_configured_first(session):
    with pytest.raises(NotConfigured):
        services.get_township(session)


def test_codes_are_allocated_in_order_per_village(session, create_household, create_resident):
    east = create_household("201")
    west = create_household("202", head_name="李四")
    first = create_resident(east)
    second = create_resident(east, name="王五", relation_to_head="子")
    other = create_resident(west, name="李四")
    assert first.archive_code == "13012310020100001"
    assert second.archive_code == "13012310020100002"
    assert other.archive_code == "13012310020200001"


def test_given_code_is_reserved_so_the_counter_skips_it(session, create_household, create_resident):
    household = create_household("201")
    create_resident(household, code=parse_code("13012310020100007"))
    nxt = create_resident(household, name="王五", relation_to_head="子")
    assert nxt.archive_code == "13012310020100008"


def test_code_of_another_township_or_unknown_village_is_refused(session, create_household, create_resident):
    household = create_household("201")
    with pytest.raises(InvalidValue, match="不属于本乡镇"):
        create_resident(household, code=parse_code("13012320020100001"))
    with pytest.raises(InvalidValue, match="不一致"):
        create_resident(household, code=parse_code("13012310020200001"))


def test_duplicate_id_number_is_a_conflict(session, create_household, create_resident):
    create_resident(id_number="11010519491231002X")
    with pytest.raises(Conflict, match="身份证号"):
        create_resident(create_household(head_name="李四"), name="李四", id_number="11010519491231002X")


def test_every_change_writes_an_event_in_the_same_transaction(session, resident):
    services.update_resident(session, resident, {"phone": "13800000000"}, actor=ACTOR)
    services.close_resident(session, resident, "death", date(2026, 1, 2), actor=ACTOR)
    kinds = session.scalars(select(Event.kind).where(Event.entity_id == resident.archive_code)
                            .order_by(Event.id)).all()
    assert kinds == ["resident.registered", "resident.updated", "resident.closed"]
    update = session.scalar(select(Event).where(Event.kind == "resident.updated"))
    assert update.data["changes"] == {"phone": ["", "13800000000"]}


def test_events_are_append_only_in_the_database(session, resident):
    event_id = session.scalar(select(Event.id).limit(1))
    for statement in (f"UPDATE events SET actor = 'x' WHERE id = {event_id}",
                      f"DELETE FROM events WHERE id = {event_id}"):
        with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
            session.execute(text(statement))


def test_closed_record_is_kept_and_can_be_reopened_with_a_reason(session, resident):
    services.close_resident(session, resident, "moved", date(2026, 3, 1), note="迁往石家庄", actor=ACTOR)
    assert queries.find_residents(session, resident.archive_code)[0].status == "closed"
    with pytest.raises(InvalidValue):
        services.reopen_resident(session, resident, why=" ", actor=ACTOR)
    services.reopen_resident(session, resident, why="误操作", actor=ACTOR)
    assert resident.status == "active"


def test_moving_a_resident_between_households_is_an_event(session, create_household, resident):
    new = create_household("202", head_name="李四", address="西村2组")
    services.move_resident(session, resident, new, relation_to_head="配偶", actor=ACTOR)
    event = session.scalar(select(Event).where(Event.kind == "resident.moved"))
    assert event.data["to_household"] == new.id
    assert queries.find_residents(session, resident.archive_code)[0].household == new.id


@pytest.mark.parametrize("typed", ["13012310020100001", "130123-100-201-00001", "201-00001", "20100001",
                                   "张三丰", "三丰", "zsf", "ZS", "11010519491231002X", "11010519491231002x",
                                   "110105491231002", "13800138000"])
def test_find_by_everything_a_clerk_types(session, create_resident, typed):
    create_resident(id_number="11010519491231002X", phone="13800138000")
    matches = queries.find_residents(session, typed)
    assert [m.archive_code for m in matches] == ["13012310020100001"]
    assert matches[0].village_name == "东村"
    assert matches[0].id_number_masked == "1101**********002X"


def test_find_rare_characters_and_markup_as_plain_text(session, create_household, create_resident):
    create_resident(name="𠮷祥")
    create_resident(create_household(head_name="<b>王</b>"), name="<b>王</b>")
    assert [m.name for m in queries.find_residents(session, "𠮷")] == ["𠮷祥"]
    assert [m.name for m in queries.find_residents(session, "<b>")] == ["<b>王</b>"]
    assert queries.find_residents(session, "%") == []


def test_folder_code_round_trips_and_resolves_its_household(session, create_household, create_resident):
    from archiveprint.register.codes import folder_code, parse_folder_code

    household = create_household("201")
    member = create_resident(household)
    code = folder_code("130123100201", household.number)
    assert len(code.value) == 19 and code.value.startswith("F") and parse_folder_code(code.display) == code
    scanned = queries.resolve_scan(session, code.value)
    assert (scanned.household.id, scanned.resident, scanned.kind) == (household.id, None, "folder")
    assert [m.archive_code for m in queries.find_residents(session, code.display)] == [member.archive_code]
    by_resident = queries.resolve_scan(session, member.archive_code)
    assert (by_resident.household.id, by_resident.resident.id) == (household.id, member.id)


def test_refiling_barcode_of_a_form_page_opens_the_residents_folder(session, resident):
    from archiveprint.forms.stamp import refile_code

    scanned = queries.resolve_scan(session, refile_code(resident.archive_code, 2, 1))
    assert scanned.resident.id == resident.id


@pytest.mark.parametrize(("scanned", "message"), [
    ("F130123100201000170", "校验位错误"),  # one digit misread
    ("F130124100201000010", "不是本院"),  # another county (check digit valid)
    ("13012310020100099", "不在本院登记"),
    ("130123100201000010219", "表单条码校验位错误"),
    ("hello", "无法识别"),
])
def test_misread_foreign_and_unknown_codes_get_a_clear_message(session, resident, scanned, message):
    from archiveprint.errors import ArchiveprintError
    from archiveprint.pdf.barcodes import with_check

    if scanned.startswith("F130124"):
        scanned = "F" + with_check("13012410020100001")
    with pytest.raises(ArchiveprintError, match=message):
        queries.resolve_scan(session, scanned)
