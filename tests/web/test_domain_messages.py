"""#16.12: a refusal of the archive's rules is shown in the reader's language — the error page, a flashed refusal,
the import report's reasons and the scan station's JSON — and in Chinese exactly as the domain says it."""

from __future__ import annotations

import re

from tests.web.conftest import csrf_token, faulty_export
from tests.web.test_lending_issue10 import asked  # noqa: F401 (the lending archive with one request)
from tests.web.test_lending_pages import sign_in
from tests.web.test_register_pages import upload

SHORT_CODE = "1301231002010000"  # 16 digits: parse_code refuses it with its length as a param


def test_an_invalid_archive_code_is_refused_in_english_with_its_params(client, auth, people):
    auth.login("clerk")
    client.set_cookie("lang", "en")
    page = client.get(f"/residents/{SHORT_CODE}")
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    assert f"value “{SHORT_CODE}”: The record code must have 17 digits, not 16" in html
    assert "档案编号应为17位数字" not in html


def test_the_same_refusal_in_chinese_is_the_domain_s_message(client, auth, people):
    auth.login("clerk")
    html = client.get(f"/residents/{SHORT_CODE}").get_data(as_text=True)
    assert f"值“{SHORT_CODE}”：档案编号应为17位数字，实际16位" in html


def _reasons(html: str) -> list[str]:
    return re.findall(r'<td class="reason">([^<]+)</td></tr>', html)


def test_a_bad_import_row_is_explained_in_english(client, auth, township, tmp_path):
    auth.login("clerk")
    client.set_cookie("lang", "en")
    report = client.get(upload(client, faulty_export(tmp_path / "东村登记表.csv")).headers["Location"])
    reasons = _reasons(report.get_data(as_text=True))
    assert len(reasons) == 3
    assert reasons[0].startswith("The ID number&#39;s check digit is wrong: the last character should be “")
    assert reasons[1] == "The record code does not belong to this township (it should start with 130123-100)"
    assert reasons[2] == "The name is missing"


def test_the_same_import_rows_in_chinese(client, auth, township, tmp_path):
    auth.login("clerk")
    report = client.get(upload(client, faulty_export(tmp_path / "东村登记表.csv")).headers["Location"])
    reasons = _reasons(report.get_data(as_text=True))
    assert reasons[0].startswith("身份证号校验位错误：末位应为“")
    assert reasons[1:] == ["档案编号不属于本乡镇（应以 130123-100 开头）", "缺少姓名"]


def _refused_loan(client, code: str) -> str:
    page = client.get("/lending/checkout")
    answer = client.post("/lending/checkout", data={"code": code, "borrower": "nobody", "purpose": "follow_up",
                                                    "csrf_token": csrf_token(page)}, follow_redirects=True)
    return answer.get_data(as_text=True)


def test_a_refused_loan_is_flashed_in_english(client, asked):  # noqa: F811
    sign_in(client, "clerk1")
    client.set_cookie("lang", "en")
    html = _refused_loan(client, asked[1])
    assert "Borrower, value “nobody”: No such borrower (register them as a borrower first)" in html
    assert "没有这个借阅人" not in html


def test_a_refused_loan_in_chinese(client, asked):  # noqa: F811
    sign_in(client, "clerk1")
    assert "「借阅人」，值“nobody”：没有这个借阅人（请先登记为借阅人）" in _refused_loan(client, asked[1])


def test_the_scan_station_s_json_errors_follow_the_language(client, auth, people):
    auth.login("clerk")
    chinese = client.get("/api/v1/locate?q=")
    assert chinese.status_code == 400
    assert chinese.json["error"] == "「q」：请输入要查找的编号或姓名（最多100个字）" and chinese.json["field"] == "q"
    client.set_cookie("lang", "en")
    english = client.get("/api/v1/locate?q=").json
    assert english["error"] == "q: Enter a code or name to search for (at most 100 characters)"
    assert english["field"] == "q"  # the field as the API names it, for the station
    assert client.get("/api/v1/nothing-here").json["error"] == "No such interface or object"
