"""督导 → 抽查 pages with the test client: a viewer (督导) draws, records and signs; village doctors and doctors get
403; the clerk marks 整改 done; refusals are Chinese on the same page, never a 500; every page naming households is
audited — on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import re

import openpyxl
import pytest
from sqlalchemy import func, select

from archiveprint.accounts.models import AuditEntry
from archiveprint.inspections.models import Inspection, InspectionFolder
from tests.inspections.conftest import build_register
from tests.pdfcheck import compact, page_texts
from tests.web.conftest import csrf_token

ITEMS = ("cover", "basic_info", "population_forms", "signatures")


@pytest.fixture
def archive(committed_db):  # type: ignore[no-untyped-def]
    with committed_db.transaction() as session:
        made = build_register(session)
        return {"lent": made["lent"].id}


def _draw(client, **fields):  # type: ignore[no-untyped-def]
    page = client.get("/inspections/new")
    assert page.status_code == 200
    data = {"csrf_token": csrf_token(page), "by": "size", "size": "4", "minimum": "1", "confidence": "0.95",
            "margin": "0.05", "seed": "777", "inspector": "县督导组王", "on": "2026-11-25", "village": ["202", "001"]}
    data.update(fields)
    return client.post("/inspections/new", data=data)


def _folders(committed_db, inspection_id: int) -> list[InspectionFolder]:
    with committed_db.reader() as session:
        return list(session.scalars(select(InspectionFolder).where(InspectionFolder.inspection_id == inspection_id)
                                    .order_by(InspectionFolder.seq)))


def test_a_viewer_inspects_from_draw_to_signed_record(client, auth, committed_db, archive):
    auth.login("viewer")
    home = client.get("/")
    assert 'id="nav-supervision"' in home.get_data(as_text=True)
    drawn = _draw(client)
    assert drawn.status_code == 303
    show = client.get(drawn.headers["Location"])
    html = show.get_data(as_text=True)
    assert "抽查 CC-2026-0001" in html and "县督导组王" in html and "随机种子“777”" in html
    inspection_id = int(re.search(r"/inspections/(\d+)", drawn.headers["Location"]).group(1))
    folders = _folders(committed_db, inspection_id)
    assert len(folders) == 4
    token = csrf_token(show)
    # scanning a folder opens its checklist; one of another inspection is refused on the same page
    scanned = client.post(f"/inspections/{inspection_id}/scan", data={"csrf_token": token, "code": folders[0].folder})
    assert scanned.status_code == 303 and scanned.headers["Location"].endswith(f"/folders/{folders[0].id}")
    elsewhere = client.post(f"/inspections/{inspection_id}/scan", data={"csrf_token": token,
                                                                         "code": "F1301231002010000" + "19"},
                            follow_redirects=True)
    assert elsewhere.status_code == 200 and "flash-error" in elsewhere.get_data(as_text=True)
    page = client.get(scanned.headers["Location"])
    assert "要阅读的档案" in page.get_data(as_text=True)
    for index, folder in enumerate(folders):
        data = {"csrf_token": token, **{f"item-{key}": "pass" for key in ITEMS}, "seen-dynamic": "2026-09-01"}
        if index == 0:
            data["item-signatures"], data["note-signatures"] = "fail", "缺责任医生签字"
        saved = client.post(f"/inspections/{inspection_id}/folders/{folder.id}", data=data)
        assert saved.status_code == 303
    contradiction = client.post(f"/inspections/{inspection_id}/folders/{folders[1].id}",
                                data={"csrf_token": token, "item-dynamic": "pass", "seen-dynamic": "2020-01-01"},
                                follow_redirects=True)
    assert "矛盾" in contradiction.get_data(as_text=True)
    result = client.get(f"/inspections/{inspection_id}/result")
    text = result.get_data(as_text=True)
    assert "75.0%" in text and "缺责任医生签字" in text and "合格率 = 抽查合格档案份数 / 抽查档案总份数" in text
    unconfirmed = client.post(f"/inspections/{inspection_id}/sign", data={"csrf_token": token},
                              follow_redirects=True)
    assert "确认签署" in unconfirmed.get_data(as_text=True)
    signed = client.post(f"/inspections/{inspection_id}/sign", data={"csrf_token": token, "confirm": "1"},
                         follow_redirects=True)
    assert "已签署：整改任务 1 项" in signed.get_data(as_text=True)
    pdf = client.get(f"/inspections/{inspection_id}/report.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert "缺责任医生签字" in compact("".join(page_texts(pdf.data)))
    xlsx = client.get(f"/inspections/{inspection_id}/results.xlsx")
    assert xlsx.status_code == 200 and "filename*=UTF-8''" in xlsx.headers["Content-Disposition"]
    assert openpyxl.load_workbook(io.BytesIO(xlsx.data))["抽查结果"].max_row == 5
    # the viewer may not mark 整改 done: that is the clerk's
    done = client.post("/inspections/tasks/1/done", data={"csrf_token": token, "note": "x"})
    assert done.status_code == 403
    history = client.get("/inspections/").get_data(as_text=True)
    assert "CC-2026-0001" in history and "各村历次抽查" in history
    with committed_db.reader() as session:
        actions = dict(session.execute(select(AuditEntry.action, func.count()).where(
            AuditEntry.subject_type == "household").group_by(AuditEntry.action)).all())
    assert actions.get("view", 0) >= 4 and actions.get("print") == 4 and actions.get("export") == 4


def test_a_clerk_marks_a_task_done_and_the_pick_list_prints(client, auth, committed_db, archive):
    auth.login("clerk")
    drawn = _draw(client, size="2", village=["202"], minimum="0")
    inspection_id = int(re.search(r"/inspections/(\d+)", drawn.headers["Location"]).group(1))
    token = csrf_token(client.get(drawn.headers["Location"]))
    pick = client.get(f"/inspections/{inspection_id}/picklist.pdf")
    assert pick.status_code == 200 and "调档单" in compact("".join(page_texts(pick.data)))
    folders = _folders(committed_db, inspection_id)
    unavailable = client.post(f"/inspections/{inspection_id}/folders/{folders[0].id}/unavailable",
                              data={"csrf_token": token, "note": ""}, follow_redirects=True)
    assert "请说明未能调阅的原因" in unavailable.get_data(as_text=True)
    client.post(f"/inspections/{inspection_id}/folders/{folders[0].id}/unavailable",
                data={"csrf_token": token, "note": "架上找不到"})
    client.post(f"/inspections/{inspection_id}/folders/{folders[1].id}",
                data={"csrf_token": token, **{f"item-{key}": "pass" for key in ITEMS}, "item-dynamic": "fail"})
    client.post(f"/inspections/{inspection_id}/sign", data={"csrf_token": token, "confirm": "1"})
    tasks = client.get("/inspections/tasks").get_data(as_text=True)
    assert "架上找不到" in tasks
    done = client.post("/inspections/tasks/1/done", data={"csrf_token": token, "note": "已找回归位"},
                       follow_redirects=True)
    assert "整改任务 1 已完成" in done.get_data(as_text=True)


@pytest.mark.parametrize("role", ["village_doctor", "doctor"])
def test_doctors_do_not_inspect(client, auth, role, archive):
    auth.login(role, villages=("201",) if role == "village_doctor" else ())
    assert client.get("/inspections/").status_code == 403
    assert client.get("/inspections/new").status_code == 403
    for page in ("/", "/supervision/indicators"):  # 督导 shows them the indicators, never the way to 抽查
        assert 'href="/inspections/"' not in client.get(page).get_data(as_text=True)


def test_refusals_are_chinese_and_keep_the_form(client, auth, committed_db, archive):
    auth.login("viewer")
    for fields, message in (({"seed": ""}, "请给出随机种子"), ({"size": "abc"}, "应为数字"),
                            ({"village": ["999"]}, "没有这个村(居)委会"), ({"on": "2026-13-01"}, "日期格式"),
                            ({"on": "0001-01-01"}, "检查日期应在"),
                            ({"by": "margin", "margin": "0.9"}, "允许误差应在 0 与 0.5 之间")):
        answer = _draw(client, **fields)
        assert answer.status_code == 400, fields
        assert message in answer.get_data(as_text=True)
    with committed_db.reader() as session:
        assert session.scalar(select(func.count()).select_from(Inspection)) == 0
    assert client.get("/inspections/987654").status_code == 404
    assert client.get("/inspections/987654/folders/1").status_code == 404
    no_token = client.post("/inspections/new", data={"seed": "1", "size": "2"})
    assert no_token.status_code == 400


def test_in_english(client, auth, archive):
    auth.login("viewer")
    client.set_cookie("lang", "en")
    page = client.get("/inspections/new").get_data(as_text=True)
    assert "Random seed" in page and "抽取" not in page
    drawn = _draw(client)
    shown = client.get(drawn.headers["Location"]).get_data(as_text=True)
    assert "Stratified random sampling" in shown


def test_the_scan_station_api_finds_a_drawn_folder(client, auth, committed_db, archive):
    auth.login("viewer")
    drawn = _draw(client, size="2", village=["202"], minimum="0")
    inspection_id = int(re.search(r"/inspections/(\d+)", drawn.headers["Location"]).group(1))
    listed = client.get("/api/v1/inspections").json
    assert [i["number"] for i in listed["inspections"]] == ["CC-2026-0001"]
    folder = _folders(committed_db, inspection_id)[0]
    found = client.get(f"/api/v1/inspections/{inspection_id}/folder", query_string={"code": folder.folder}).json
    assert found["ok"] and found["url"].endswith(f"/inspections/{inspection_id}/folders/{folder.id}")
    missing = client.get(f"/api/v1/inspections/{inspection_id}/folder", query_string={"code": "99"})
    assert missing.status_code == 404 and missing.json["error"] == "「档案袋」，值“99”：该档案袋不在本次抽查中"
    assert client.get("/api/v1/inspections/987654/folder", query_string={"code": "1"}).status_code == 404
    assert client.get(f"/api/v1/inspections/{inspection_id}/folder").status_code == 400
