"""Archive-room pages through the real login, CSRF and database: map, shelf, locate, folder actions, re-layout, pick
list, layout upload, and the location shown in the register's search results (issue #5)."""

from __future__ import annotations

import html
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from archiveprint.accounts.models import AuditEntry
from archiveprint.locations.models import FolderMovement, FolderPosition
from archiveprint.locations.queries import find_places
from archiveprint.locations.services import apply_layout, shelve_village
from archiveprint.register import services
from archiveprint.register.codes import folder_code
from archiveprint.register.models import Household, Resident
from tests.conftest import ACTOR
from tests.locations.conftest import SMALL_LAYOUT, T0, small_layout
from tests.pdfcheck import page_texts
from tests.web.conftest import csrf_token, seed_people

FIRST = "一号库房 1列 A面 1层"


@pytest.fixture
def room(committed_db):
    """The web test register (东村 2 households, 西村 1) on the small layout, both villages shelved."""
    people = seed_people(committed_db)
    with committed_db.transaction() as session:
        apply_layout(session, small_layout(), actor=ACTOR, now=T0)
        for minute, code in enumerate(("201", "202"), start=1):
            shelve_village(session, services.find_village(session, code), actor=ACTOR,
                           now=T0 + timedelta(minutes=minute))
    return people


def folder_of(database, household_id: int) -> str:
    with database.reader() as session:
        household = session.get(Household, household_id)
        return folder_code(household.village.full_code, household.number).value


def place_of(database, household_id: int):
    with database.reader() as session:
        return find_places(session, [household_id])[household_id]


def audits(database, action: str) -> list[AuditEntry]:
    with database.reader() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def text(response) -> str:
    return response.get_data(as_text=True)


def flashes(page: str) -> list[str]:
    return re.findall(r'<p class="flash flash-\w+">([^<]*)</p>', page)


# --- access ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/locations/", "/locations/shelves/K1-M-1-A-1", "/locations/locate?q=zsf",
                                 "/locations/picklist", "/locations/relayout", "/locations/layout"])
def test_every_location_page_needs_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_a_doctor_sees_the_map_and_locates_but_cannot_change_anything(client, auth, room, committed_db):
    auth.login("doctor")
    assert client.get("/locations/").status_code == 200
    page = client.get("/locations/locate?q=zsf")
    assert page.status_code == 200
    assert "移到新位置" not in text(page)
    assert client.get("/locations/relayout").status_code == 403
    assert client.get("/locations/layout").status_code == 403
    response = client.post(f"/locations/folders/{room.household}/move",
                           data={"to": "K1-M-2-B-3#1", "csrf_token": csrf_token(page)})
    assert response.status_code == 403
    assert place_of(committed_db, room.household).address == f"{FIRST} 第1位"


def test_a_post_without_the_csrf_token_is_refused(client, auth, room, committed_db):
    auth.login("clerk")
    response = client.post(f"/locations/folders/{room.household}/move", data={"to": "K1-M-2-B-3#1"})
    assert response.status_code == 400
    assert "页面已过期" in text(response)
    assert place_of(committed_db, room.household).address == f"{FIRST} 第1位"


# --- map and shelf -------------------------------------------------------------------------------------------------

def test_the_map_shows_rooms_shelves_by_fill_and_each_villages_room_left(client, auth, room):
    auth.login("viewer")
    page = text(client.get("/locations/"))
    assert "一号库房" in page and "二号库房" in page
    first = re.search(r'<td class="cell fill-(\w+)"><a href="/locations/shelves/K1-M-1-A-1"[^>]*title="([^"]+)"', page)
    assert first and first.group(1) == "ok"  # 2 of 4 positions used
    assert "2/4" in first.group(2) and FIRST in first.group(2)
    empty = re.search(r'<td class="cell fill-(\w+)"><a href="/locations/shelves/K1-M-2-B-3"', page)
    assert empty and empty.group(1) == "empty"
    row = re.search(r'<tr data-village="201">(.*?)</tr>', page, re.S)
    assert row and "东村" in row.group(1) and "再有" in row.group(1)


def test_the_map_without_a_layout_says_so(client, auth, committed_db):
    seed_people(committed_db)
    auth.login("admin")
    page = text(client.get("/locations/"))
    assert "尚未载入库房布局" in page and "/locations/layout" in page
    shelve_all = client.get("/locations/shelve-all", follow_redirects=True)  # issue #10.9, #10.11: no command advice
    messages = flashes(text(shelve_all))
    assert "尚未载入库房布局。" in messages and "archiveprint" not in "".join(messages)


def test_a_shelf_lists_its_folders_in_position_order_and_is_audited(client, auth, room, committed_db):
    auth.login("doctor")
    response = client.get("/locations/shelves/K1-M-1-A-1")
    assert response.status_code == 200
    page = text(response)
    rows = re.findall(r'<tr class="state-(\w+)">\s*<td class="num">(\d+)</td>', page)
    assert rows == [("on_shelf", "1"), ("on_shelf", "2")]
    assert page.index("张三丰") < page.index("&lt;b&gt;王&lt;/b&gt;")  # household order, names escaped
    assert "<b>王</b>" not in page
    assert f'/households/{room.household}"' in page
    assert "130123-100-201-F00001-" in page  # shelf label range
    viewed = {a.subject_id for a in audits(committed_db, "view") if a.subject_type == "household"}
    assert str(room.household) in viewed
    assert client.get("/locations/shelves/NOPE").status_code == 404


# --- locate ----------------------------------------------------------------------------------------------------

def test_locate_shows_address_status_members_history_and_audits_the_view(client, auth, room, committed_db):
    auth.login("clerk")
    response = client.get("/locations/locate?q=zsf")
    page = text(response)
    assert f"{FIRST} 第1位" in page
    assert re.search(r'id="status">在架<', page)
    for name in ("张三丰", "李秀英", "张伟"):
        assert name in page
    assert "上架" in page and ACTOR in page  # history and who touched it
    rows = [a for a in audits(committed_db, "view") if a.subject_id == str(room.household)]
    assert rows and rows[-1].detail.startswith("locate")


def test_locate_on_a_date_before_shelving_says_not_shelved_yet(client, auth, room):
    auth.login("clerk")
    page = text(client.get("/locations/locate?q=zsf&on=2026-11-01"))
    assert re.search(r'id="on-date-result">2026-11-01：尚未上架', page)
    page = text(client.get("/locations/locate?q=zsf&on=2026-11-30"))
    assert re.search(rf'id="on-date-result">2026-11-30：{FIRST} 第1位', page)
    response = client.get("/locations/locate?q=zsf&on=11/30")
    assert response.status_code == 400 and "日期应写成" in text(response)


def test_locate_lists_several_folders_and_from_the_household_page(client, auth, room, committed_db):
    with committed_db.transaction() as session:
        other = services.create_household(session, services.find_village(session, "202"), head_name="张三",
                                          actor=ACTOR)
        services.register_resident(session, other, name="张三", sex="1", relation_to_head="户主", actor=ACTOR)
    auth.login("clerk")
    page = text(client.get("/locations/locate?q=张三"))
    assert "找到 2 袋" in page and "未上架" in page
    searched = audits(committed_db, "search")
    assert {a.subject_id for a in searched} >= {str(room.household), str(other.id)}
    page = text(client.get(f"/locations/locate?household={room.household}"))
    assert f"{FIRST} 第1位" in page
    assert client.get("/locations/locate?household=999999").status_code == 404


def test_search_results_and_household_page_show_the_folder_location(client, auth, room):
    auth.login("doctor")
    page = text(client.get("/?q=zsf"))
    assert f"{FIRST} 第1位" in page and "/locations/locate?q=" in page
    page = text(client.get(f"/households/{room.household}"))
    assert f"{FIRST} 第1位" in page and f"/locations/locate?household={room.household}" in page


# --- folder actions --------------------------------------------------------------------------------------------

def _action_page(client, household_id: int):
    page = client.get(f"/locations/locate?household={household_id}")
    version = re.search(r'id="version" name="version" type="hidden" value="(\d+)"', text(page))
    return page, version.group(1) if version else ""


def test_move_then_a_stale_form_is_refused_with_a_chinese_message(client, auth, room, committed_db):
    auth.login("clerk")
    page, version = _action_page(client, room.household)
    token = csrf_token(page)
    response = client.post(f"/locations/folders/{room.household}/move",
                           data={"to": "一号库房 2列 B面 3层 第2位", "reason": "整理", "version": version,
                                 "csrf_token": token}, follow_redirects=True)
    assert "已移到 一号库房 2列 B面 3层 第2位" in flashes(text(response))
    assert place_of(committed_db, room.household).address == "一号库房 2列 B面 3层 第2位"
    stale = client.post(f"/locations/folders/{room.household}/move",
                        data={"to": "K1-M-2-B-3#3", "version": version, "csrf_token": token}, follow_redirects=True)
    assert any("刚被别人改过" in message for message in flashes(text(stale)))
    assert place_of(committed_db, room.household).address == "一号库房 2列 B面 3层 第2位"
    with committed_db.reader() as session:
        kinds = list(session.scalars(select(FolderMovement.kind).where(FolderMovement.household_id == room.household)
                                     .order_by(FolderMovement.seq)))
    assert kinds == ["shelve", "move"]


def test_moving_onto_a_taken_position_names_the_folder_there(client, auth, room, committed_db):
    auth.login("clerk")
    page, version = _action_page(client, room.household)
    response = client.post(f"/locations/folders/{room.household}/move",
                           data={"to": "K1-M-1-A-1#2", "version": version, "csrf_token": csrf_token(page)},
                           follow_redirects=True)
    assert any("该位置已有档案袋 130123-100-201-F00002" in m for m in flashes(text(response)))
    response = client.post(f"/locations/folders/{room.household}/move",
                           data={"to": "", "version": version, "csrf_token": csrf_token(page)},
                           follow_redirects=True)
    assert "请填写新位置" in flashes(text(response))


def test_close_then_reopen_with_reason_brings_folder_and_members_back(client, auth, room, committed_db):
    auth.login("clerk")
    page = client.get(f"/locations/folders/{room.household}/close")
    response = client.post(f"/locations/folders/{room.household}/close",
                           data={"reason": "moved", "on": "2026-11-20", "note": "全户迁往石家庄",
                                 "residents": [room.head, room.spouse, room.son], "csrf_token": csrf_token(page)},
                           follow_redirects=True)
    assert any("档案袋已移入结案区：二号库房 结案柜 1柜 1层 第1位" in m for m in flashes(text(response)))
    with committed_db.reader() as session:
        statuses = set(session.scalars(select(Resident.status).where(Resident.household_id == room.household)))
    assert statuses == {"closed"}
    assert place_of(committed_db, room.household).status.code == "closed"

    page, version = _action_page(client, room.household)
    assert "从结案区取回" in text(page) and 'name="residents"' in text(page)
    refused = client.post(f"/locations/folders/{room.household}/reopen",
                          data={"reopen-reason": " ", "reopen-version": version, "csrf_token": csrf_token(page)},
                          follow_redirects=True)
    assert "请写明原因" in flashes(text(refused))
    response = client.post(f"/locations/folders/{room.household}/reopen",
                           data={"reopen-reason": "登记错误", "reopen-version": version,
                                 "residents": [room.head, room.spouse, room.son], "csrf_token": csrf_token(page)},
                           follow_redirects=True)
    assert any(m.startswith(f"已从结案区取回：{FIRST} 第1位") for m in flashes(text(response)))
    with committed_db.reader() as session:
        statuses = set(session.scalars(select(Resident.status).where(Resident.household_id == room.household)))
        reasons = list(session.scalars(select(FolderMovement.reason).where(
            FolderMovement.household_id == room.household).order_by(FolderMovement.seq)))
    assert statuses == {"active"}
    assert reasons[-2:] == ["迁出 2026-11-20 全户迁往石家庄", "登记错误"]


def test_issue_10_2_close_asks_first_with_nothing_chosen(client, auth, room, committed_db):
    auth.login("clerk")
    page = client.get(f"/locations/folders/{room.household}/close")
    html = text(page)
    assert page.status_code == 200
    assert "张三丰" in html and "李秀英" in html and "张伟" in html and "130123-100-201-F00001" in html
    assert " checked" not in html and "selected" not in html  # no member and no reason chosen for the clerk
    assert 'value="2026-11-25"' in html  # the date defaults to today


def test_issue_10_2_close_without_a_reason_or_a_member_is_refused(client, auth, room, committed_db):
    auth.login("clerk")
    page = client.get(f"/locations/folders/{room.household}/close")
    refused = client.post(f"/locations/folders/{room.household}/close",
                          data={"reason": "", "on": "2026-11-25", "residents": [room.son],
                                "csrf_token": csrf_token(page)})
    assert refused.status_code == 400
    assert "请选择结案原因" in text(refused)
    assert re.search(rf'"{room.son}" id="member-\d"\s+aria-label="结案 张伟" checked', text(refused))  # kept
    nobody = client.post(f"/locations/folders/{room.household}/close",
                         data={"reason": "death", "on": "2026-11-25", "csrf_token": csrf_token(page)})
    assert nobody.status_code == 400 and "请勾选要结案的成员" in text(nobody)
    later = client.post(f"/locations/folders/{room.household}/close",
                        data={"reason": "death", "on": "2026-12-01", "residents": [room.son],
                              "csrf_token": csrf_token(page)})
    assert later.status_code == 400 and "结案日期不能晚于今天" in text(later)
    with committed_db.reader() as session:
        statuses = set(session.scalars(select(Resident.status).where(Resident.household_id == room.household)))
    assert statuses == {"active"}


def test_issue_10_2_closing_one_member_keeps_the_folder_and_records_reason_and_date(client, auth, room,
                                                                                    committed_db):
    from archiveprint.eventlog import Event

    auth.login("clerk")
    page = client.get(f"/locations/folders/{room.household}/close")
    form = {"reason": "death", "on": "2026-11-20", "residents": [room.son], "csrf_token": csrf_token(page)}
    response = client.post(f"/locations/folders/{room.household}/close", data=form)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/households/{room.household}"
    again = client.post(f"/locations/folders/{room.household}/close", data=form, follow_redirects=True)  # double click
    assert "已结案：张伟。该户还有成员在档，档案袋留在原位。" in flashes(text(again))
    with committed_db.reader() as session:
        statuses = dict(session.execute(select(Resident.name, Resident.status)
                                        .where(Resident.household_id == room.household)).all())
        events = [e.data for e in session.scalars(select(Event).where(Event.kind == "resident.closed",
                                                                      Event.entity_id == room.son))]
    assert statuses == {"张三丰": "active", "李秀英": "active", "张伟": "closed"}
    assert events == [{"reason": "death", "on": "2026-11-20", "note": ""}]
    assert place_of(committed_db, room.household).address == f"{FIRST} 第1位"
    history = text(client.get(f"/residents/{room.son}"))
    assert "结案" in history and "死亡" in history and "2026-11-20" in history


def test_issue_10_2_a_household_closed_in_the_register_can_send_its_folder_to_the_closed_area(client, auth, room,
                                                                                             committed_db):
    auth.login("clerk")
    with committed_db.reader() as session:
        west = session.scalar(select(Resident.household_id).where(Resident.archive_code == room.closed))
    page = client.get(f"/locations/folders/{west}/close")
    assert "该户成员都已结案。" in text(page) and 'name="residents"' not in text(page)
    response = client.post(f"/locations/folders/{west}/close",
                           data={"folder_only": "1", "csrf_token": csrf_token(page)}, follow_redirects=True)
    assert "档案袋已移入结案区：二号库房 结案柜 1柜 1层 第1位" in flashes(text(response))
    assert place_of(committed_db, west).status.code == "closed"


def test_issue_10_11_who_handled_the_folder_in_words_not_event_names(client, auth, room):
    auth.login("clerk")
    page = text(client.get("/locations/locate?q=zsf"))
    touches = re.search(r'<ul class="touches">(.*?)</ul>', page, re.S)
    assert touches and "household.created" not in touches.group(1)
    assert "建户" in touches.group(1) and "上架" in touches.group(1)
    client.set_cookie("lang", "en")
    page = text(client.get("/locations/locate?q=zsf"))
    touches = re.search(r'<ul class="touches">(.*?)</ul>', page, re.S)
    assert touches and "Household created" in touches.group(1) and "建户" not in touches.group(1)


def test_issue_10_13_shelf_addresses_in_english_keep_the_sites_own_names(client, auth, room):
    auth.login("clerk")
    client.set_cookie("lang", "en")
    page = text(client.get("/locations/locate?q=zsf"))
    assert re.search(r'id="address">一号库房 Column 1 Side A Shelf 1 Position 1\b', page)
    shelf = text(client.get("/locations/shelves/K1-M-1-A-1"))
    assert "<h1>一号库房 Column 1 Side A Shelf 1</h1>" in shelf
    client.set_cookie("lang", "zh_CN")
    assert f'id="address">{FIRST} 第1位' in text(client.get("/locations/locate?q=zsf"))


def test_issue_10_12_an_unshelved_folder_says_so_once_in_search_results(client, auth, committed_db):
    seed_people(committed_db)
    with committed_db.transaction() as session:
        apply_layout(session, small_layout(), actor=ACTOR, now=T0)
    auth.login("clerk")
    page = text(client.get("/?q=zsf"))
    place = re.search(r'<td class="place">(.*?)</td>', page, re.S)
    assert place and re.sub(r"<[^>]+>|\s+", "", place.group(1)) == "未上架"
    household = text(client.get("/households/1"))
    shown = re.search(r'<dd[^>]*class="place"[^>]*>(.*?)</dd>', household, re.S)
    assert shown and re.sub(r"<[^>]+>|\s+", "", shown.group(1)) == "未上架"


def test_report_missing_then_found(client, auth, room, committed_db):
    auth.login("admin")
    page, version = _action_page(client, room.household)
    client.post(f"/locations/folders/{room.household}/missing",
                data={"missing-reason": "调档时不在架上", "missing-version": version, "csrf_token": csrf_token(page)})
    assert place_of(committed_db, room.household).state == "missing"
    page, version = _action_page(client, room.household)
    assert "已找到并放回原位" in text(page)
    response = client.post(f"/locations/folders/{room.household}/found",
                           data={"version": version, "csrf_token": csrf_token(page)}, follow_redirects=True)
    assert "已归位" in flashes(text(response))
    assert place_of(committed_db, room.household).state == "on_shelf"


# --- re-layout ---------------------------------------------------------------------------------------------------

@pytest.fixture
def crowded(room, committed_db):
    """Three new 东村 households that no longer fit before 西村's run: a re-layout must move 西村's folder."""
    with committed_db.transaction() as session:
        east = services.find_village(session, "201")
        for name in ("孙甲", "孙乙", "孙丙"):
            household = services.create_household(session, east, head_name=name, actor=ACTOR)
            services.register_resident(session, household, name=name, sex="1", relation_to_head="户主", actor=ACTOR)
    return room


def test_relayout_preview_then_apply_records_every_move(client, auth, crowded, committed_db):
    auth.login("clerk")
    response = client.get("/locations/relayout?village=201&reserve=0")
    assert response.status_code == 200
    page = text(response)
    moved = int(re.search(r'id="moved">(\d+)<', page).group(1))
    placed = int(re.search(r'id="placed">(\d+)<', page).group(1))
    assert placed == 3 and moved >= 1
    assert "赵老汉" in page  # 西村's folder is in the move list
    printed = client.get("/locations/relayout/print?village=201&reserve=0")
    assert printed.status_code == 200 and "重新排架挪动清单" in text(printed) and "赵老汉" in text(printed)
    assert audits(committed_db, "print")
    fingerprint = re.search(r'name="fingerprint" type="hidden" value="(\w+)"', page).group(1)
    response = client.post("/locations/relayout/apply", data={"village": "201", "reserve": "0",
                                                              "fingerprint": fingerprint,
                                                              "csrf_token": csrf_token(page)},
                           follow_redirects=True)
    assert any(m.startswith(f"已重新排架：挪动 {moved} 袋，新上架 3 袋") for m in flashes(text(response)))
    with committed_db.reader() as session:
        assert session.scalar(select(FolderMovement.id).where(FolderMovement.kind == "relayout")) is not None
        assert len(list(session.scalars(select(FolderPosition)))) == 6


def test_relayout_refuses_a_plan_that_changed_since_the_preview(client, auth, crowded, committed_db):
    auth.login("clerk")
    page = text(client.get("/locations/relayout?village=201"))
    response = client.post("/locations/relayout/apply", data={"village": "201", "reserve": "",
                                                              "fingerprint": "0000000000000000",
                                                              "csrf_token": csrf_token(page)},
                           follow_redirects=True)
    assert any("排架方案在预览之后有了变化" in m for m in flashes(text(response)))
    with committed_db.reader() as session:
        assert session.scalar(select(FolderMovement.id).where(FolderMovement.kind == "relayout")) is None
    assert client.get("/locations/relayout?village=201&reserve=abc").status_code == 400
    assert "没有" in text(client.get("/locations/relayout?village=999"))


# --- pick list ---------------------------------------------------------------------------------------------------

def test_picklist_sorts_by_walking_order_takes_names_and_prints_a_pdf(client, auth, room, committed_db):
    auth.login("doctor")
    page = client.get("/locations/picklist")
    codes = "\n".join([room.closed, "张三丰", "F999", room.odd_name])
    response = client.post("/locations/picklist", data={"codes": codes, "csrf_token": csrf_token(page)})
    assert response.status_code == 200
    body = text(response)
    order = [body.index(name) for name in ("张三丰", "&lt;b&gt;王&lt;/b&gt;", "赵老汉")]
    assert order == sorted(order)
    assert "F999" in body  # not found, listed with its reason
    pdf = client.post("/locations/picklist.pdf", data={"codes": codes, "csrf_token": csrf_token(page)})
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    (first,) = page_texts(pdf.data)
    assert "调档单" in first and "赵老汉" in first
    printed = {a.subject_id for a in audits(committed_db, "print")}
    assert str(room.household) in printed
    empty = client.post("/locations/picklist", data={"codes": "", "csrf_token": csrf_token(page)})
    assert empty.status_code == 400 and "请至少填写一个" in text(empty)


# --- storage layout ------------------------------------------------------------------------------------------------

def _upload(client, content: bytes, name: str = "room.yaml"):
    page = client.get("/locations/layout")
    return client.post("/locations/layout/preview", data={"file": (io.BytesIO(content), name),
                                                          "csrf_token": csrf_token(page)},
                       content_type="multipart/form-data")


def test_layout_preview_lists_blocked_folders_and_offers_no_apply(client, auth, room):
    auth.login("admin")
    smaller = SMALL_LAYOUT.replace("列 1-2 × 面 A,B × 层 1-3", "列 2 × 面 A,B × 层 1-3")
    response = _upload(client, smaller.encode())
    assert response.status_code == 200
    page = text(response)
    assert re.search(r'id="removed">6<', page)
    assert "不能应用" in page and "张三丰" in page and 'id="layout-apply"' not in page


def test_layout_errors_are_chinese_and_a_good_layout_is_applied(client, auth, room, committed_db):
    auth.login("clerk")
    response = _upload(client, b"rooms: [unclosed")
    assert response.status_code == 400 and "不是有效的 YAML" in text(response)
    assert "Traceback" not in text(response)
    response = _upload(client, "名字: 测试".encode("gbk"))
    assert response.status_code == 400 and "UTF-8" in text(response)
    bigger = SMALL_LAYOUT.replace("列 1-2 × 面 A,B × 层 1-3", "列 1-3 × 面 A,B × 层 1-3")
    preview = _upload(client, bigger.encode())
    assert re.search(r'id="added">6<', text(preview))
    response = client.post("/locations/layout/apply", data={
        "text": html.unescape(re.search(r'<textarea[^>]* name="text"[^>]*>\r?\n?(.*?)</textarea>', text(preview),
                                        re.S).group(1)),
        "source": "room.yaml", "csrf_token": csrf_token(preview)}, follow_redirects=True)
    assert any(m.startswith("已载入库房布局") for m in flashes(text(response)))
    with committed_db.reader() as session:
        from archiveprint.locations.queries import list_shelves

        assert len(list_shelves(session)) == 18
