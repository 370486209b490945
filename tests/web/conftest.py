"""Web fixtures: the app on a real committed database, a client that sends CSRF tokens, and `auth` to sign in."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from archiveprint.accounts.services import create_user
from archiveprint.config import Settings
from archiveprint.db import Database
from archiveprint.register import services
from archiveprint.register.idcard import make_id_number
from archiveprint.web import create_app
from tests.conftest import ACTOR, TODAY, setup_township

PASSWORD = "correct-horse-9"
CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_token(page: TestResponse | str) -> str:
    """The CSRF token of the first form on a page (the test client sends it like a browser would)."""
    html = page if isinstance(page, str) else page.get_data(as_text=True)
    found = CSRF_FIELD.search(html)
    assert found, "page has no CSRF token"
    return found.group(1) or found.group(2)


@pytest.fixture
def app(committed_db: Database, tmp_path: Path) -> Iterator[Flask]:
    settings = Settings(instance_dir=tmp_path / "instance",
                        database_url=committed_db.engine.url.render_as_string(hide_password=False),
                        secret_key="test-secret-key")
    app = create_app(settings, database=committed_db)
    app.config.update(TESTING=True, ARCHIVEPRINT_TODAY=TODAY)
    yield app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class AuthActions:
    """Create a user with a role and sign in through the real login form."""

    def __init__(self, client: FlaskClient, database: Database) -> None:
        self.client = client
        self.database = database

    def create(self, role: str, username: str | None = None, password: str = PASSWORD,
               villages: tuple[str, ...] = ()) -> str:
        """A user of the role; a village doctor serves `villages` (codes), and sees nobody without one."""
        username = username or f"{role}-user"
        with self.database.transaction() as session:
            create_user(session, username, password, role, display_name=f"{role}显示名",
                        villages=[services.find_village(session, code) for code in villages] or None)
        return username

    def login(self, role: str = "clerk", *, username: str | None = None, password: str = PASSWORD,
              villages: tuple[str, ...] = ()) -> TestResponse:
        username = self.create(role, username, villages=villages)
        return self.sign_in(username, password)

    def sign_in(self, username: str, password: str) -> TestResponse:
        page = self.client.get("/login")
        return self.client.post("/login", data={"username": username, "password": password,
                                                "csrf_token": csrf_token(page)})

    def logout(self) -> TestResponse:
        page = self.client.get("/")
        return self.client.post("/logout", data={"csrf_token": csrf_token(page)})


@pytest.fixture
def auth(client: FlaskClient, committed_db: Database) -> AuthActions:
    return AuthActions(client, committed_db)


@dataclass(frozen=True)
class People:
    """The committed register the page tests read: codes, household ids and an ID number."""

    head: str  # 张三丰, 户主, with ID number and tags
    spouse: str
    son: str
    household: int
    odd_name: str  # <b>王</b>
    rare_name: str  # 𠮷
    closed: str
    head_id_number: str


@pytest.fixture
def people(committed_db: Database) -> People:
    return seed_people(committed_db)


def seed_people(database: Database) -> People:
    """Two households in 东村 (one with names that look like markup or need Ext-B), a closed record in 西村."""
    with database.transaction() as session:
        setup_township(session)
        east = services.find_village(session, "201")
        home = services.create_household(session, east, head_name="张三丰", address="东村1组8号",
                                         external_no="130123100201008", actor=ACTOR)
        id_number = make_id_number("130123", date(1956, 3, 7), 11)
        # Registered out of folder order, so the page has to sort them (head first, then by code).
        son = services.register_resident(session, home, name="张伟", sex="1", birth_date=date(1982, 6, 1),
                                         relation_to_head="子", actor=ACTOR)
        head = services.register_resident(session, home, name="张三丰", sex="1", birth_date=date(1956, 3, 7),
                                          id_number=id_number, phone="13800000001", relation_to_head="户主",
                                          registered_on=date(2020, 5, 1), tags=["高血压", "老年人"], actor=ACTOR)
        spouse = services.register_resident(session, home, name="李秀英", sex="2", birth_date=date(1958, 9, 9),
                                            relation_to_head="配偶", actor=ACTOR)
        services.update_resident(session, head, {"phone": "13800000002"}, actor=ACTOR)
        other = services.create_household(session, east, head_name="<b>王</b>", address="东村2组1号", actor=ACTOR)
        odd = services.register_resident(session, other, name="<b>王</b>", sex="2", relation_to_head="户主",
                                         actor=ACTOR)
        rare = services.register_resident(session, other, name="𠮷", sex="1", relation_to_head="子", actor=ACTOR)
        west = services.create_household(session, services.find_village(session, "202"), head_name="赵老汉",
                                         actor=ACTOR)
        closed = services.register_resident(session, west, name="赵老汉", sex="1", relation_to_head="户主",
                                            birth_date=date(1930, 1, 1), actor=ACTOR)
        services.close_resident(session, closed, "death", date(2025, 12, 1), actor=ACTOR)
        return People(head=head.archive_code, spouse=spouse.archive_code, son=son.archive_code,
                      household=home.id, odd_name=odd.archive_code, rare_name=rare.archive_code,
                      closed=closed.archive_code, head_id_number=id_number)


# --- register files to import ---------------------------------------------------------------------------------

EXPORT_HEADERS = ("档案编号", "姓名", "性别", "出生日期", "身份证号", "与户主关系", "户主姓名", "户号", "现住址",
                  "所属村(居)委会", "联系电话", "建档日期", "人群分类")
LIU_BEI_ID = make_id_number("130123", date(1961, 7, 23), 13)
SUN_ID = make_id_number("130123", date(1965, 2, 11), 24)
CAO_ID = make_id_number("130123", date(1955, 1, 1), 35)


def write_export(path: Path, rows: list[tuple[str, ...]]) -> Path:
    """A register export as the platform writes it: UTF-8 with BOM, header row first."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows([EXPORT_HEADERS, *rows])
    return path


def good_export(path: Path) -> Path:
    """Two members of a 东村 household and the head of a household in 南村 (203), a village not registered yet."""
    return write_export(path, [
        ("13012310020100001", "刘备", "男", "1961-07-23", LIU_BEI_ID, "户主", "刘备", "H-001", "东村3组1号", "东村",
         "13900000001", "2019-04-01", "高血压、老年人"),
        ("13012310020100002", "孙尚香", "女", "1965-02-11", SUN_ID, "配偶", "刘备", "H-001", "东村3组1号", "东村",
         "", "2019-04-01", ""),
        ("13012310020300001", "曹操", "男", "1955-01-01", CAO_ID, "户主", "曹操", "H-002", "南村1号", "南村",
         "", "2020-01-01", ""),
    ])


def faulty_export(path: Path) -> Path:
    """Row 2 is fine; row 3 has a wrong ID check digit; row 4 belongs to another township; row 5 has no name."""
    wrong_check = SUN_ID[:17] + ("1" if SUN_ID[17] != "1" else "2")
    return write_export(path, [
        ("13012310020100001", "刘备", "男", "1961-07-23", LIU_BEI_ID, "户主", "刘备", "H-001", "东村3组1号", "东村",
         "", "", ""),
        ("13012310020100002", "孙尚香", "女", "1965-02-11", wrong_check, "配偶", "刘备", "H-001", "东村3组1号", "东村",
         "", "", ""),
        ("13012320020100003", "张飞", "男", "1963-05-05", "", "子", "刘备", "H-001", "东村3组1号", "东村", "", "", ""),
        ("13012310020100004", "", "男", "1990-01-01", "", "子", "刘备", "H-001", "东村3组1号", "东村", "", "", ""),
    ])


@pytest.fixture
def township(committed_db: Database) -> None:
    """Only the township and its three villages (201 东村, 202 西村, 001 城关社区): no residents yet."""
    with committed_db.transaction() as session:
        setup_township(session)


class RecordingDispatcher:
    """Takes print jobs without running them, so a test decides when (and whether) a job runs."""

    def __init__(self) -> None:
        self.submitted: list[int] = []

    def submit(self, job_id: int) -> None:
        self.submitted.append(job_id)

    def check(self, database: Database, job_ids: object = None, *, now: object = None) -> list[int]:
        return []  # a local queue: nothing to ask

    def shutdown(self) -> None:
        pass


@pytest.fixture(autouse=True)
def _jobs_end_with_the_test(app: Flask) -> Iterator[None]:
    yield
    from archiveprint.web.forms import DISPATCHER

    app.extensions[DISPATCHER].shutdown()  # a job still running would outlive its database


@pytest.fixture
def recording(app: Flask) -> RecordingDispatcher:
    from archiveprint.web.forms import DISPATCHER

    app.extensions[DISPATCHER] = RecordingDispatcher()
    return app.extensions[DISPATCHER]
