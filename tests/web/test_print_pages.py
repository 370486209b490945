"""The print centre through the real login, CSRF and database: preview, jobs, downloads, audit, custom sets."""

from __future__ import annotations

import base64
import io
import re
from urllib.parse import quote

import pytest
from PIL import Image
from sqlalchemy import select

from archiveprint.accounts.models import AuditEntry, User
from archiveprint.jobs import queue as jobqueue
from archiveprint.jobs.models import STATUSES
from archiveprint.jobs.runners import run_job
from archiveprint.register.codes import format_code
from archiveprint.web.forms import DISPATCHER
from archiveprint.web.i18n import JOB_STATUS_LABELS
from tests.pdfcheck import check_structure, compact, page_texts, read
from tests.waiting import eventually
from tests.web.conftest import csrf_token

THUMBNAIL = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')




def print_input(client, **values: object) -> dict[str, object]:
    """The print centre's fields as a browser posts them (ticked boxes only), with the page's CSRF token."""
    data: dict[str, object] = {"csrf_token": csrf_token(client.get("/print")), "form_set": "form:personal_info",
                               "village": "", "household": "", "tag": "", "codes": "", "copies": "1",
                               "split_pages": ""}
    for key, value in values.items():
        if value is True:
            data[key] = "y"
        elif value is not False:
            data[key] = value
    return data


def audit_rows(committed_db, action: str) -> list[AuditEntry]:
    with committed_db.reader() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def user_id(committed_db, username: str) -> int:
    with committed_db.reader() as session:
        return session.scalar(select(User.id).where(User.username == username))


def wait_until_finished(client, job_id: int, seconds: float = 90) -> dict[str, object]:
    def finished() -> dict[str, object] | None:
        state = client.get(f"/print/jobs/{job_id}.json").get_json()
        return state if state["finished"] else None
    return eventually(finished, what=f"job {job_id} finished", seconds=seconds, every=0.2)


def fetch(client, url: str) -> bytes:
    """A download's bytes (the response is closed, so its file is too)."""
    with client.get(url) as response:
        assert response.status_code == 200, url
        return response.get_data()


def job_id_of(response) -> int:
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    found = re.fullmatch(r"/print/jobs/(\d+)", response.headers["Location"])
    assert found, response.headers["Location"]
    return int(found.group(1))


# --- access ---------------------------------------------------------------------------------------------------

def test_printing_needs_the_print_permission(client, auth, people):
    auth.login("viewer")
    home = client.get("/").get_data(as_text=True)
    assert "打印中心" not in home
    assert client.get("/print").status_code == 403
    token = csrf_token(home)
    response = client.post("/print/start",
                           data={"csrf_token": token, "form_set": "form:personal_info", "village": "201"})
    assert response.status_code == 403
    assert "没有权限" in response.get_data(as_text=True)
    assert audit_rows(auth.database, "print") == []


def test_a_village_doctor_may_print_but_not_define_sets(client, auth, people):
    auth.login("village_doctor", villages=("201",))
    page = client.get("/print")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "打印中心" in html and "新建档套表" in html and "东村" in html and "高血压" in html
    sets = client.get("/print/sets").get_data(as_text=True)
    assert "新建自定义套组" not in sets
    response = client.post("/print/sets", data={"csrf_token": csrf_token(sets), "name": "我的套组",
                                                "forms-0": "personal_info"})
    assert response.status_code == 403


# --- preview --------------------------------------------------------------------------------------------------

def test_preview_shows_the_page_count_and_thumbnails_of_the_first_residents_pages(client, auth, people,
                                                                                 committed_db):
    auth.login("clerk")
    response = client.post("/print/preview", data=print_input(client, form_set="set:new_record", village="201"))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    # 东村: 5 residents in 2 households; 新建档套表 = 封面 1 + 个人基本信息表 1 + 健康体检表 4 pages (A4 only).
    assert re.search(r'id="preview-residents">5<', html) and re.search(r'id="preview-pages">30<', html)
    assert "5 人，共 30 页" in html
    pictures = THUMBNAIL.findall(html)
    assert len(pictures) == 6
    first = Image.open(io.BytesIO(base64.b64decode(pictures[0])))
    assert first.format == "PNG" and 300 < first.width < 360 and first.height > first.width
    assert "健康体检表" in html and f'<span class="code">{format_code(people.head)}</span>' in html
    # The pictures show the first resident in filing order (the head of household 1): that view is audited.
    views = audit_rows(committed_db, "view")
    assert [(row.subject_type, row.subject_id) for row in views] == [("resident", people.head)]
    assert "打印预览" in views[0].detail and views[0].user_id == user_id(committed_db, "clerk-user")
    assert audit_rows(committed_db, "print") == []


def test_preview_of_blank_copies_shows_no_one(client, auth, people, committed_db):
    auth.login("doctor")
    response = client.post("/print/preview", data=print_input(client, form_set="form:personal_info", blank=True,
                                                                copies="3", duplex=True))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "空白表，共 6 页" in html and "一份空白表" in html
    assert len(THUMBNAIL.findall(html)) == 1
    assert audit_rows(committed_db, "view") == []


def test_issue_10_3_the_form_and_the_set_of_one_id_are_two_choices(client, auth, people, committed_db, recording):
    auth.login("clerk")
    center = client.get("/print").get_data(as_text=True)
    assert '<option value="set:encounter">接诊与会诊</option>' in center
    assert '<option value="form:encounter">接诊记录表</option>' in center
    single = client.post("/print/preview", data=print_input(client, form_set="form:encounter", household="201-1"))
    html = single.get_data(as_text=True)
    assert single.status_code == 200 and "3 人，共 3 页" in html and len(THUMBNAIL.findall(html)) == 1
    assert re.findall(r"<figcaption>([^<]+)</figcaption>", html) == ["接诊记录表"]
    both = client.post("/print/preview", data=print_input(client, form_set="set:encounter", household="201-1"))
    assert "3 人，共 6 页" in both.get_data(as_text=True)
    job_id = job_id_of(client.post("/print/start", data=print_input(client, form_set="form:encounter",
                                                                     household="201-1")))
    with committed_db.reader() as session:
        params = jobqueue.get_job(session, job_id).params
    assert (params["set"], params["set_kind"], params["set_name"]) == ("encounter", "form", "接诊记录表")


def test_preview_names_typed_codes_that_are_not_in_the_register(client, auth, people):
    auth.login("clerk")
    codes = f"{format_code(people.head)}\n13012310020100099\n"
    html = client.post("/print/preview", data=print_input(client, codes=codes)).get_data(as_text=True)
    assert "1 人，共 1 页" in html
    warning = re.search(r'id="unknown-codes">(.*?)</p>', html, re.S)
    assert warning and re.fullmatch(r"1 个档案编号在档案中没有找到，不会打印：\s*<span[^>]*>13012310020100099</span>",
                                    warning.group(1).strip())


@pytest.mark.parametrize(("values", "message", "status"), [
    ({}, "请选择打印范围", 400),
    ({"household": "东村17"}, "户的格式为", 400),
    ({"household": "201-99"}, "没有这一户", 400),
    ({"codes": "12345"}, "档案编号应为17位数字", 400),
    ({"tag": "没有的人群"}, "不是有效的选择", 400),
    ({"village": "202", "tag": "高血压"}, "打印范围内没有在档居民", 400),
])
def test_bad_choices_are_explained_and_start_nothing(client, auth, people, committed_db, recording, values, message,
                                                     status):
    auth.login("clerk")
    for url in ("/print/preview", "/print/start"):
        response = client.post(url, data=print_input(client, **values))
        assert response.status_code == status
        html = response.get_data(as_text=True)
        assert message in html or message in html.replace("&#34;", '"'), html[:3000]
    assert recording.submitted == []
    with committed_db.reader() as session:
        assert jobqueue.list_jobs(session) == []


def test_start_refuses_names_the_font_cannot_draw_unless_told_to_go_on(client, auth, people, committed_db,
                                                                       recording):
    from archiveprint.register import services
    from tests.conftest import ACTOR

    with committed_db.transaction() as session:
        household = services.create_household(session, services.find_village(session, "202"), head_name="张\U00031350",
                                              actor=ACTOR)
        services.register_resident(session, household, name="张\U00031350", sex="1", relation_to_head="户主",
                                   actor=ACTOR)
    auth.login("clerk")
    preview = client.post("/print/preview", data=print_input(client, village="202")).get_data(as_text=True)
    assert "含字体缺少的字" in preview
    refused = client.post("/print/start", data=print_input(client, village="202"))
    assert refused.status_code == 400 and "字体缺少" in refused.get_data(as_text=True)
    assert recording.submitted == []
    job_id_of(client.post("/print/start", data=print_input(client, village="202", allow_missing_glyphs=True)))
    assert len(recording.submitted) == 1


# --- jobs -----------------------------------------------------------------------------------------------------

def test_a_print_job_runs_to_a_downloadable_pdf_and_every_print_and_download_is_audited(client, auth, people,
                                                                                        committed_db):
    auth.login("clerk")
    values = {"form_set": "form:personal_info", "village": "201", "duplex": True, "separators": True}
    preview = client.post("/print/preview", data=print_input(client, **values)).get_data(as_text=True)
    # 2 households × (separator + blank back) + 5 residents × (1 page + blank back)
    assert re.search(r'id="preview-pages">14<', preview)

    job_id = job_id_of(client.post("/print/start", data=print_input(client, **values)))
    state = wait_until_finished(client, job_id)  # the app's own local dispatcher thread runs it
    assert state["status"] == "done" and state["label"] == "完成" and state["percent"] == 100
    assert (state["pages"], state["done"], state["total"]) == (14, 5, 5)

    page = client.get(f"/print/jobs/{job_id}").get_data(as_text=True)
    assert "完成" in page and "已生成 14 页" in page and "jobs.js" not in page
    link = re.search(r'href="(/print/jobs/\d+/files/[^"]+)"', page)
    assert link
    with client.get(link.group(1)) as download:
        assert download.status_code == 200 and download.mimetype == "application/pdf"
        disposition = download.headers["Content-Disposition"]
        pdf = download.get_data()
    # Issue #10.14: saved as what it holds, whose and the day (RFC 5987 filename*), with an ASCII fallback
    assert disposition == ("attachment; filename=\"personal_info-201-20261125.pdf\"; filename*=UTF-8''"
                           + quote("个人基本信息表-东村-20261125.pdf"))
    assert "下载 个人基本信息表-东村-20261125.pdf" in client.get(f"/print/jobs/{job_id}").get_data(as_text=True)
    assert len(read(pdf).pages) == 14
    texts = [compact(text) for text in page_texts(pdf)]
    assert texts[0].startswith("分户页") and "张三丰" in texts[2]

    clerk = user_id(committed_db, "clerk-user")
    prints = audit_rows(committed_db, "print")
    assert len(prints) == 5 and {row.user_id for row in prints} == {clerk}
    assert people.head in {row.subject_id for row in prints} and people.closed not in {r.subject_id for r in prints}
    exports = audit_rows(committed_db, "export")
    assert [(row.subject_type, row.subject_id, row.user_id) for row in exports] == [("print_job", str(job_id), clerk)]

    listing = client.get("/print/jobs").get_data(as_text=True)
    assert f"/print/jobs/{job_id}" in listing and "个人基本信息表" in listing and "东村" in listing


def test_a_split_job_offers_the_zip_and_each_part(client, auth, people, committed_db, recording, app):
    auth.login("clerk")
    job_id = job_id_of(client.post("/print/start", data=print_input(client, form_set="form:health_check",
                                                                     village="201", split_pages="10")))
    assert recording.submitted == [job_id]
    assert client.get(f"/print/jobs/{job_id}.json").get_json()["label"] == "排队中"
    assert "jobs.js" in client.get(f"/print/jobs/{job_id}").get_data(as_text=True)
    run_job(job_id, settings=app.extensions["archiveprint"].settings, database=committed_db)
    page = client.get(f"/print/jobs/{job_id}").get_data(as_text=True)
    links = re.findall(r'href="(/print/jobs/\d+/files/[^"]+)"', page)
    assert [link.rsplit("/", 1)[1] for link in links] == [
        "health_check-201-20261125.zip", "health_check-201-20261125-001.pdf", "health_check-201-20261125-002.pdf",
        "health_check-201-20261125-003.pdf"]
    assert "健康体检表-东村-20261125-002.pdf" in page
    assert "下载全部（.zip）" in page
    assert [len(read(fetch(client, link)).pages) for link in links[1:]] == [8, 8, 4]
    assert len(audit_rows(committed_db, "export")) == 3


def test_downloads_are_only_the_jobs_own_files_and_only_for_their_owner_or_an_admin(client, auth, people, app,
                                                                                    committed_db, recording):
    auth.login("clerk")
    job_id = job_id_of(client.post("/print/start", data=print_input(client, village="201")))
    assert client.get(f"/print/jobs/{job_id}/files/personal_info-201-20261125.pdf").status_code == 404  # not run yet
    run_job(job_id, settings=app.extensions["archiveprint"].settings, database=committed_db)
    url = f"/print/jobs/{job_id}/files/personal_info-201-20261125.pdf"
    check_structure(fetch(client, url))  # a sound PDF, as qpdf reads it
    secret = app.extensions["archiveprint"].settings.instance_dir / "secret.txt"
    secret.write_text("not for download")
    for name in ("secret.txt", "..%2Fsecret.txt", "personal_info-201-20261125.pdf.part", "other.pdf"):
        assert client.get(f"/print/jobs/{job_id}/files/{name}").status_code == 404
    assert client.get("/print/jobs/999999").status_code == 404

    auth.logout()
    auth.login("clerk", username="another-clerk")
    for path in (f"/print/jobs/{job_id}", f"/print/jobs/{job_id}.json", url):
        # #11.17: another user's job is answered exactly like a job that does not exist (the id tells nothing)
        response = client.get(path)
        missing = client.get(path.replace(f"/print/jobs/{job_id}", "/print/jobs/999999"))
        assert (response.status_code, missing.status_code) == (404, 404)
        main = response.get_data(as_text=True).partition("<main")[2].partition("</main>")[0]
        assert main.replace(f"值“{job_id}”", "值“999999”") == missing.get_data(as_text=True).partition("<main")[2] \
            .partition("</main>")[0]
        assert "没有这个打印任务（或不是您发起的）" in response.get_data(as_text=True)
    assert f"/print/jobs/{job_id}" not in client.get("/print/jobs").get_data(as_text=True)

    auth.logout()
    auth.login("admin")
    check_structure(fetch(client, url))  # a sound PDF, as qpdf reads it
    assert f"/print/jobs/{job_id}" in client.get("/print/jobs").get_data(as_text=True)
    assert [row.username for row in audit_rows(committed_db, "export")] == ["clerk-user", "admin-user"]


def test_a_failed_job_shows_its_reason_in_chinese(client, auth, people, app, committed_db, recording):
    auth.login("admin")
    sets = client.get("/print/sets")
    client.post("/print/sets", data={"csrf_token": csrf_token(sets), "name": "临时套组", "forms-0": "encounter"})
    with committed_db.reader() as session:
        from archiveprint.forms.sets import list_custom_sets

        (custom,) = list_custom_sets(session)
    job_id = job_id_of(client.post("/print/start",
                                   data=print_input(client, form_set=f"set:{custom.key}", village="201")))
    sets = client.get("/print/sets")
    assert client.post(f"/print/sets/{custom.key}/delete", data={"csrf_token": csrf_token(sets)}).status_code == 303
    run_job(job_id, settings=app.extensions["archiveprint"].settings, database=committed_db)

    state = client.get(f"/print/jobs/{job_id}.json").get_json()
    assert (state["status"], state["label"], state["finished"]) == ("failed", "失败", True)
    page = client.get(f"/print/jobs/{job_id}").get_data(as_text=True)
    assert "打印失败" in page and "没有这个表单套组" in page and "下载" not in page.split('id="job-error"')[1][:200]
    assert audit_rows(committed_db, "print") == []


def test_issue_12_a_set_mixing_paper_sizes_is_refused_before_printing(client, auth, people, committed_db):
    """A custom set saved with the card and an A4 form (before sets were checked): the preview says why, in Chinese."""
    from archiveprint.forms.models import CustomFormSet

    with committed_db.transaction() as session:
        session.add(CustomFormSet(key="custom_mixed", name="建档加卡", forms=["cover", "card"], description="",
                                  created_by="admin-user"))
    auth.login("clerk")
    response = client.post("/print/preview", data=print_input(client, form_set="set:custom_mixed", village="201"))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert ("套组“建档加卡”的表单用了不同的纸张（A4纸：居民健康档案封面；"
            "卡片纸（85.6×54毫米）：居民健康档案信息卡）") in html
    assert 'id="preview-pages"' not in html and audit_rows(committed_db, "view") == []


def test_every_job_status_has_a_label():
    assert set(JOB_STATUS_LABELS) == set(STATUSES)


# --- custom sets ----------------------------------------------------------------------------------------------

def test_an_admin_defines_a_custom_set_prints_with_it_and_deletes_it(client, auth, people, committed_db):
    auth.login("admin")
    page = client.get("/print/sets")
    assert "新建档套表" in page.get_data(as_text=True) and "还没有自定义套组" in page.get_data(as_text=True)
    response = client.post("/print/sets", data={
        "csrf_token": csrf_token(page), "name": "慢病随访", "description": "高血压和糖尿病一起",
        "forms-0": "diabetes_followup", "forms-1": "", "forms-2": "hypertension_followup"})
    assert response.status_code == 303
    listing = client.get("/print/sets").get_data(as_text=True)
    assert "已保存套组“慢病随访”" in listing
    assert "2型糖尿病患者随访服务记录表 + 高血压患者随访服务记录表" in listing
    key = re.search(r'/print/sets/(custom_[0-9a-f]+)/delete', listing).group(1)
    center = client.get(f"/print?form_set={key}").get_data(as_text=True)
    assert "自定义套组" in center and re.search(rf'<option selected value="set:{key}">慢病随访</option>', center)

    preview = client.post("/print/preview", data=print_input(client, form_set=f"set:{key}", household="201-1"))
    assert "3 人，共 6 页" in preview.get_data(as_text=True)

    response = client.post(f"/print/sets/{key}/delete", data={"csrf_token": csrf_token(listing)})
    assert response.status_code == 303
    listing = client.get("/print/sets").get_data(as_text=True)
    assert "已删除套组“慢病随访”" in listing and key not in listing


@pytest.mark.parametrize(("fields", "message", "status"), [
    ({"name": "  ", "forms-0": "personal_info"}, "套组名称不能为空", 400),
    ({"name": "空套组"}, "请至少选择一张表单", 400),
    ({"name": "新建档套表", "forms-0": "personal_info"}, "已有同名的内置套组或表单", 409),
    ({"name": "重复", "forms-0": "cover", "forms-1": "cover"}, "同一张表单在套组中只能选一次", 400),
    ({"name": "未知", "forms-0": "no_such_form"}, "不是有效的选择", 400),
])
def test_a_bad_custom_set_is_refused_in_chinese(client, auth, committed_db, fields, message, status):
    auth.login("admin")
    response = client.post("/print/sets", data={"csrf_token": csrf_token(client.get("/print/sets")), **fields})
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    with committed_db.reader() as session:
        from archiveprint.forms.sets import list_custom_sets

        assert list_custom_sets(session) == []


def test_built_in_sets_cannot_be_deleted(client, auth):
    auth.login("admin")
    response = client.post("/print/sets/new_record/delete", data={"csrf_token": csrf_token(client.get("/print/sets"))})
    assert response.status_code == 400 and "内置套组不能删除" in response.get_data(as_text=True)


# --- dispatcher and language ----------------------------------------------------------------------------------

def test_with_redis_configured_jobs_go_to_rq_and_an_unreachable_queue_fails_the_job_visibly(committed_db, tmp_path,
                                                                                            people):
    from archiveprint.config import Settings
    from archiveprint.web import create_app
    from tests.conftest import TODAY
    from tests.web.conftest import AuthActions

    settings = Settings(instance_dir=tmp_path / "instance", secret_key="k", redis_url="redis://127.0.0.1:1/0",
                        database_url=committed_db.engine.url.render_as_string(hide_password=False))
    app = create_app(settings, database=committed_db)
    app.config.update(TESTING=True, ARCHIVEPRINT_TODAY=TODAY)
    dispatcher = app.extensions[DISPATCHER]
    assert (dispatcher.redis_url, dispatcher.database_url) == (settings.redis_url, settings.database_url)
    client = app.test_client()
    AuthActions(client, committed_db).login("clerk")
    job_id = job_id_of(client.post("/print/start", data=print_input(client, village="201")))
    state = client.get(f"/print/jobs/{job_id}.json").get_json()
    assert state["status"] == "failed" and "无法提交任务" in state["error"]
    # The reason in words a clerk can pass on (the exception's class is in the server's log only) ...
    page = client.get(f"/print/jobs/{job_id}").get_data(as_text=True)
    assert "任务队列（Redis）连接不上" in page and "REDIS_URL" in page
    assert not re.search(r"\w*Error\b|Exception", page + state["error"])
    # ... and in the reader's language.
    client.set_cookie("lang", "en")
    english = client.get(f"/print/jobs/{job_id}").get_data(as_text=True)
    assert "cannot be reached" in english and "任务队列" not in english


def test_the_print_centre_speaks_english_when_asked(client, auth, people, app, committed_db, recording):
    auth.login("clerk")
    client.set_cookie("lang", "en")
    page = client.get("/print").get_data(as_text=True)
    assert "Print centre" in page and "Start printing" in page and "Built-in sets" in page
    preview = client.post("/print/preview", data=print_input(client, village="201")).get_data(as_text=True)
    assert "5 residents, 5 pages in all." in preview
    job_id = job_id_of(client.post("/print/start", data=print_input(client, village="201")))
    run_job(job_id, settings=app.extensions["archiveprint"].settings, database=committed_db)
    job_page = client.get(f"/print/jobs/{job_id}").get_data(as_text=True)
    assert "Done" in job_page and "5 pages are ready to download and print." in job_page
    assert client.get(f"/print/jobs/{job_id}.json").get_json()["label"] == "Done"
    assert "Custom sets" in client.get("/print/sets").get_data(as_text=True)


# --- 填表说明 (issue #12 §2) ------------------------------------------------------------------------------------

def test_issue_12_instructions_chosen_in_the_print_centre_are_counted_previewed_and_printed_by_the_job(
        client, auth, people, app, committed_db, recording):
    auth.login("clerk")
    centre = client.get("/print").get_data(as_text=True)
    assert re.search(r'<option selected value="none">不打印</option>', centre)  # none unless asked
    values = {"form_set": "set:hypertension", "village": "201", "population": "all", "instructions": "once"}
    preview = client.post("/print/preview", data=print_input(client, **values)).get_data(as_text=True)
    assert re.search(r'id="preview-pages">6<', preview)  # the 填表说明 once, then 5 residents × 1 page
    assert "其中填表说明 1 页。" in preview
    captions = re.findall(r"<figcaption>([^<]+)</figcaption>", preview)
    assert [caption.strip() for caption in captions[:2]] == ["高血压患者随访服务记录表填表说明",
                                                             "高血压患者随访服务记录表"]

    job_id = job_id_of(client.post("/print/start", data=print_input(client, **values)))
    with committed_db.reader() as session:
        job = jobqueue.get_job(session, job_id)
        assert job.params["options"]["instructions"] == "once" and job.params["expected_pages"] == 6
    run_job(job_id, settings=app.extensions["archiveprint"].settings, database=committed_db)
    job_page = client.get(f"/print/jobs/{job_id}").get_data(as_text=True)
    link = re.search(r'href="(/print/jobs/\d+/files/[^"]+)"', job_page)
    assert link
    pdf = fetch(client, link.group(1))
    texts = [compact(text) for text in page_texts(pdf)]
    assert len(texts) == 6 and texts[0].startswith("高血压患者随访服务记录表填表说明") and "张三丰" in texts[1]
    assert len(audit_rows(committed_db, "print")) == 5  # the instructions page is no resident's

    none = client.post("/print/preview", data=print_input(client, form_set="set:referral", village="201",
                                                          instructions="per_form")).get_data(as_text=True)
    assert "所选表单没有填表说明，不会另加页。" in none
    bad = client.post("/print/start", data=print_input(client, village="201", instructions="twice"))
    assert bad.status_code == 400 and "不是有效的选择" in bad.get_data(as_text=True)
    assert recording.submitted == [job_id]


def test_issue_12_the_instructions_choice_speaks_english(client, auth, people, recording):
    auth.login("clerk")
    client.set_cookie("lang", "en")
    centre = client.get("/print").get_data(as_text=True)
    assert "Filling instructions" in centre and "Once, at the front of the print" in centre
    preview = client.post("/print/preview", data=print_input(client, form_set="set:hypertension", village="201",
                                                             population="all", instructions="per_form")
                          ).get_data(as_text=True)
    assert "10 pages in all" in preview and "5 of them are filling instructions." in preview
