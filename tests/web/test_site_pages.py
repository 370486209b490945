"""#14 全县机构 in the web app, as the county administrator uses it: add a site (its refusals name the field and the
value in Chinese, with no traceback, server path or command-line advice), enter one, and the transfer form's
refusals. Adding a site works whatever site the administrator is in (none chosen yet, or a closed one)."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from archiveprint.accounts.models import AuditEntry, User
from archiveprint.accounts.services import create_user
from archiveprint.db import Database
from archiveprint.forms.catalog import load_catalog
from archiveprint.lending.rules import LendingRules
from archiveprint.register.models import Township, Village
from archiveprint.sites.models import Site
from archiveprint.sites.services import add_site
from tests.conftest import ACTOR, setup_township
from tests.sites import conftest as county_fixtures
from tests.sites.conftest import build_county
from tests.waiting import eventually
from tests.web.conftest import PASSWORD, AuthActions, csrf_token

NEW_SITE = {"code": "XA", "name": "新安镇卫生院", "county_code": "130123", "county_name": "正定县",
            "township_code": "102", "township_name": ""}
# What a web page never shows: a traceback, a server path, an environment variable or a command to run.
NOT_FOR_THE_WEB = re.compile(r"Traceback|File \"|/work/|/home/|site-packages|DATABASE_URL|archiveprint [a-z-]|--[a-z]")


def _text(response: TestResponse) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def _clean(response: TestResponse) -> str:
    text = _text(response)
    assert response.status_code < 500 and not NOT_FOR_THE_WEB.search(text), text[:2000]
    return text


@pytest.fixture
def county_admin(committed_db: Database, auth: AuthActions) -> str:
    with committed_db.transaction() as session:
        setup_township(session)  # the first site: 诸福屯镇卫生院, 130123-100
        create_user(session, "county", PASSWORD, "county_admin", display_name="县卫生健康局")
    assert auth.sign_in("county", PASSWORD).status_code == 302
    return "county"


def _sites(database: Database) -> list[tuple[str, str, str]]:
    with database.reader() as session:
        return [(site.code, site.name, site.status) for site in session.scalars(select(Site).order_by(Site.id))]


def _add(client: FlaskClient, **fields: str) -> TestResponse:
    token = csrf_token(client.get("/account/password"))
    return client.post("/sites", data={"csrf_token": token, **NEW_SITE, **fields})


def test_a_second_site_is_added_on_postgresql_and_refused_on_sqlite_in_words(client: FlaskClient,
                                                                             committed_db: Database,
                                                                             county_admin: str) -> None:
    answer = _add(client)  # 乡镇(街道)名称 left blank: taken from the site's name
    if committed_db.is_sqlite:
        text = _clean(answer)
        assert answer.status_code == 409 and "SQLite 只支持一个机构" in text
        assert [code for code, _name, _status in _sites(committed_db)] == ["130123100"]
        return
    assert answer.status_code == 303
    assert "已新增机构：新安镇卫生院（XA）" in _clean(client.get("/sites"))
    with committed_db.reader() as session:
        township = session.scalars(select(Township).where(Township.code == "102")).one()
        assert township.name == "新安镇"


@pytest.mark.parametrize(("fields", "where", "says"), [
    ({"code": "有 空格"}, "机构代码", "机构代码应为1–32个字符，不含空格"),
    ({"code": ""}, "机构代码", "请填写机构代码"),
    ({"name": ""}, "机构名称", "请填写机构名称"),
    ({"county_code": "13012"}, "县", "6位"),
    ({"township_code": "000"}, "乡镇(街道)代码", "乡镇(街道)代码应为3位数字（001–999）"),
    ({"township_code": "1a2"}, "乡镇(街道)代码", "乡镇(街道)代码应为3位数字（001–999）"),
])
def test_a_site_with_a_bad_field_is_refused_beside_that_field(client: FlaskClient, committed_db: Database,
                                                              county_admin: str, fields: dict[str, str], where: str,
                                                              says: str) -> None:
    answer = _add(client, **fields)
    text = _clean(answer)
    assert answer.status_code == 400 and says in text, text[-1500:]
    error = re.search(r'<p class="field-error" role="alert">([^<]*)</p>', answer.get_data(as_text=True))
    assert error is not None and says in error.group(1)
    assert len(_sites(committed_db)) == 1


def test_a_taken_code_or_township_is_refused_naming_it(client: FlaskClient, committed_db: Database,
                                                       county_admin: str) -> None:
    if committed_db.is_sqlite:
        pytest.skip("several sites need PostgreSQL")
    text = _clean(_add(client, code="130123100"))
    assert "机构代码 130123100 已被使用" in text
    text = _clean(_add(client, township_code="100"))
    assert "乡镇 130123-100 已属于机构“诸福屯镇卫生院”（130123100）" in text
    assert len(_sites(committed_db)) == 1


@pytest.fixture
def two_sites(committed_db: Database, county_admin: str) -> Database:
    if committed_db.is_sqlite:
        pytest.skip("several sites need PostgreSQL")
    with committed_db.transaction() as session:
        add_site(session, "BT", name="柏棠镇卫生院", county_code="130123", county_name="正定县", township_code="101",
                 actor=ACTOR)
    return committed_db


def test_with_several_sites_a_site_is_added_before_entering_one(client: FlaskClient, two_sites: Database) -> None:
    """The form is on 全县机构, which a county role sees before choosing a site: its answer must not be lost."""
    assert "这是新安装的档案室" not in _clean(client.get("/sites"))  # no township shown: none chosen, none to set
    answer = _add(client)
    assert answer.status_code == 303 and answer.headers["Location"] == "/sites"
    assert [code for code, _name, _status in _sites(two_sites)] == ["130123100", "BT", "XA"]


def test_a_site_is_added_from_inside_another_site(client: FlaskClient, two_sites: Database) -> None:
    """Entered in 柏棠镇卫生院, whose scope does not show 诸福屯镇's township: that township is still named taken."""
    with two_sites.reader() as session:
        bt = session.scalars(select(Site).where(Site.code == "BT")).one().id
    token = csrf_token(client.get("/sites"))
    assert client.post("/sites/enter", data={"csrf_token": token, "site": str(bt)}).status_code == 303
    text = _clean(_add(client, township_code="100"))
    assert "乡镇 130123-100 已属于机构“诸福屯镇卫生院”（130123100）" in text
    assert _add(client).status_code == 303
    assert [code for code, _name, _status in _sites(two_sites)] == ["130123100", "BT", "XA"]


def test_entering_a_site_that_is_not_there_names_it(client: FlaskClient, two_sites: Database) -> None:
    token = csrf_token(client.get("/sites"))
    answer = client.post("/sites/enter", data={"csrf_token": token, "site": "987"}, follow_redirects=True)
    assert "没有编号为 987 的机构" in _clean(answer)
    answer = client.post("/sites/enter", data={"csrf_token": token, "site": "东村"}, follow_redirects=True)
    assert "没有编号为 东村 的机构" in _clean(answer)
    with two_sites.reader() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "enter")) == 0


# --- the transfer form's refusals (机构撤并) ---------------------------------------------------------------------

rules = county_fixtures.rules  # the shipped lending rules

@pytest.fixture
def county(committed_db: Database, auth: AuthActions, rules: LendingRules) -> Database:
    if committed_db.is_sqlite:
        pytest.skip("a transfer needs two sites, and several sites need PostgreSQL")
    with committed_db.transaction() as session:
        build_county(session, rules)
        create_user(session, "county", PASSWORD, "county_admin", display_name="县卫生健康局")
    assert auth.sign_in("county", PASSWORD).status_code == 302
    return committed_db


def _preview(client: FlaskClient, **fields: str) -> TestResponse:
    token = csrf_token(client.get("/sites/transfer"))
    data = {"csrf_token": token, "source": "BT", "target": "130123100", "villages": "", "supervisor": ""}
    return client.post("/sites/transfer/preview", data={**data, **fields})


@pytest.mark.parametrize(("fields", "says"), [
    ({"source": ""}, "请选择移交机构"),
    ({"target": ""}, "请选择接收机构"),
    ({"target": "BT"}, "移交方和接收方是同一个机构"),
    ({"target": "NOPE"}, "没有机构代码为 NOPE 的机构"),
    ({"villages": "203"}, "没有这个村(居)委会"),
    ({"villages": "东村 北村"}, "值“北村”"),
    ({"supervisor": "周" * 101}, "不能超过100个字"),
])
def test_a_transfer_preview_refused_names_the_field_and_value(client: FlaskClient, county: Database,
                                                              fields: dict[str, str], says: str) -> None:
    answer = _preview(client, **fields)
    text = _clean(answer)
    assert 400 <= answer.status_code < 500 and says in text, text[-1500:]
    assert 'id="transfer-preview"' not in answer.get_data(as_text=True)


def test_a_transfer_confirmed_after_a_change_is_refused_and_nothing_moves(client: FlaskClient,
                                                                          county: Database) -> None:
    preview = _preview(client, villages="201")
    assert preview.status_code == 200
    token = csrf_token(preview)
    data = {"csrf_token": token, "source": "BT", "target": "130123100", "villages": "201", "supervisor": "",
            "fingerprint": "0" * 16}
    answer = client.post("/sites/transfer", data=data)  # recorded as a job, refused when it runs
    assert answer.status_code == 303 and "/sites/transfer/jobs/" in answer.headers["Location"]
    status = answer.headers["Location"] + "/status"
    eventually(lambda: client.get(status).get_json()["finished"], what="the transfer job ended", seconds=60)
    shown = client.get(status).get_json()
    assert shown["status"] == "failed" and "预览之后档案或架位有了变化，请重新预览后再确认移交" in shown["error"]
    assert "请重新预览后再确认移交" in _clean(client.get(answer.headers["Location"]))
    assert [status for _code, _name, status in _sites(county)] == ["active", "active"]


def test_a_transfer_confirmed_without_a_preview_asks_for_one_and_nothing_moves(client: FlaskClient,
                                                                               county: Database) -> None:
    token = csrf_token(client.get("/sites/transfer"))
    data = {"csrf_token": token, "source": "BT", "target": "130123100", "villages": "", "supervisor": ""}
    answer = client.post("/sites/transfer", data=data)
    assert answer.status_code == 400 and "请先点“预览”核对移交的内容" in _clean(answer)
    answer = client.post("/sites/transfer", data={**data, "source": "", "fingerprint": "0" * 16})
    assert answer.status_code == 400 and "请选择移交机构" in _clean(answer)
    assert [status for _code, _name, status in _sites(county)] == ["active", "active"]


# --- the county pages in English (#14) ------------------------------------------------------------------------

CHINESE = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")  # CJK, its punctuation, full-width


def _english(response: TestResponse, data: set[str]) -> str:
    """A page's visible text (its words, and the attribute values a reader sees: placeholder, title, aria-label)
    with the data named in it (sites, villages, people) taken out: no Chinese character or punctuation may be
    left. The language switch's 中文 is the one word written in its own language."""
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page[-1500:]
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    attributes = re.findall(r'\b(?:placeholder|title|aria-label|alt)="([^"]*)"', page)
    text = re.sub(r"<[^>]+>", " ", re.sub(r'<a [^>]*lang="zh-CN"[^>]*>中文</a>', " ", page))
    text = " ".join([text, *attributes])
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, " ")
    return re.sub(r"\s+", " ", text)


def test_the_county_pages_in_english_show_no_chinese_but_the_data(client: FlaskClient, county: Database,
                                                                  auth: AuthActions) -> None:
    """/sites, the transfer (form, preview, done), /sites/print, /users and a user's page, read by a county
    administrator in English: the brackets, commas and colons are the English ones; only the names are Chinese."""
    with county.transaction() as session:
        data = {*session.scalars(select(Site.name)), *session.scalars(select(Township.name)),
                *session.scalars(select(Village.name)), *session.scalars(select(User.display_name)),
                *session.scalars(select(Township.county_name))}
        doctor = session.scalars(select(User).where(User.role != "county_admin")).first()
        assert doctor is not None
    catalog = load_catalog()  # the form catalogue's names are data too (the official titles, as printed)
    data |= {*(form_set.name for form_set in catalog.sets.values()), *(form.title for form in catalog.forms.values()),
             "“卫生院”"}  # the suffix a blank township name drops from the site's name, quoted as written
    client.set_cookie("lang", "en")
    pages = {"/sites": client.get("/sites"), "/sites/transfer": client.get("/sites/transfer"),
             "/sites/print": client.get("/sites/print"), "/users": client.get("/users"),
             f"/users/{doctor.id}": client.get(f"/users/{doctor.id}")}
    pages["preview"] = _preview(client, villages="")
    assert 'id="transfer-preview"' in pages["preview"].get_data(as_text=True)
    token = csrf_token(pages["preview"])
    fingerprint = re.search(r'name="fingerprint" value="(\w+)"', pages["preview"].get_data(as_text=True))
    assert fingerprint is not None
    job = client.post("/sites/transfer", data={"csrf_token": token, "source": "BT", "target": "130123100",
                                               "villages": "", "supervisor": "", "fingerprint": fingerprint[1]})
    status = job.headers["Location"] + "/status"
    eventually(lambda: client.get(status).get_json()["finished"], what="the transfer job ended", seconds=120)
    done = client.get(job.headers["Location"], follow_redirects=True)
    assert 'id="transfer-done"' in done.get_data(as_text=True), done.get_data(as_text=True)[-2000:]
    pages["done"] = done
    left = [f"{where}: …{text[max(0, found.start() - 20):found.end() + 20]}…" for where, page in pages.items()
            for text in [_english(page, data)] for found in re.finditer(f"{CHINESE.pattern}+", text)]
    assert not left, "\n".join(left)
