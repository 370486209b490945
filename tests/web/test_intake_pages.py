"""#15 回收归档 pages: a clerk uploads a scanned stack, the background job reads it, the batch shows its filing list and
the pages that wait; she assigns one by hand, sets one aside, files a duplicate anyway; bad files are refused with a
message and nothing kept; the site's choice of page pictures; roles and the village scope — on both databases."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from archiveprint.accounts.models import AuditEntry
from archiveprint.db import Database
from archiveprint.eventlog import Event
from archiveprint.intake.models import IntakeBatch, IntakePage
from tests.intake.conftest import STRANGER, Printed, print_stack, scanned_stack, seed_register
from tests.intake.scanner import Scanner
from tests.waiting import eventually
from tests.web.conftest import AuthActions, csrf_token

HYPERTENSION = slice(2, None)  # the follow-up sheets, the blank sheet with no mark, the stranger's sheet


@pytest.fixture
def printed(committed_db: Database, tmp_path: Path) -> Printed:
    with committed_db.transaction() as session:
        seed_register(session)
    return print_stack(committed_db, tmp_path)


def upload(client: FlaskClient, *files: tuple[bytes, str], received_on: str = "") -> object:
    """Post the upload form as a browser does. The body is encoded here, in memory: the test client would spool a
    large one to a temporary file that nothing closes (a ResourceWarning)."""
    page = client.get("/intake")
    fields = MultiDict([("csrf_token", csrf_token(page)), ("received_on", received_on)])
    for content, name in files:
        fields.add("files", FileStorage(io.BytesIO(content), filename=name, content_type="application/octet-stream"))
    return post_multipart(client, "/intake", fields)


def post_multipart(client: FlaskClient, url: str, fields: MultiDict) -> object:
    boundary, body = encode_multipart(fields)
    return client.post(url, input_stream=io.BytesIO(body), content_length=len(body),
                       content_type=f"multipart/form-data; boundary={boundary}")


def read_through(client: FlaskClient, response) -> int:  # type: ignore[no-untyped-def]
    """Follow an upload to its batch and wait until the job has read it; the batch's id."""
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    batch_id = int(re.search(r"/intake/(\d+)$", response.headers["Location"])[1])
    eventually(lambda: client.get(f"/intake/{batch_id}/status.json").get_json()["finished"], what="the batch read",
               seconds=120)
    return batch_id


def test_a_clerk_uploads_a_stack_sees_the_filing_list_and_assigns_the_unreadable_page(
        client: FlaskClient, auth: AuthActions, committed_db: Database, printed: Printed, tmp_path: Path) -> None:
    auth.login("clerk")
    assert "回收归档" in client.get("/").get_data(as_text=True)
    path, truths = scanned_stack(printed, tmp_path / "stack.pdf", which=HYPERTENSION, scanner=Scanner(seed=3))
    batch_id = read_through(client, upload(client, (path.read_bytes(), "东村交回.pdf")))
    status = client.get(f"/intake/{batch_id}/status.json").get_json()
    assert (status["status"], status["percent"]) == ("done", 100)

    page = client.get(f"/intake/{batch_id}").get_data(as_text=True)
    marked = sum(1 for truth in truths if truth.kind == "marked")
    assert f"已归档 {marked}" in page and "待处理 2" in page
    assert page.count('class="folder-first') == 4  # 赵, 钱, 孙 (东村), 李 (西村): one folder each
    for name in ("赵大山", "钱大海", "孙长青", "李西山"):
        assert name in page
    pdf = client.get(f"/intake/{batch_id}/filing-list.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")

    with committed_db.reader() as session:
        waiting = list(session.scalars(select(IntakePage).where(IntakePage.batch_id == batch_id,
                                                                IntakePage.outcome == "unreadable")
                                       .order_by(IntakePage.seq)))
        reasons = sorted(page.reason for page in waiting)
    assert reasons == ["no_mark", "unknown_resident"]
    blank_sheet = next(page for page in waiting if page.reason == "no_mark")
    stranger = next(page for page in waiting if page.reason == "unknown_resident")
    assert stranger.decoded.startswith(STRANGER)

    shown = client.get(f"/intake/pages/{blank_sheet.id}").get_data(as_text=True)
    assert "没有读到归档条码" in shown and f"/intake/pages/{blank_sheet.id}/image" in shown
    image = client.get(f"/intake/pages/{blank_sheet.id}/image")
    assert image.status_code == 200 and image.mimetype == "image/jpeg"
    # 孙长青's follow-up sheet came back in this batch already: the same page is not filed twice
    found = client.get(f"/intake/pages/{blank_sheet.id}?q=孙长青").get_data(as_text=True)
    code = next(code for code, name in printed.names.items() if name == "孙长青")
    assert f'value="{code}"' in found
    refused = client.post(f"/intake/pages/{blank_sheet.id}/assign",
                          data={"csrf_token": csrf_token(found), "q": "孙长青", "archive_code": code,
                                "form_number": "8", "form_page": "1"})
    assert refused.status_code == 303 and f"/intake/pages/{blank_sheet.id}" in refused.headers["Location"]
    assert "不再重复归档" in client.get(refused.headers["Location"]).get_data(as_text=True)
    # 钱小宝 had no follow-up sheet printed: the page written for him by hand is his
    code = next(code for code, name in printed.names.items() if name == "钱小宝")
    found = client.get(f"/intake/pages/{blank_sheet.id}?q=钱小宝").get_data(as_text=True)
    answer = client.post(f"/intake/pages/{blank_sheet.id}/assign",
                         data={"csrf_token": csrf_token(found), "q": "钱小宝", "archive_code": code,
                               "form_number": "8", "form_page": "1"})
    assert answer.status_code == 303 and answer.headers["Location"].endswith(f"/intake/pages/{stranger.id}")
    with committed_db.reader() as session:
        assigned = session.get(IntakePage, blank_sheet.id)
        assert (assigned.outcome, assigned.archive_code, assigned.how) == ("filed", code, "manual")
        assert assigned.image == ""  # the site keeps no pictures of filed pages (the default)
    assert "钱小宝" in client.get(f"/intake/{batch_id}").get_data(as_text=True)

    form = client.get(f"/intake/pages/{stranger.id}").get_data(as_text=True)
    aside = client.post(f"/intake/pages/{stranger.id}/set-aside", data={"csrf_token": csrf_token(form)})
    assert aside.status_code == 303
    with committed_db.reader() as session:
        assert session.get(IntakePage, stranger.id).outcome == "set_aside"
        assert session.get(IntakePage, stranger.id).image == ""


def test_a_page_assigned_by_hand_is_filed_with_an_event_and_shows_on_the_resident_page(
        client: FlaskClient, auth: AuthActions, committed_db: Database, printed: Printed, tmp_path: Path) -> None:
    auth.login("clerk")
    # only the sheet with no mark: nothing of 王 was filed before, so the clerk's choice is filed
    path, _truths = scanned_stack(printed, tmp_path / "one.pdf", which=slice(3, 4),
                                  scanner=Scanner(blank_backs=0, upside_down=0))
    batch_id = read_through(client, upload(client, (path.read_bytes(), "one.pdf"), received_on="2026-11-20"))
    with committed_db.reader() as session:
        page = session.scalars(select(IntakePage).where(IntakePage.batch_id == batch_id)).one()
    code = next(code for code, name in printed.names.items() if name == "李秀兰")
    found = client.get(f"/intake/pages/{page.id}?q={code}").get_data(as_text=True)
    answer = client.post(f"/intake/pages/{page.id}/assign",
                         data={"csrf_token": csrf_token(found), "archive_code": code, "form_number": "8",
                               "form_page": "1"})
    assert answer.status_code == 303 and answer.headers["Location"].endswith(f"/intake/{batch_id}")
    with committed_db.reader() as session:
        filed = session.get(IntakePage, page.id)
        assert (filed.outcome, filed.archive_code, filed.form_number, filed.form_page, filed.how) == (
            "filed", code, 8, 1, "manual")
        event = session.scalars(select(Event).where(Event.kind == "form.returned", Event.entity_id == code)).one()
        assert event.data["received_on"] == "2026-11-20" and event.data["batch"] == batch_id
        assert event.data["form"] == "高血压患者随访服务记录表"
    resident = client.get(f"/residents/{code}").get_data(as_text=True)
    assert "回收的表单" in resident and "高血压患者随访服务记录表" in resident and "人工指定" in resident
    batch = client.get(f"/intake/{batch_id}").get_data(as_text=True)
    assert "李秀兰" in batch and "已归档 1" in batch


def test_the_same_stack_again_is_reported_as_duplicates_and_one_is_filed_anyway(
        client: FlaskClient, auth: AuthActions, committed_db: Database, printed: Printed, tmp_path: Path) -> None:
    auth.login("clerk")
    path, truths = scanned_stack(printed, tmp_path / "again.tif", which=slice(2, 3),
                                 scanner=Scanner(seed=5, blank_backs=0))
    first = read_through(client, upload(client, (path.read_bytes(), "again.tif")))
    second = read_through(client, upload(client, (path.read_bytes(), "again.tif")))
    with committed_db.reader() as session:
        outcomes = dict(session.execute(select(IntakePage.batch_id, func.count(IntakePage.id))
                                        .where(IntakePage.outcome == "filed").group_by(IntakePage.batch_id)).all())
        duplicates = list(session.scalars(select(IntakePage).where(IntakePage.batch_id == second,
                                                                   IntakePage.outcome == "duplicate")))
    assert outcomes == {first: len(truths)} and len(duplicates) == len(truths)
    page = client.get(f"/intake/pages/{duplicates[0].id}").get_data(as_text=True)
    assert "已经归档过" in page
    again = client.post(f"/intake/pages/{duplicates[0].id}/file", data={"csrf_token": csrf_token(page)})
    assert again.status_code == 303
    with committed_db.reader() as session:
        assert session.get(IntakePage, duplicates[0].id).outcome == "filed"
    history = client.get("/intake").get_data(as_text=True)
    assert f"第 {first} 批" in history and f"第 {second} 批" in history


@pytest.mark.parametrize(("content", "name", "words", "status"), [
    (b"PK\x03\x04not a scan", "名单.pdf", "不是 PDF 或 TIFF 文件", 400),
    (b"%PDF-1.7\n garbage", "broken.pdf", "无法读取", 400),
    (b"hello", "notes.txt", "只能上传 PDF 或 TIFF 文件", 400),
])
def test_a_file_that_is_no_scan_is_refused_with_a_message_and_nothing_is_kept(
        client: FlaskClient, auth: AuthActions, committed_db: Database, app, content: bytes, name: str,
        words: str, status: int) -> None:
    auth.login("clerk")
    response = upload(client, (content, name))
    assert response.status_code == status
    assert words in response.get_data(as_text=True)
    with committed_db.reader() as session:
        assert session.scalar(select(func.count(IntakeBatch.id))) == 0
    uploads = app.extensions["archiveprint"].settings.instance_dir / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())


def test_a_page_too_large_to_draw_is_refused_before_a_job_starts(client: FlaskClient, auth: AuthActions,
                                                                  committed_db: Database) -> None:
    from PIL import Image

    auth.login("clerk")
    huge = io.BytesIO()
    Image.new("1", (9000, 7000), 1).save(huge, "TIFF", compression="group4")  # 63 megapixels, a few KB
    response = upload(client, (huge.getvalue(), "bomb.tif"))
    assert response.status_code == 413
    assert "扫描文件过大" in response.get_data(as_text=True) and "百万像素" in response.get_data(as_text=True)
    with committed_db.reader() as session:
        assert session.scalar(select(func.count(IntakeBatch.id))) == 0


def test_the_site_keeps_previews_of_filed_pages_shown_on_the_resident_page_and_audited(
        client: FlaskClient, auth: AuthActions, committed_db: Database, printed: Printed, tmp_path: Path) -> None:
    auth.login("admin")
    index = client.get("/intake").get_data(as_text=True)
    assert "不保留" in index
    saved = client.post("/intake/settings", data={"csrf_token": csrf_token(index), "keep_images": "preview"})
    assert saved.status_code == 303
    assert "保留小图" in client.get("/intake").get_data(as_text=True)
    path, _truths = scanned_stack(printed, tmp_path / "keep.pdf", which=slice(2, 3),
                                  scanner=Scanner(seed=8, blank_backs=0))
    batch_id = read_through(client, upload(client, (path.read_bytes(), "keep.pdf")))
    with committed_db.reader() as session:
        filed = list(session.scalars(select(IntakePage).where(IntakePage.batch_id == batch_id,
                                                              IntakePage.outcome == "filed")))
        assert filed and all(page.image.endswith("-preview.jpg") for page in filed)
        assert session.scalars(select(Event).where(Event.kind == "intake.keep_images")).one().data == {
            "before": "none", "after": "preview"}
    resident = client.get(f"/residents/{filed[0].archive_code}").get_data(as_text=True)
    assert f"/intake/pages/{filed[0].id}/image" in resident
    picture = client.get(f"/intake/pages/{filed[0].id}/image")
    assert picture.status_code == 200 and len(picture.data) < 80_000
    with committed_db.reader() as session:
        assert session.scalar(select(func.count(AuditEntry.id)).where(
            AuditEntry.action == "view", AuditEntry.subject_id == filed[0].archive_code,
            AuditEntry.detail.like("回收归档页面图像%"))) == 1


def test_only_clerks_and_admins_take_in_stacks_and_a_village_doctor_sees_only_his_villages_pictures(
        client: FlaskClient, auth: AuthActions, committed_db: Database, printed: Printed, tmp_path: Path) -> None:
    auth.login("admin", username="boss")
    index = client.get("/intake").get_data(as_text=True)
    client.post("/intake/settings", data={"csrf_token": csrf_token(index), "keep_images": "full"})
    path, _truths = scanned_stack(printed, tmp_path / "all.pdf", which=slice(2, 3),
                                  scanner=Scanner(seed=9, blank_backs=0))
    batch_id = read_through(client, upload(client, (path.read_bytes(), "all.pdf")))
    with committed_db.reader() as session:
        filed = {page.archive_code: page.id for page in session.scalars(
            select(IntakePage).where(IntakePage.batch_id == batch_id, IntakePage.outcome == "filed"))}
    auth.logout()
    auth.login("viewer")
    assert "本年回收统计" in client.get("/").get_data(as_text=True)
    returns = client.get("/intake/returns").get_data(as_text=True)
    assert "2026 年回收的表单" in returns and "东村" in returns and "西村" in returns
    assert client.get("/intake").status_code == 403
    auth.logout()
    auth.login("village_doctor", villages=("202",))
    assert client.get("/intake").status_code == 403
    assert client.get(f"/intake/{batch_id}").status_code == 403
    west = next(code for code, name in printed.names.items() if name == "李西山")
    east = next(code for code, name in printed.names.items() if name == "赵大山")
    assert client.get(f"/intake/pages/{filed[west]}/image").status_code == 200
    assert client.get(f"/intake/pages/{filed[east]}/image").status_code == 404


def test_a_stack_may_be_larger_than_a_register_file_but_not_than_the_intake_limit(
        client: FlaskClient, auth: AuthActions, app, committed_db: Database) -> None:
    """The app's upload limit is for register files; a stack's is the intake limit (ARCHIVEPRINT_INTAKE_MAX_MB)."""
    from PIL import Image

    app.config["MAX_CONTENT_LENGTH"] = 200_000  # a small app-wide limit stands in for 64 MB
    auth.login("clerk")
    pages = io.BytesIO()
    noise = Image.effect_noise((700, 990), 60)
    noise.save(pages, "PDF", save_all=True, append_images=[noise] * 2, resolution=85.0)
    assert len(pages.getvalue()) > 300_000
    response = upload(client, (pages.getvalue(), "big.pdf"))
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    page = client.get("/import")
    too_big = post_multipart(client, "/import", MultiDict([
        ("csrf_token", csrf_token(page)), ("file", FileStorage(io.BytesIO(pages.getvalue()), filename="x.csv"))]))
    assert too_big.status_code == 413


def test_the_intake_pages_speak_english_too(client: FlaskClient, auth: AuthActions, committed_db: Database,
                                            printed: Printed, tmp_path: Path) -> None:
    auth.login("admin")
    path, _truths = scanned_stack(printed, tmp_path / "en.pdf", which=slice(3, None),
                                  scanner=Scanner(seed=4, mode="bw", blank_backs=0))
    batch_id = read_through(client, upload(client, (path.read_bytes(), "en.pdf")))
    client.set_cookie("lang", "en")
    index = client.get("/intake").get_data(as_text=True)
    assert "Upload and read" in index and "Pictures of filed pages" in index and "上传并读取" not in index
    batch = client.get(f"/intake/{batch_id}").get_data(as_text=True)
    assert "Pages to decide" in batch and "No re-filing barcode was read" in batch
    assert "The archive code in the barcode is not in this archive&#39;s register" in batch
    with committed_db.reader() as session:
        waiting = session.scalars(select(IntakePage).where(IntakePage.batch_id == batch_id,
                                                           IntakePage.reason == "no_mark")).one()
    page = client.get(f"/intake/pages/{waiting.id}").get_data(as_text=True)
    assert "Whose page is it" in page and "Set aside (do not file)" in page
