"""#11.14: control characters in a search never reach the database (SQLite cuts a LIKE pattern at NUL)."""

from __future__ import annotations

from archiveprint.locations.queries import locate
from archiveprint.register.queries import classify_query, find_residents


def test_issue_11_14_control_characters_are_no_part_of_a_query() -> None:
    assert classify_query("\x00") == ("empty", "")
    assert classify_query("\x00\x1b\x7f\x85") == ("empty", "")
    assert classify_query("张\x00三丰") == ("name", "张三丰")
    assert classify_query("zsf\x00") == ("initials", "zsf")
    assert classify_query("130123100201\x0000001") == ("code", "13012310020100001")


def test_issue_11_14_a_nul_query_finds_nobody_in_search_and_locate(session, create_household, create_resident) -> None:
    home = create_household()
    create_resident(home, name="张三丰")
    create_resident(home, name="李秀英", sex="2", relation_to_head="配偶")
    assert find_residents(session, "\x00") == []
    assert find_residents(session, "%\x00") == []
    assert locate(session, "\x00") == []
    assert [m.name for m in find_residents(session, "张\x00")] == ["张三丰"]
    assert [len(loc.matched) for loc in locate(session, "张\x00")] == [1]
