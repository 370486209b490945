"""Inventory (盘点) and handover (移交) pages on both databases: permissions, CSRF, start, report, scanner-file upload,
close with mark-missing, the signed record and the three-copy handover list, each with its audit rows (issue #5)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from archiveprint.accounts.models import AuditEntry
from archiveprint.clock import local_time
from archiveprint.db import Database, utcnow
from archiveprint.lending.queries import find_borrower
from archiveprint.lending.rules import load_rules, shipped_rules_file
from archiveprint.lending.services import check_out
from archiveprint.locations.models import FolderPosition, Handover, Inventory, InventoryScan
from archiveprint.register.codes import folder_code
from tests.conftest import ACTOR
from tests.lending.conftest import PASSWORD, build_archive
from tests.pdfcheck import compact, page_texts
from tests.web.conftest import csrf_token

RANGE = ("K1-M-1-A-2", "K1-M-1-A-3")  # 201's households 1-4 on A-2, 5-6 on A-3; 202's on K1-M-1-B-1


@pytest.fixture
def archive(committed_db: Database) -> dict[str, list[str]]:
    """The lending archive, committed, with 201-3 lent to 钱医生: folder codes and display codes by village."""
    with committed_db.transaction() as session:
        made = build_archive(session, now=utcnow() - timedelta(days=1))
        codes = {key: [folder_code(h.village.full_code, h.number) for h in made[key]] for key in ("homes", "west")}
        check_out(session, codes["homes"][2].value, borrower=find_borrower(session, "doctor1"), purpose="随访",
                  rules=load_rules([shipped_rules_file()]), actor=ACTOR, now=utcnow() - timedelta(hours=1))
        return {"home": [c.value for c in codes["homes"]], "home_disp": [c.display for c in codes["homes"]],
                "west": [c.value for c in codes["west"]], "west_disp": [c.display for c in codes["west"]]}


def sign_in(client, username: str = "clerk1") -> None:
    page = client.get("/login")
    client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf_token(page)})


def token(client, path: str = "/inventory/new") -> str:
    return csrf_token(client.get(path))


def audits(database: Database, action: str, detail: str) -> int:
    with database.reader() as session:
        return session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == action,
                                                                      AuditEntry.detail == detail)) or 0


def start(client, **fields: str):
    data = {"scope": "range", "first": RANGE[0], "last": RANGE[1], "counters": "孙管理员、钱医生",
            "supervisor": "周院长", **fields}
    return client.post("/inventory/new", data={**data, "csrf_token": token(client)})


def api_scan(client, inventory_id: int, code: str, shelf: str = "", client_id: str | None = None):
    scan_page = client.get("/lending/scan").get_data(as_text=True)
    header = scan_page.split('name="csrf-token" content="')[1].split('"')[0]
    body = {"code": code, "shelf": shelf, "scanned_at": utcnow().isoformat() + "Z"}
    if client_id:
        body["client_id"] = client_id
    return client.post(f"/api/v1/inventories/{inventory_id}/scans", json=body, headers={"X-CSRFToken": header})


def only_inventory(database: Database) -> Inventory:
    with database.reader() as session:
        found = session.scalar(select(Inventory))
        assert found is not None
        return found


def test_pages_need_sign_in_and_manage_locations_supervisors_read_reports(client, auth, archive, committed_db):
    assert "/login" in client.get("/inventory/").headers["Location"]
    assert "/login" in client.get("/handover/").headers["Location"]
    sign_in(client)
    assert start(client).status_code == 303
    number = only_inventory(committed_db).id
    nav = client.get("/").get_data(as_text=True)
    assert 'href="/inventory/"' in nav and 'href="/handover/"' in nav
    auth.logout()
    sign_in(client, "doctor1")
    for path in ("/inventory/", "/inventory/new", f"/inventory/{number}", f"/inventory/{number}/record.pdf",
                 "/handover/", "/handover/new"):
        assert client.get(path).status_code == 403, path
    assert 'href="/inventory/"' not in client.get("/").get_data(as_text=True)
    auth.logout()
    auth.login("viewer")  # a supervisor reads the report, but does not count or close
    assert client.get("/inventory/").status_code == 200
    assert client.get(f"/inventory/{number}").status_code == 200
    assert "close-form" not in client.get(f"/inventory/{number}").get_data(as_text=True)
    assert client.get("/inventory/new").status_code == 403
    page_token = token(client, "/inventory/")
    assert client.post(f"/inventory/{number}/close", data={"confirm": "1", "csrf_token": page_token}).status_code == 403
    assert client.get("/inventory/999").status_code == 404
    assert client.get("/handover/YJ-2026-0099").status_code == 404


def test_a_post_without_csrf_changes_nothing(client, archive, committed_db):
    sign_in(client)
    response = client.post("/inventory/new", data={"scope": "range", "first": RANGE[0], "last": RANGE[1],
                                                   "counters": "孙管理员"})
    assert response.status_code == 400
    with committed_db.reader() as session:
        assert session.scalar(select(func.count(Inventory.id))) == 0


def test_start_form_offers_shelves_and_refuses_a_backward_range_in_chinese(client, archive, committed_db):
    sign_in(client)
    form = client.get("/inventory/new").get_data(as_text=True)
    assert '<option value="K1-M-1-A-2">' in form and '<option value="201">' in form
    backward = start(client, first=RANGE[1], last=RANGE[0])
    assert backward.status_code == 400
    assert "起始架位 K1-M-1-A-3 在结束架位 K1-M-1-A-2 之后" in backward.get_data(as_text=True)
    nobody = start(client, counters=" ")
    assert nobody.status_code == 400 and "请写明盘点人" in nobody.get_data(as_text=True)
    by_village = start(client, scope="village", village="202", first="", last="")
    assert by_village.status_code == 303
    page = client.get(by_village.headers["Location"]).get_data(as_text=True)
    assert "PD-2026-0001" in page and "村 202 西村" in page and "进行中" in page


def test_scans_show_up_in_the_report_with_every_category_and_each_household_is_audited(client, archive,
                                                                                          committed_db):
    sign_in(client)
    count = start(client)
    inventory_id = only_inventory(committed_db).id
    page = client.get(count.headers["Location"]).get_data(as_text=True)
    assert f'href="/lending/scan?inventory={inventory_id}"' in page  # continue scanning at the station
    station = client.get(f"/lending/scan?inventory={inventory_id}").get_data(as_text=True)
    assert f'data-start-inventory="{inventory_id}"' in station and 'data-mode="inventory"' in station
    home, west = archive["home"], archive["west"]
    assert api_scan(client, inventory_id, home[0], "K1-M-1-A-3").json["category"] == "misplaced"
    assert api_scan(client, inventory_id, home[1], "K1-M-1-A-2").json["category"] == "found"
    assert api_scan(client, inventory_id, home[1], "K1-M-1-A-2").json["category"] == "twice"
    assert api_scan(client, inventory_id, west[0], "K1-M-1-A-3").json["category"] == "out_of_range"
    assert api_scan(client, inventory_id, "F999", "K1-M-1-A-3").json["category"] == "unknown"
    report = client.get(f"/inventory/{inventory_id}").get_data(as_text=True)
    for heading in ("错架（放错位置）", "重复扫描", "不属本次盘点范围", "无法识别或无此档案", "借出或取出（不算缺失）",
                    "缺失（未扫到）"):
        assert heading in report
    assert "在 K1-M-1-A-3 扫到，应在 一号库房 1列 A面 2层 第1位" in report  # misplaced, with its home address
    assert "借出给 钱医生" in report and "F999" in report
    assert archive["home_disp"][5] in report and archive["home_disp"][3] in report  # not read: missing
    counts = dict(re.findall(r'data-category="(\w+)"><span class="n">(\d+)', report))
    assert counts == {"found": "1", "recovered": "0", "misplaced": "1", "out_of_range": "1", "closed": "0",
                      "lent": "1", "missing": "3", "unknown": "1", "twice": "1"}
    # every household a report names: 201's six when it opened, then those six and 202-1
    assert audits(committed_db, "view", "盘点 PD-2026-0001") == 6 + 7
    assert client.get("/inventory/").get_data(as_text=True).count("PD-2026-0001") == 1


def test_upload_is_all_or_nothing_by_line_and_a_second_upload_adds_nothing(client, archive, committed_db):
    sign_in(client)
    start(client)
    inventory_id = only_inventory(committed_db).id
    home = archive["home"]
    bad = f"K1-M-1-A-2\n{home[0]}\n{home[1]},K9-X-9\n{home[3]},,昨天\n".encode("gbk")
    answer = client.post(f"/inventory/{inventory_id}/upload", data={
        "csrf_token": token(client, f"/inventory/{inventory_id}"), "codes": (_file(bad), "扫描枪.txt")},
        content_type="multipart/form-data", follow_redirects=True)
    text = answer.get_data(as_text=True)
    assert "文件有错误，未导入任何扫描" in text and "第3行：没有这个架位“K9-X-9”" in text and "第4行" in text
    with committed_db.reader() as session:
        assert session.scalar(select(func.count(InventoryScan.id))) == 0
    good = f"K1-M-1-A-2\n{home[0]}\n{home[1]}\nK1-M-1-A-3\n{home[4]}\n".encode()
    for expected in ("已导入 扫描枪.txt：3 条扫描，2 个架位标签", "已导入过（内容相同），这次没有增加任何扫描"):
        answer = client.post(f"/inventory/{inventory_id}/upload", data={
            "csrf_token": token(client, f"/inventory/{inventory_id}"), "codes": (_file(good), "扫描枪.txt")},
            content_type="multipart/form-data", follow_redirects=True)
        assert expected in answer.get_data(as_text=True)
    with committed_db.reader() as session:
        assert session.scalar(select(func.count(InventoryScan.id))) == 3
    none = client.post(f"/inventory/{inventory_id}/upload", data={"csrf_token": token(client)},
                       follow_redirects=True)
    assert "请选择扫描枪导出的文件" in none.get_data(as_text=True)


@pytest.mark.parametrize(("site_zone", "stored"), [(None, datetime(2026, 3, 2, 1, 15)),
                                                   ("Asia/Kolkata", datetime(2026, 3, 2, 3, 45))],
                         ids=["shipped-Asia/Shanghai", "site-Asia/Kolkata"])
def test_a_scanner_file_time_is_stored_in_utc_and_shown_back_in_the_sites_time(client, app, archive, committed_db,
                                                                                site_zone, stored):
    if site_zone:  # the site's lending rules name the zone; the page and the upload both follow it
        instance = Path(app.instance_path)
        instance.mkdir(parents=True, exist_ok=True)
        (instance / "lending_rules.yaml").write_text(f"timezone: {site_zone}\n", encoding="utf-8")
    sign_in(client)
    start(client)
    inventory_id = only_inventory(committed_db).id
    target = f"/inventory/{inventory_id}"
    data = f"条码,架位,时间\n{archive['home'][0]},K1-M-1-A-2,2026-03-02 09:15\n".encode()
    answer = client.post(f"{target}/upload", data={"csrf_token": token(client, target),
                                                   "codes": (_file(data), "早班.csv")},
                         content_type="multipart/form-data", follow_redirects=True)
    assert "已导入 早班.csv：1 条扫描" in answer.get_data(as_text=True)
    with committed_db.reader() as session:
        assert session.scalar(select(InventoryScan.scanned_at)) == stored
    page = answer.get_data(as_text=True)
    latest = page.split('id="latest-scans"')[1].split("</section>")[0]
    assert "2026-03-02 09:15:00" in latest and archive["home_disp"][0] in latest and "在架（位置正确）" in latest
    with committed_db.reader() as session:  # the page's other times (|moment) follow the same zone
        started = session.scalar(select(Inventory.started_at))
    shown = local_time(started, site_zone or "Asia/Shanghai")
    assert f"{shown:%Y-%m-%d %H:%M} · " in page


def live_json(client, inventory_id: int, after: int = 0):  # type: ignore[no-untyped-def]
    return client.get(f"/inventory/{inventory_id}/live.json?after={after}")


def test_the_live_counts_follow_the_scan_station_and_audit_only_new_reads(client, auth, archive, committed_db):
    sign_in(client)
    start(client)
    inventory_id = only_inventory(committed_db).id
    page = client.get(f"/inventory/{inventory_id}").get_data(as_text=True)
    assert f'data-url="/inventory/{inventory_id}/live.json"' in page and 'data-after="0"' in page
    assert '<script src="/static/inventory.js">' in page and "<script>" not in page  # the CSP allows no inline script
    assert "还没有扫描" in page and 'id="latest-scans-table" hidden' in page
    first = live_json(client, inventory_id)
    assert first.status_code == 200 and first.mimetype == "application/json"
    assert first.json["latest"] == [] and first.json["last_scan"] == 0 and first.json["counts"]["missing"] == 5
    assert first.json["text"]["mark_missing"] == "将未扫到的 5 袋登记为下落不明"
    viewed = audits(committed_db, "view", "盘点 PD-2026-0001")

    api_scan(client, inventory_id, archive["home"][0], "K1-M-1-A-3")  # misplaced
    api_scan(client, inventory_id, "F999", "K1-M-1-A-3")  # unknown
    after = live_json(client, inventory_id).json
    assert after["counts"]["misplaced"] == 1 and after["counts"]["unknown"] == 1 and after["counts"]["missing"] == 4
    assert after["text"]["scanned"] == "2 次，1 袋" and after["scans"] == 2
    newest, older = after["latest"]
    assert set(older) == {"id", "at", "folder", "head_name", "shelf", "category", "label", "level"}  # no ids
    assert (older["folder"], older["category"], older["label"], older["level"], older["shelf"]) == (
        archive["home_disp"][0], "misplaced", "错架（放错位置）", "warn", "K1-M-1-A-3")
    assert (newest["folder"], newest["head_name"], newest["level"]) == ("F999", "", "error")
    assert after["last_scan"] == newest["id"] > older["id"]
    assert audits(committed_db, "view", "盘点 PD-2026-0001") == viewed + 1  # 201-1, newly shown
    again = live_json(client, inventory_id, after["last_scan"]).json
    assert again["latest"] == [] and again["last_scan"] == after["last_scan"] and again["counts"] == after["counts"]
    assert audits(committed_db, "view", "盘点 PD-2026-0001") == viewed + 1  # nothing new shown, nothing audited
    reloaded = client.get(f"/inventory/{inventory_id}").get_data(as_text=True)
    assert f'data-after="{newest["id"]}"' in reloaded and 'id="latest-scans-empty" hidden' in reloaded

    auth.logout()
    assert "/login" in live_json(client, inventory_id).headers["Location"]  # signed out: no data, the sign-in page
    sign_in(client, "doctor1")
    assert live_json(client, inventory_id).status_code == 403  # as the page
    auth.logout()
    auth.login("viewer")  # a supervisor watches the count
    watched = live_json(client, inventory_id)
    assert watched.status_code == 200 and watched.json["counts"] == after["counts"]
    assert live_json(client, 999).status_code == 404


def test_the_live_counts_say_when_the_count_was_closed_and_a_closed_page_does_not_poll(client, archive,
                                                                                        committed_db):
    sign_in(client)
    start(client)
    inventory_id = only_inventory(committed_db).id
    target = f"/inventory/{inventory_id}"
    client.post(f"{target}/close", data={"confirm": "1", "csrf_token": token(client, target)})
    assert live_json(client, inventory_id).json["state"] == "closed"
    page = client.get(target).get_data(as_text=True)
    assert "inventory.js" not in page and 'data-state="closed"' in page


def _file(data: bytes):  # type: ignore[no-untyped-def]
    import io

    return io.BytesIO(data)


def test_close_with_mark_missing_then_the_signed_record_is_audited_as_print(client, archive, committed_db):
    sign_in(client)
    start(client)
    inventory_id = only_inventory(committed_db).id
    for i in (0, 1, 4):
        api_scan(client, inventory_id, archive["home"][i], RANGE[0] if i < 4 else RANGE[1])
    target = f"/inventory/{inventory_id}"
    unconfirmed = client.post(f"{target}/close", data={"mark_missing": "1", "csrf_token": token(client, target)},
                              follow_redirects=True)
    assert "请勾选“确认结束盘点”" in unconfirmed.get_data(as_text=True)
    assert only_inventory(committed_db).state == "open"
    closed = client.post(f"{target}/close", data={"mark_missing": "1", "confirm": "1",
                                                  "csrf_token": token(client, target)}, follow_redirects=True)
    page = closed.get_data(as_text=True)
    assert "登记下落不明 2 袋，找回归位 0 袋" in page and "已结束" in page and "upload-form" not in page
    with committed_db.reader() as session:
        states = dict(session.execute(select(FolderPosition.household_id, FolderPosition.state)).all())
    assert sorted(states.values()).count("missing") == 2
    again = client.post(f"{target}/close", data={"confirm": "1", "csrf_token": token(client, target)},
                        follow_redirects=True)
    assert "这次盘点已结束" in again.get_data(as_text=True)
    pdf = client.get(f"{target}/record.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = compact("".join(page_texts(pdf.data)))
    assert "档案盘点记录" in text and "PD-2026-0001" in text and "缺失（未扫到）" in text
    assert archive["home_disp"][3] in text  # 201-4: not read, marked missing
    assert audits(committed_db, "print", "盘点 PD-2026-0001") == 6


def handover_data(**fields: str) -> dict[str, str]:
    return {"scope": "village", "village": "", "first": "", "last": "", "codes": "", "from_party": "东村卫生院",
            "to_party": "县档案馆", "supervisor": "周院长", "reason": "村卫生室撤并", **fields}


def test_handover_preview_lists_refusals_then_confirm_records_and_prints_three_copies(client, archive, committed_db):
    sign_in(client)
    form = client.get("/handover/new").get_data(as_text=True)
    assert 'value="201"' in form and "K1-M-1-B-1" in form
    page_token = token(client, "/handover/new")
    refused = client.post("/handover/preview", data={**handover_data(village="201"), "csrf_token": page_token})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 200 and "现在不能移交" in text and "借出给 钱医生" in text
    assert archive["home_disp"][2] in text and "confirm-form" not in text
    assert audits(committed_db, "view", "移交预览") == 6  # five to hand over and the lent one, all named
    refused_confirm = client.post("/handover/confirm", data={**handover_data(village="201"),
                                                             "csrf_token": page_token})
    assert refused_confirm.status_code == 409 and "未做任何记录" in refused_confirm.get_data(as_text=True)
    empty = client.post("/handover/preview", data={**handover_data(village="202", to_party=""),
                                                   "csrf_token": page_token})
    assert empty.status_code == 400 and "请写明接收方" in empty.get_data(as_text=True)

    codes = f"{archive['west'][2]}\n{archive['west'][0]}"
    preview = client.post("/handover/preview", data={**handover_data(scope="codes", codes=codes),
                                                     "csrf_token": page_token})
    text = preview.get_data(as_text=True)
    assert "全部 2 袋可以移交" in text and "confirm-form" in text
    assert text.index(archive["west_disp"][0]) < text.index(archive["west_disp"][2])  # numbered in shelf order
    with committed_db.reader() as session:
        assert session.scalar(select(func.count(Handover.id))) == 0  # a preview records nothing
    assert audits(committed_db, "view", "移交预览") == 6 + 2
    done = client.post("/handover/confirm", data={**handover_data(scope="codes", codes=codes),
                                                  "csrf_token": page_token})
    assert done.status_code == 303 and done.headers["Location"].endswith("/handover/YJ-2026-0001")
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "县档案馆" in page and archive["west_disp"][2] in page and "2 袋，2 份" in page
    # issue #10.12: the columns say what they hold (folder codes, the household as 村 第n户)
    assert "<th>档案袋编号</th><th>户</th><th>户主</th>" in page and "<th>档案编号</th>" not in page
    with committed_db.reader() as session:
        positions = {h for h, in session.execute(select(FolderPosition.household_id))}
        assert len(positions) == 9 - 2 + 0  # 201's six, 202-2 (the 001 folder was never shelved)
    pdf = client.get("/handover/YJ-2026-0001/list.pdf")
    text = compact("".join(page_texts(pdf.data)))
    for copy in ("移交方留存", "接收方留存", "监交方留存"):
        assert copy in text
    assert "档案移交清单" in text and "YJ-2026-0001" in text
    assert "序号档案袋编号户户主份数页数备注" in text  # issue #10.12
    assert audits(committed_db, "print", "移交清单 YJ-2026-0001") == 2
    listing = client.get("/handover/").get_data(as_text=True)
    assert "YJ-2026-0001" in listing and "东村卫生院" in listing
    again = client.post("/handover/confirm", data={**handover_data(scope="codes", codes=codes),
                                                   "csrf_token": page_token})
    assert again.status_code == 409 and "已移出档案室" in again.get_data(as_text=True)


def test_handover_back_to_the_form_keeps_the_values(client, archive):
    sign_in(client)
    page_token = token(client, "/handover/new")
    back = client.post("/handover/new", data={**handover_data(scope="range", first="K1-M-1-B-1",
                                                              last="K1-M-1-B-1"), "csrf_token": page_token})
    text = back.get_data(as_text=True)
    assert back.status_code == 200 and 'value="K1-M-1-B-1"' in text and 'value="县档案馆"' in text
    assert 'name="scope" value="range" checked' in text
