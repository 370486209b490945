"""Issue #10.6–10.8 through the real login, CSRF and database: villages registered from the web, the grouped
check page with its 登记这 N 个村并重新检查, and 待核实 on search and the resident page."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from archiveprint.register.idcard import make_id_number
from archiveprint.register.models import Resident, Village
from tests.web.conftest import csrf_token, good_export, write_export
from tests.web.test_register_pages import upload

SAMPLE_ID = make_id_number("130123", date(1970, 1, 1), 1)  # 男


def villages(database) -> list[tuple[str, str]]:
    with database.reader() as session:
        return [tuple(row) for row in session.execute(select(Village.code, Village.name).order_by(Village.code))]


def add(client, code: str, name: str):
    page = client.get("/villages")
    return client.post("/villages", data={"csrf_token": csrf_token(page), "code": code, "name": name})


def test_issue10_6_a_clerk_registers_a_village_on_the_villages_page(client, auth, township, committed_db):
    auth.login("clerk")
    page = client.get("/villages").get_data(as_text=True)
    assert "登记村(居)委会" in page and "archiveprint village add" not in page
    response = add(client, "２０５", " 东关村 ")  # full-width digits as a Chinese IME types them
    assert response.status_code == 303
    assert ("205", "东关村") in villages(committed_db)
    refused = add(client, "201", "北村")
    assert refused.status_code == 409
    assert "村(居)委会代码 201 已登记为“东村”" in refused.get_data(as_text=True)
    refused = add(client, "208", "东关村")
    assert refused.status_code == 409 and "村(居)委会“东关村”已登记，代码 205" in refused.get_data(as_text=True)
    refused = add(client, "2a", "北村")
    assert refused.status_code == 400 and "村代码应为3位数字（001–999）" in refused.get_data(as_text=True)
    refused = add(client, "", "")
    html = refused.get_data(as_text=True)
    assert "请填写村代码（3位数字）" in html and "请填写村(居)委会名称" in html
    assert len(villages(committed_db)) == 4


def test_issue10_6_viewers_see_no_add_form_and_cannot_post(client, auth, township, committed_db):
    auth.login("viewer")
    page = client.get("/villages")
    assert "登记村(居)委会" not in page.get_data(as_text=True)
    response = client.post("/villages", data={"csrf_token": csrf_token(client.get("/")), "code": "205",
                                              "name": "东关村"})
    assert response.status_code == 403
    assert len(villages(committed_db)) == 3


def test_issue10_6_the_check_page_registers_missing_villages_and_checks_again(client, auth, township,
                                                                            committed_db, tmp_path):
    auth.login("clerk")
    response = upload(client, good_export(tmp_path / "register.csv"))
    report_url = response.headers["Location"]
    html = client.get(report_url).get_data(as_text=True)
    assert "文件本身不用修改" in html and "请按下表修改文件" not in html
    assert "登记这 1 个村并重新检查" in html
    assert 'name="code-0" value="203"' in html
    again = client.post(f"{report_url}/villages", data={"csrf_token": csrf_token(html), "code-0": "203"})
    assert again.status_code == 303 and again.headers["Location"].endswith(report_url)
    assert ("203", "南村") in villages(committed_db)
    html = client.get(report_url).get_data(as_text=True)
    assert "检查通过，尚未写入" in html and "登记这" not in html


def test_issue10_6_a_code_the_file_cannot_give_is_asked_for(client, auth, township, committed_db, tmp_path):
    auth.login("clerk")
    path = write_export(tmp_path / "odd.csv", [
        ("13012310020500001", "东关一", "男", "", SAMPLE_ID, "户主", "东关一", "G1", "东关村1号", "东关村",
         "", "", ""),
        ("13012310020600001", "东关二", "", "", "", "户主", "东关二", "G2", "东关村2号", "东关村", "", "", ""),
    ])
    report_url = upload(client, path).headers["Location"]
    html = client.get(report_url).get_data(as_text=True)
    assert "文件中“东关村”的档案编号用了不同的村代码（205、206），请填写这个村的3位代码" in html
    blank = client.post(f"{report_url}/villages", data={"csrf_token": csrf_token(html), "code-0": ""})
    assert blank.status_code == 400 and "请填写“东关村”的村代码（3位数字）" in blank.get_data(as_text=True)
    taken = client.post(f"{report_url}/villages", data={"csrf_token": csrf_token(html), "code-0": "201"})
    assert taken.status_code == 400 and "代码 201 已登记为“东村”，请换一个代码" in taken.get_data(as_text=True)
    assert len(villages(committed_db)) == 3
    done = client.post(f"{report_url}/villages", data={"csrf_token": csrf_token(html), "code-0": "205"})
    assert done.status_code == 303
    html = client.get(report_url).get_data(as_text=True)
    assert ("205", "东关村") in villages(committed_db)
    assert "档案编号中的村代码 206（未登记）与所属村(居)委会“东关村”不一致" in html  # the file's own fault now


def test_issue10_8_flagged_residents_are_found_and_cleared(client, auth, township, committed_db, tmp_path):
    auth.login("clerk")
    path = write_export(tmp_path / "doubt.csv", [
        ("13012310020100001", "东一", "男", "1970-01-01", SAMPLE_ID, "户主", "东一", "H1", "东村1号", "东村",
         "1380013", "1960-05-01", ""),
    ])
    report_url = upload(client, path).headers["Location"]
    html = client.get(report_url).get_data(as_text=True)
    assert "检查通过" in html and "建档日期早于出生日期" in html
    client.post(f"{report_url}/apply", data={"csrf_token": csrf_token(html)})
    search = client.get("/").get_data(as_text=True)
    assert "待核实（1 人）" in search
    listed = client.get("/?review=1").get_data(as_text=True)
    assert "东一" in listed
    page = client.get("/residents/13012310020100001").get_data(as_text=True)
    assert "建档日期早于出生日期" in page and "1960-05-01（出生日期 1970-01-01）" in page
    for reason in ("建档日期早于出生日期", "联系电话位数不对（手机应为11位，固定电话7–8位或带区号）"):
        cleared = client.post("/residents/13012310020100001/review",
                              data={"csrf_token": csrf_token(page), "position": "0", "reason": reason})
        assert cleared.status_code == 303
    stale = client.post("/residents/13012310020100001/review",
                        data={"csrf_token": csrf_token(page), "position": "0", "reason": "建档日期早于出生日期"})
    assert stale.status_code == 303
    assert "这条待核实已被处理，请刷新页面" in client.get(stale.headers["Location"]).get_data(as_text=True)
    with committed_db.reader() as session:
        person = session.scalars(select(Resident)).one()
        assert (person.review_flags, person.registered_on) == (None, date(1960, 5, 1))
    assert "待核实（" not in client.get("/").get_data(as_text=True)
