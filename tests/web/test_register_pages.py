"""Register pages through the real login, CSRF and database: search, resident, household, villages, audit, errors."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from archiveprint.accounts.models import AuditEntry
from archiveprint.register.codes import format_code
from archiveprint.register.models import ImportRun, Resident
from tests.web.conftest import PASSWORD, csrf_token, faulty_export, good_export


class Tags(HTMLParser):
    """The element names and the text of a page, as a browser would build them."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def audit_rows(committed_db, action: str | None = None) -> list[AuditEntry]:
    with committed_db.reader() as session:
        stmt = select(AuditEntry).order_by(AuditEntry.id)
        if action:
            stmt = stmt.where(AuditEntry.action == action)
        return list(session.scalars(stmt))


# --- sign-in ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/", "/?q=zsf", "/residents/13012310020100001", "/households/1", "/villages",
                                 "/import"])
def test_every_page_with_people_needs_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_every_view_but_login_and_static_checks_a_permission(app):
    public = {"auth.login", "auth.logout", "static", "font", "i18n.switch"}
    unguarded = [name for name, view in app.view_functions.items()
                 if name not in public and not hasattr(view, "permission")]
    assert unguarded == []


def test_wrong_password_is_refused_with_a_chinese_message(client, auth):
    username = auth.create("clerk")
    response = auth.sign_in(username, "not-the-password")
    assert response.status_code == 200
    assert "用户名或密码错误" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_sign_in_returns_to_the_page_asked_for_and_sign_out_ends_it(client, auth):
    username = auth.create("doctor")
    page = client.get("/login?next=/villages")
    response = client.post("/login?next=/villages",
                           data={"username": username, "password": PASSWORD, "csrf_token": csrf_token(page)})
    assert response.headers["Location"] == "/villages"
    home = client.get("/").get_data(as_text=True)
    assert "doctor显示名" in home and "医生" in home
    assert auth.logout().headers["Location"] == "/login"
    assert client.get("/").status_code == 302


def test_sign_in_never_redirects_off_site(client, auth):
    username = auth.create("clerk")
    page = client.get("/login")
    response = client.post("/login?next=//evil.example/x",
                           data={"username": username, "password": PASSWORD, "csrf_token": csrf_token(page)})
    assert response.headers["Location"] == "/"


# --- search -------------------------------------------------------------------------------------------------

def test_search_by_pinyin_initials_lists_the_resident_and_audits_who_was_listed(client, auth, people, committed_db):
    auth.login("clerk")
    html = client.get("/?q=zsf").get_data(as_text=True)
    assert format_code(people.head) == "130123-100-201-00002"
    assert "130123-100-201-00002" in html
    for text in ("张三丰", "1956-03-07", "东村", "第1户", "男"):
        assert text in html
    (row,) = audit_rows(committed_db, "search")
    assert (row.username, row.subject_type, row.subject_id) == ("clerk-user", "resident", "initials")
    assert row.detail.startswith("results=1 resident_ids=")


def test_search_by_id_number_never_stores_the_number(client, auth, people, committed_db):
    auth.login("doctor")
    html = client.get(f"/?q={people.head_id_number}").get_data(as_text=True)
    assert "130123-100-201-00002" in html
    (row,) = audit_rows(committed_db, "search")
    assert row.subject_id == "id_number"
    assert people.head_id_number not in row.detail
    assert people.head_id_number[6:14] not in row.detail


def test_closed_record_shows_its_badge(client, auth, people):
    auth.login("viewer")
    html = client.get("/?q=赵老汉").get_data(as_text=True)
    assert 'class="badge badge-closed">已结案' in html


def test_search_with_no_result_says_so(client, auth, people):
    auth.login("clerk")
    assert "没有找到匹配的居民" in client.get("/?q=欧阳不存在").get_data(as_text=True)


# --- resident, household, villages ---------------------------------------------------------------------------

def test_resident_page_masks_the_id_number_until_asked_and_audits_both(client, auth, people, committed_db):
    auth.login("clerk")
    page = client.get(f"/residents/{people.head}")
    html = page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    assert people.head_id_number not in html
    assert people.head_id_number[:4] + "*" * 10 + people.head_id_number[14:] in html
    for text in ("张三丰", "东村", "第1户", "130123100201008", "户主", "2020-05-01", "高血压", "老年人",
                 "13800000002", "东村1组8号", "建档", "修改信息", "13800000001"):
        assert text in html, text
    assert [(r.action, r.subject_id) for r in audit_rows(committed_db)] == [("view", people.head)]

    revealed = client.post(f"/residents/{people.head}/id-number", data={"csrf_token": csrf_token(page)})
    assert revealed.status_code == 200
    assert people.head_id_number in revealed.get_data(as_text=True)
    rows = audit_rows(committed_db, "view_id")
    assert [(r.subject_type, r.subject_id, r.username) for r in rows] == [("resident", people.head, "clerk-user")]
    assert all(people.head_id_number not in r.detail for r in audit_rows(committed_db))


def test_household_page_lists_members_in_folder_order(client, auth, people, committed_db):
    auth.login("village_doctor", villages=("201",))
    html = client.get(f"/households/{people.household}").get_data(as_text=True)
    positions = [html.index(format_code(code)) for code in (people.head, people.son, people.spouse)]
    assert positions == sorted(positions)  # head first, then by code: 00002, 00001, 00003
    assert html.index("张三丰") < html.index("张伟") < html.index("李秀英")
    assert "130123100201008" in html and "东村1组8号" in html
    (row,) = audit_rows(committed_db, "view")
    assert (row.subject_type, row.subject_id) == ("household", str(people.household))
    assert people.head in row.detail


def test_villages_page_counts_households_and_residents(client, auth, people):
    auth.login("viewer")
    html = client.get("/villages").get_data(as_text=True)
    assert "130123100201" in html and "东村" in html and "西村" in html and "城关社区" in html
    assert '<td class="num">2</td>\n        <td class="num">5</td>' in html


def test_names_are_text_never_markup(client, auth, people):
    auth.login("clerk")
    for url in (f"/residents/{people.odd_name}", "/?q=王", f"/households/{_household_of(client, people)}"):
        html = client.get(url).get_data(as_text=True)
        parsed = Tags(html)
        assert "b" not in parsed.tags, url
        assert "<b>王</b>" in "".join(parsed.text), url
        assert "&lt;b&gt;王&lt;/b&gt;" in html
    html = client.get(f"/residents/{people.rare_name}").get_data(as_text=True)
    assert "𠮷" in html


def _household_of(client, people) -> str:
    html = client.get(f"/residents/{people.odd_name}").get_data(as_text=True)
    start = html.index('href="/households/') + len('href="/households/')
    return html[start:html.index('"', start)]


# --- errors, permissions, CSRF ----------------------------------------------------------------------------

def test_unknown_or_malformed_codes_get_chinese_pages(client, auth, people):
    auth.login("clerk")
    missing = client.get("/residents/13012310020199999")
    assert missing.status_code == 404
    assert "没有这个档案编号" in missing.get_data(as_text=True)
    malformed = client.get("/residents/12345")
    assert malformed.status_code == 400
    assert "档案编号应为17位数字" in malformed.get_data(as_text=True)
    assert "Traceback" not in malformed.get_data(as_text=True)
    assert client.get("/households/999999").status_code == 404
    nowhere = client.get("/no/such/page")
    assert nowhere.status_code == 404 and "找不到页面" in nowhere.get_data(as_text=True)


def test_village_doctor_may_not_import(client, auth):
    auth.login("village_doctor")
    response = client.get("/import")
    assert response.status_code == 403
    assert "没有权限" in response.get_data(as_text=True)
    assert "导入" not in Tags(client.get("/").get_data(as_text=True)).text


def test_a_post_without_its_csrf_token_is_refused_in_chinese(client, auth, people, committed_db):
    auth.login("clerk")
    response = client.post(f"/residents/{people.head}/id-number", data={})
    assert response.status_code == 400
    assert "页面已过期" in response.get_data(as_text=True)
    assert people.head_id_number not in response.get_data(as_text=True)
    assert audit_rows(committed_db, "view_id") == []


def test_logout_needs_a_csrf_token_too(client, auth):
    auth.login("clerk")
    assert client.post("/logout", data={}).status_code == 400
    assert client.get("/").status_code == 200


# --- languages ---------------------------------------------------------------------------------------------

def test_english_is_one_click_away_and_chinese_is_the_default(client, auth, people):
    auth.login("clerk")
    assert "村(居)委会" in client.get("/villages").get_data(as_text=True)
    switched = client.get("/lang/en?next=/villages")
    assert switched.headers["Location"] == "/villages"
    html = client.get("/villages").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Villages" in html and "Households" in html and "Clerk" in html
    assert "东村" in html  # data stays as it is
    client.get("/lang/zh_CN?next=/")
    assert '<html lang="zh-CN">' in client.get("/villages").get_data(as_text=True)
    assert client.get("/lang/fr").status_code == 404


# --- import -------------------------------------------------------------------------------------------------

def upload(client, path, *, add_villages: bool = False, name: str | None = None):
    page = client.get("/import")
    data = {"csrf_token": csrf_token(page), "file": (BytesIO(path.read_bytes()), name or path.name)}
    if add_villages:
        data["add_villages"] = "y"
    return client.post("/import", data=data, content_type="multipart/form-data")


def count(committed_db, model) -> int:
    with committed_db.reader() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_a_faulty_file_lists_every_problem_and_writes_nothing(client, auth, township, committed_db, tmp_path):
    auth.login("clerk")
    response = upload(client, faulty_export(tmp_path / "东村登记表.csv"))
    assert response.status_code == 303
    report = client.get(response.headers["Location"])
    html = report.get_data(as_text=True)
    assert "发现 3 个问题，没有写入任何数据" in html
    problems = re.findall(r'<tr><td class="num">(\d+)</td><td class="nowrap">([^<]+)</td><td class="value">(.*?)</td>'
                          r'<td class="reason">([^<]+)</td></tr>', html)
    assert [(row, column) for row, column, _value, _reason in problems] == [
        ("3", "身份证号"), ("4", "档案编号"), ("5", "姓名")]
    assert "校验位错误" in problems[0][3] and "不属于本乡镇" in problems[1][3] and "缺少姓名" in problems[2][3]
    assert "确认导入" not in html
    assert count(committed_db, Resident) == 0
    assert count(committed_db, ImportRun) == 0

    with client.get(response.headers["Location"] + "/errors.xlsx") as download:
        assert download.status_code == 200
        assert "attachment" in download.headers["Content-Disposition"]
        workbook = load_workbook(BytesIO(download.data))
    rows = [tuple(row) for row in workbook["错误"].iter_rows(values_only=True)]
    assert rows[0] == ("行号", "列", "值", "原因")
    assert [(row[0], row[1]) for row in rows[1:]] == [(3, "身份证号"), (4, "档案编号"), (5, "姓名")]
    actions = [(r.action, r.detail.split()[0]) for r in audit_rows(committed_db)]
    assert actions == [("import", "dry_run"), ("export", "error")]


def test_a_good_file_is_checked_then_written_once_confirmed(client, auth, township, committed_db, tmp_path):
    auth.login("clerk")
    path = good_export(tmp_path / "register.csv")
    refused = client.get(upload(client, path).headers["Location"]).get_data(as_text=True)
    assert "村(居)委会“南村”未登记" in refused  # 南村 needs registering first (or the 自动登记新村 box)

    response = upload(client, path, add_villages=True)
    report = client.get(response.headers["Location"])
    html = report.get_data(as_text=True)
    assert "检查通过，尚未写入" in html and "203 南村" in html
    assert count(committed_db, Resident) == 0

    confirmed = client.post(response.headers["Location"] + "/apply", data={"csrf_token": csrf_token(report)})
    assert confirmed.status_code == 303
    done = client.get(confirmed.headers["Location"]).get_data(as_text=True)
    assert "导入完成" in done and "已写入：新增 3 人" in done
    assert count(committed_db, Resident) == 3
    assert count(committed_db, ImportRun) == 1
    assert "刘备" in client.get("/?q=lb").get_data(as_text=True)

    again = client.post(response.headers["Location"] + "/apply", data={"csrf_token": csrf_token(report)})
    assert again.status_code == 409
    assert "已经导入" in again.get_data(as_text=True)
    assert count(committed_db, Resident) == 3


def test_import_accepts_only_spreadsheets_and_csv(client, auth, township, tmp_path):
    auth.login("admin")
    text_file = tmp_path / "notes.txt"
    text_file.write_text("hello", encoding="utf-8")
    response = upload(client, text_file)
    assert response.status_code == 400
    assert "只能导入 .xlsx 或 .csv 文件" in response.get_data(as_text=True)


def test_an_upload_is_only_for_the_clerk_who_made_it(client, auth, township, tmp_path):
    auth.login("clerk")
    location = upload(client, good_export(tmp_path / "r.csv"), add_villages=True).headers["Location"]
    auth.logout()
    auth.login("admin")
    # #11.17: another user's upload is answered exactly like one that does not exist (the token tells nothing)
    token = location.rsplit("/", 1)[1]
    other, missing = client.get(location), client.get(location.replace(token, "A" * len(token)))
    assert (other.status_code, missing.status_code) == (404, 404)
    main = other.get_data(as_text=True).partition("<main")[2].partition("</main>")[0]
    assert main.replace(token, "A" * len(token)) == missing.get_data(as_text=True).partition("<main")[2] \
        .partition("</main>")[0]
    assert "不是您上传的" in other.get_data(as_text=True)
    assert "r.csv" not in other.get_data(as_text=True)
    assert client.get("/import/not-a-token").status_code == 404
