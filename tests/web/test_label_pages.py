"""The label print centre, printer profiles and calibration through the real login, CSRF and both databases."""

from __future__ import annotations

import base64
import io
import re
from urllib.parse import quote

import pytest
from PIL import Image
from sqlalchemy import select

from archiveprint.accounts.models import AuditEntry
from archiveprint.eventlog import Event
from archiveprint.jobs import queue as jobqueue
from archiveprint.jobs.runners import run_job
from archiveprint.labels.calibration import nominal_centre
from archiveprint.labels.queries import list_printer_profiles
from archiveprint.labels.services import label_stocks
from archiveprint.register.codes import folder_code
from archiveprint.register.models import Household, Village
from tests.labels.scan import decode_sheet, expected_pages
from tests.pdfcheck import read
from tests.web.conftest import csrf_token

PICTURE = re.compile(r'<img id="preview-image" src="data:image/png;base64,([A-Za-z0-9+/=]+)"')
STOCKS = label_stocks()




def label_input(client, **values: object) -> dict[str, object]:
    """The label centre's fields as a browser posts them (ticked boxes only), with the page's CSRF token."""
    data: dict[str, object] = {"csrf_token": csrf_token(client.get("/labels")), "kind": "folder", "stock": "a4-3x8",
                               "printer": "", "village": "", "household": "", "codes": "", "since": "",
                               "location_title": "", "start": "1", "used": "", "copies": "1"}
    for key, value in values.items():
        if value is True:
            data[key] = "y"
        elif value is not False:
            data[key] = value
    return data


def east_folder_codes(database) -> list[str]:
    """The folder codes of 东村's households in filing order."""
    with database.reader() as session:
        households = session.scalars(select(Household).join(Household.village).where(Village.code == "201")
                                     .order_by(Household.number)).all()
        return [folder_code(household.village.full_code, household.number).value for household in households]


def audit_rows(database, action: str) -> list[AuditEntry]:
    with database.reader() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def profiles(database) -> list[tuple[str, str, float, float, float, float, int]]:
    with database.reader() as session:
        return [(p.printer, p.stock, p.dx, p.dy, p.creep_x, p.creep_y, p.dpi) for p in list_printer_profiles(session)]


def job_id_of(response) -> int:
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    found = re.fullmatch(r"/print/jobs/(\d+)", response.headers["Location"])
    assert found, response.headers["Location"]
    return int(found.group(1))


# --- the print centre -----------------------------------------------------------------------------------------

def test_the_centre_offers_kinds_stocks_with_their_geometry_and_a_sheet_map(client, auth, people):
    auth.login("clerk")
    html = client.get("/labels").get_data(as_text=True)
    assert 'href="/labels"' in client.get("/").get_data(as_text=True)  # 标签 in the header
    for title in ("户档案袋标签", "脊背标签", "个人标签", "信息卡（卡片标签）", "架位标签", "校准页"):
        assert f">{title}</option>" in html
    assert re.search(r'<option[^>]*selected[^>]*value="a4-3x8"', html)  # the folder label's default stock
    assert "3 列 × 8 行，每张 24 格；标签 63.5 × 33.9 mm" in html
    assert len(re.findall(r'data-cell="\d+" role="checkbox"', html)) == 24
    assert 'data-grid="2 7"' in html and 'data-roll="1"' in html  # the script redraws the map for another stock
    assert "<script src=\"/static/labels.js\"" in html and "onclick" not in html


def test_preview_shows_the_label_and_sheet_counts_and_a_readable_picture_of_the_first_sheet(client, auth, people,
                                                                                       committed_db):
    auth.login("clerk")
    response = client.post("/labels/preview", data=label_input(client, village="201", used="1,2"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html[:3000]
    assert re.search(r'id="preview-labels">2<', html) and re.search(r'id="preview-sheets">1<', html)
    assert "2 张标签，共 1 页" in html
    (encoded,) = PICTURE.findall(html)
    picture = Image.open(io.BytesIO(base64.b64decode(encoded)))
    # A4 at 72 dpi, bigger than the forms' 40 dpi thumbnails: the names on the labels can be read.
    assert picture.format == "PNG" and 594 <= picture.width <= 596 and 841 <= picture.height <= 843
    # The map keeps the marked cells, and the first label goes in cell 3.
    assert re.search(r'class="cell used"\s+data-cell="1"', html)
    assert re.search(r'class="cell first"\s+data-cell="3"', html)
    (view,) = audit_rows(committed_db, "view")
    assert (view.subject_type, view.subject_id, view.username) == ("label_preview", "folder", "clerk-user")
    assert "村 201" in view.detail and audit_rows(committed_db, "print") == []


def test_a_stock_too_narrow_for_the_barcode_is_refused_in_chinese_next_to_the_stock(client, auth, people,
                                                                                    committed_db, recording):
    auth.login("clerk")
    for url in ("/labels/preview", "/labels/start"):
        response = client.post(url, data=label_input(client, village="201", stock="a4-65up"))
        html = response.get_data(as_text=True)
        assert response.status_code == 400
        refusal = re.search(r'<p class="field-error refusal" role="alert" id="stock-error">(.*?)</p>', html, re.S)
        assert refusal, html[:3000]
        assert refusal.group(1).startswith("「户档案袋标签」用A4 不干胶 65 格") and "条码放不下" in refusal.group(1)
        assert "请换更宽的标签纸" in refusal.group(1) and "--qr" not in refusal.group(1)
        assert 'id="preview-image"' not in html
    assert recording.submitted == []
    with committed_db.reader() as session:
        assert jobqueue.list_jobs(session) == []


def test_a_card_refused_on_a_small_stock_suggests_the_qr_checkbox(client, auth, people):
    auth.login("clerk")
    html = client.post("/labels/preview", data=label_input(client, kind="card", stock="a4-65up",
                                                            village="201")).get_data(as_text=True)
    assert "勾选“用二维码”" in html


@pytest.mark.parametrize(("values", "message", "status"), [
    ({}, "请指定要打印哪些标签", 400),
    ({"household": "201-99"}, "没有这一户", 404),
    ({"village": "201", "used": "1,99"}, "已用格子超出 1–24", 400),
    ({"village": "201", "start": "30"}, "起始格应在 1–24 之间", 400),
    ({"village": "201", "used": "一二"}, "已用格子应写成 1,3,5-8", 400),
    ({"village": "201", "since": "2026年"}, "日期应写成 2026-11-01", 400),
    ({"village": "201", "since": "2099-01-01"}, "这个范围内没有要打印的标签", 404),
    ({"village": "201", "stock": "roll-70x40", "start": "3"}, "卷筒标签每页一张", 400),
])
def test_bad_choices_are_explained_in_chinese_and_start_nothing(client, auth, people, recording, values, message,
                                                                status):
    auth.login("clerk")
    for url in ("/labels/preview", "/labels/start"):
        response = client.post(url, data=label_input(client, **values))
        assert response.status_code == status, (url, response.status_code)
        assert message in response.get_data(as_text=True)
    assert recording.submitted == []


def test_a_relabel_list_is_the_folders_changed_since_a_date(client, auth, people):
    auth.login("clerk")
    html = client.post("/labels/preview", data=label_input(client, since="2000/1/1")).get_data(as_text=True)
    assert re.search(r'id="preview-labels">3<', html)  # every household was registered after that day
    html = client.post("/labels/preview", data=label_input(client, since="2000-01-01", village="202",
                                                           kind="spine", stock="a4-2x7")).get_data(as_text=True)
    assert re.search(r'id="preview-labels">1<', html) and len(PICTURE.findall(html)) == 1


def test_the_calibration_kind_needs_no_scope(client, auth, people):
    auth.login("clerk")
    html = client.post("/labels/preview", data=label_input(client, kind="calibration")).get_data(as_text=True)
    assert re.search(r'id="preview-labels">24<', html) and re.search(r'id="preview-sheets">1<', html)
    assert len(PICTURE.findall(html)) == 1


def test_a_label_job_prints_barcodes_that_scan_in_the_free_cells_and_the_download_is_audited(
        client, auth, people, app, committed_db, recording):
    auth.login("clerk")
    job_id = job_id_of(client.post("/labels/start", data=label_input(client, village="201", used="1,2",
                                                                      mask_names=True)))
    assert recording.submitted == [job_id]
    queued = client.get(f"/print/jobs/{job_id}").get_data(as_text=True)
    assert "户档案袋标签" in queued and "jobs.js" in queued and "东村" in queued
    run_job(job_id, settings=app.extensions["archiveprint"].settings, database=committed_db)

    state = client.get(f"/print/jobs/{job_id}.json").get_json()
    assert (state["status"], state["label"], state["pages"]) == ("done", "完成", 1)
    page = client.get(f"/print/jobs/{job_id}").get_data(as_text=True)
    assert "已生成 1 页" in page and "实际大小 / 100%" in page
    link = re.search(r'href="(/print/jobs/\d+/files/[^"]+)"', page)
    assert link and link.group(1).endswith("/folder-201-20261125.pdf")  # issue #10.14: what, whose, the day
    with client.get(link.group(1)) as download:
        assert download.status_code == 200 and download.mimetype == "application/pdf"
        assert download.headers["Content-Disposition"] == (
            "attachment; filename=\"folder-201-20261125.pdf\"; filename*=UTF-8''"
            + quote("户档案袋标签-东村-20261125.pdf"))
        pdf = download.get_data()
    (_sheet,) = read(pdf).pages
    stock = STOCKS["a4-3x8"]
    codes = east_folder_codes(committed_db)
    assert len(codes) == 2
    decode_sheet(pdf, stock, expected_pages(stock, codes, used=(frozenset({1, 2}),)), name="web-folder",
                 dpis=(200,))

    prints = audit_rows(committed_db, "print")
    assert {(row.subject_type, row.username) for row in prints} == {("household", "clerk-user")} and len(prints) == 2
    (export,) = audit_rows(committed_db, "export")
    assert (export.subject_type, export.subject_id) == ("print_job", str(job_id))
    assert "folder-201-20261125.pdf" in export.detail and "labels=2" in export.detail
    listing = client.get("/print/jobs").get_data(as_text=True)
    assert "户档案袋标签" in listing and "a4-3x8" in listing


# --- printer profiles -----------------------------------------------------------------------------------------

def profile_input(client, **values: object) -> dict[str, object]:
    data = {"csrf_token": csrf_token(client.get("/labels/printers")), "printer": "二楼激光", "stock": "a4-3x8",
            "dpi": "600", "dx": "0.8", "dy": "-0.4", "creep_x": "0", "creep_y": "0.05"}
    data.update(values)  # type: ignore[arg-type]
    return data


def test_printer_profiles_are_added_edited_and_deleted(client, auth, committed_db):
    auth.login("clerk")
    assert "还没有校准过任何打印机" in client.get("/labels/printers").get_data(as_text=True)
    response = client.post("/labels/printers", data=profile_input(client))
    assert response.status_code == 303
    assert profiles(committed_db) == [("二楼激光", "a4-3x8", 0.8, -0.4, 0.0, 0.05, 600)]
    listing = client.get("/labels/printers").get_data(as_text=True)
    assert "已保存打印机“二楼激光”对A4 不干胶 3×8" in listing and "+0.80 mm" in listing and "600 dpi" in listing

    with committed_db.reader() as session:
        (profile,) = list_printer_profiles(session)
    edit = client.get(f"/labels/printers?edit={profile.id}").get_data(as_text=True)
    assert "修改校准：二楼激光 / a4-3x8" in edit and 'value="-0.4"' in edit
    # Full-width digits and a comma decimal, as a Chinese keyboard may type them.
    client.post("/labels/printers", data=profile_input(client, dx="１．２", dy="-0,3", dpi=""))
    assert profiles(committed_db) == [("二楼激光", "a4-3x8", 1.2, -0.3, 0.0, 0.05, 600)]

    # The centre offers the printer, and the job prints with its profile.
    centre = client.get("/labels").get_data(as_text=True)
    assert "二楼激光（已校准：a4-3x8）" in centre

    page = client.get("/labels/printers")
    response = client.post(f"/labels/printers/{profile.id}/delete", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 303 and profiles(committed_db) == []
    with committed_db.reader() as session:
        kinds = list(session.scalars(select(Event.kind).where(Event.kind.like("label_printer.%")).order_by(Event.id)))
    assert kinds == ["label_printer.set", "label_printer.set", "label_printer.deleted"]


@pytest.mark.parametrize(("values", "message"), [
    ({"dx": "abc"}, "请填写毫米数，如 39.6 或 -0.4"),
    ({"dx": "25"}, "数值超出范围（最多 20 毫米）"),
    ({"creep_y": "3"}, "数值超出范围（最多 2 毫米）"),
    ({"dpi": "50"}, "打印分辨率应在 100–2400 dpi 之间"),
    ({"printer": ""}, "请填写打印机名称"),
])
def test_a_bad_profile_is_refused_in_chinese(client, auth, committed_db, values, message):
    auth.login("admin")
    response = client.post("/labels/printers", data=profile_input(client, **values))
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert profiles(committed_db) == []


def test_an_uncalibrated_printer_is_named_next_to_the_printer_choice(client, auth, people, committed_db):
    auth.login("clerk")
    client.post("/labels/printers", data=profile_input(client))
    response = client.post("/labels/preview", data=label_input(client, village="201", stock="a4-2x7",
                                                               printer="二楼激光"))
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    found = re.search(r'id="printer-error">(.*?)</p>', html, re.S)
    assert found and "打印机“二楼激光”还没有为A4 不干胶 2×7" in found.group(1)
    assert "/labels/calibrate?printer=" in found.group(1)


# --- calibration ----------------------------------------------------------------------------------------------

def calibration_input(client, **values: object) -> dict[str, object]:
    page = client.get("/labels/calibrate?printer=二楼激光&stock=a4-3x8")
    data = {"csrf_token": csrf_token(page), "printer": "二楼激光", "stock": "a4-3x8", "measured_x": "39.6",
            "measured_y": "29.4", "last_x": "", "last_y": "", "dpi": ""}
    data.update(values)  # type: ignore[arg-type]
    return data


def test_calibration_prints_a_sheet_turns_two_measurements_into_a_profile_and_offers_a_test_sheet(client, auth,
                                                                                                committed_db):
    auth.login("clerk")
    steps = client.get("/labels/calibrate?printer=二楼激光&stock=a4-3x8").get_data(as_text=True)
    assert "应为 左 39.0 mm、上 29.9 mm。" in steps and "应为 左 171.0 mm、上 267.1 mm。" in steps
    assert "当前校正：" in steps and "未校正" in steps and 'id="test-sheet"' not in steps
    with client.get("/labels/calibrate/sheet.pdf?stock=a4-3x8&printer=二楼激光") as sheet:
        assert sheet.status_code == 200 and sheet.mimetype == "application/pdf"
        (only,) = read(sheet.get_data()).pages
        assert "标签校准页" in only.extract_text()

    first, last = nominal_centre(STOCKS["a4-3x8"], 1), nominal_centre(STOCKS["a4-3x8"], 24)
    assert (round(first[0], 1), round(last[1], 1)) == (39.0, 267.1)
    # The crosshair landed 0.6 mm right and 0.5 mm high: the profile moves everything back.
    response = client.post("/labels/calibrate", data=calibration_input(
        client, measured_x=f"{first[0] + 0.6:.2f}", measured_y=f"{first[1] - 0.5:.2f}"))
    assert response.status_code == 303
    assert profiles(committed_db) == [("二楼激光", "a4-3x8", -0.6, 0.5, 0.0, 0.0, 300)]
    done = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已保存打印机“二楼激光”对A4 不干胶 3×8 的校准：右移 -0.60 mm，下移 +0.50 mm" in done.replace(
        "（24 格，63.5×33.9 mm）", " ")
    test_sheet = re.search(r'id="test-sheet" href="([^"]+)"', done)
    assert test_sheet and "outline=1" in test_sheet.group(1)
    with client.get(test_sheet.group(1).replace("&amp;", "&")) as sheet:
        assert sheet.status_code == 200 and len(read(sheet.get_data()).pages) == 1
    assert "/labels?kind=folder&amp;stock=a4-3x8&amp;printer=" in done

    # Measured again on a sheet printed with that profile, including the last cell: creep.
    client.post("/labels/calibrate", data=calibration_input(
        client, measured_x=f"{first[0]:.2f}", measured_y=f"{first[1]:.2f}", last_x=f"{last[0] + 0.6:.2f}",
        last_y=f"{last[1] + 0.7:.2f}"))
    ((_printer, _stock, dx, dy, creep_x, creep_y, _dpi),) = profiles(committed_db)
    assert (dx, dy) == (-0.6, 0.5) and creep_x == pytest.approx(-0.3) and creep_y == pytest.approx(-0.1)


@pytest.mark.parametrize(("values", "message"), [
    ({"measured_x": "三十九"}, "请填写毫米数，如 39.6 或 -0.4"),
    ({"measured_y": ""}, "请填写量到的距离（毫米）"),
    ({"last_x": "171"}, "最后一格要量两个数"),
    ({"measured_x": "80"}, "偏移 dx 超过 20 mm"),
])
def test_a_bad_measurement_is_refused_in_chinese(client, auth, committed_db, values, message):
    auth.login("clerk")
    response = client.post("/labels/calibrate", data=calibration_input(client, **values))
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert profiles(committed_db) == []


# --- access and language --------------------------------------------------------------------------------------

def test_a_viewer_can_neither_print_labels_nor_touch_printers(client, auth, people, committed_db, recording):
    auth.login("viewer")
    home = client.get("/")
    assert 'href="/labels"' not in home.get_data(as_text=True)
    token = csrf_token(home)
    for path in ("/labels", "/labels/printers", "/labels/calibrate", "/labels/calibrate/sheet.pdf?stock=a4-3x8"):
        assert client.get(path).status_code == 403, path
    for path, data in (("/labels/preview", {"kind": "folder", "village": "201"}),
                       ("/labels/start", {"kind": "folder", "village": "201"}),
                       ("/labels/printers", {"printer": "x", "stock": "a4-3x8"}),
                       ("/labels/calibrate", {"printer": "x", "stock": "a4-3x8", "measured_x": "39",
                                              "measured_y": "29"})):
        response = client.post(path, data={"csrf_token": token, **data})
        assert response.status_code == 403 and "没有权限" in response.get_data(as_text=True), path
    assert recording.submitted == [] and profiles(committed_db) == []


def test_a_doctor_prints_labels_but_does_not_edit_printers(client, auth, people, committed_db):
    auth.login("doctor")
    assert client.get("/labels").status_code == 200
    page = client.get("/labels/printers")
    assert page.status_code == 200 and "添加或直接设置校准" not in page.get_data(as_text=True)
    token = csrf_token(page)
    assert client.post("/labels/printers", data={"csrf_token": token, "printer": "x", "stock": "a4-3x8"}).status_code \
        == 403
    steps = client.get("/labels/calibrate?printer=x&stock=a4-3x8").get_data(as_text=True)
    assert "只有档案管理员和管理员可以保存校准" in steps
    assert client.post("/labels/calibrate", data={"csrf_token": token, "printer": "x", "stock": "a4-3x8",
                                                  "measured_x": "39", "measured_y": "29"}).status_code == 403
    assert profiles(committed_db) == []


def test_the_label_pages_speak_english_when_asked(client, auth, people):
    auth.login("clerk")
    client.set_cookie("lang", "en")
    page = client.get("/labels").get_data(as_text=True)
    assert "Household folder label" in page and "3 columns × 8 rows" in page and "Start printing" in page
    preview = client.post("/labels/preview", data=label_input(client, village="201")).get_data(as_text=True)
    assert "Labels: 2, pages: 1" in preview
    assert "Printer calibration" in client.get("/labels/calibrate?printer=p&stock=a4-3x8").get_data(as_text=True)


def test_the_stocks_page_lists_shipped_and_site_stocks_with_their_geometry(client, auth, app):
    import shutil

    from archiveprint.resources import template_dir

    auth.login("doctor")
    page = client.get("/labels/stocks").get_data(as_text=True)
    assert "a4-3x8" in page and "roll-100x50" in page and "a4-65up" in page
    assert "8 × 3" in page and "63.5 × 33.9" in page
    assert "<td>内置</td>" in page and "<td>本院</td>" not in page
    site = app.extensions["archiveprint"].settings.instance_dir / "labels" / "stock"
    site.mkdir(parents=True)
    shutil.copy(template_dir() / "labels" / "stock" / "a4-3x8.yaml", site / "a4-3x8.yaml")
    assert client.get("/labels/stocks").get_data(as_text=True).count("<td>本院</td>") == 1


def test_issue_10_11_the_stocks_page_says_who_adds_a_stock_and_shows_no_server_path(client, auth, app):
    auth.login("admin")
    page = client.get("/labels/stocks").get_data(as_text=True)
    help_text = re.search(r'<p class="muted small" id="stock-help">(.*?)</p>', page, re.S).group(1)
    assert "交给系统维护人员添加" in help_text and "本院" in help_text
    instance = str(app.extensions["archiveprint"].settings.instance_dir)
    assert instance not in page and "instance" not in page and "YAML" not in page
    assert re.search(r"labels/stock(?!s)", page) is None  # the folder; /labels/stocks is this page's own link


def test_issue_10_13_shipped_stock_names_are_translated_and_the_sites_own_stay_as_written(client, auth, app):
    from archiveprint.resources import template_dir

    site = app.extensions["archiveprint"].settings.instance_dir / "labels" / "stock"
    site.mkdir(parents=True)
    (site / "clinic-2x4.yaml").write_text("name: 本院 2×4 标签\nlabel: [99, 67]\ngrid: [2, 4]\nmargin: [6, 14]\n",
                                          encoding="utf-8")
    shipped = (template_dir() / "labels" / "stock" / "a4-2x7.yaml").read_text(encoding="utf-8")
    (site / "a4-2x7.yaml").write_text(re.sub(r"(?m)^name: .*$", "name: 本院改过的 2×7", shipped), encoding="utf-8")
    auth.login("clerk")
    client.set_cookie("lang", "en")
    page = client.get("/labels/stocks").get_data(as_text=True)
    assert "<td>A4 adhesive 3×8 (24 labels, 63.5×33.9 mm)</td>" in page and "<td>Thermal roll 50×30 mm</td>" in page
    assert "<td>本院 2×4 标签</td>" in page and "<td>本院改过的 2×7</td>" in page
    assert "不干胶" not in page and "热敏卷筒" not in page
    centre = client.get("/labels").get_data(as_text=True)
    assert ">A4 adhesive 3×8 (24 labels, 63.5×33.9 mm)</option>" in centre and ">本院 2×4 标签</option>" in centre
    client.set_cookie("lang", "zh_CN")
    assert "<td>A4 不干胶 3×8（24 格，63.5×33.9 mm）</td>" in client.get("/labels/stocks").get_data(as_text=True)


def test_viewers_cannot_open_the_stocks_page(client, auth):
    auth.login("viewer")
    assert client.get("/labels/stocks").status_code == 403
