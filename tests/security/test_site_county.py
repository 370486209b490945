"""#14: the county roles in the web app with two sites — a 县级督导 is sent to 全县机构 first, works in the site they
chose and sees that site only, every view is audited with that site, they change nothing (403, docs/access.md),
and switching sites switches everything. PostgreSQL only (SQLite holds one site)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from archiveprint.accounts.models import AuditEntry, User
from archiveprint.accounts.services import create_user
from archiveprint.db import Database
from archiveprint.eventlog import Event
from tests.security.test_site_routes import _sign_in
from tests.security.two_sites import PASSWORD, TwoSites, build_two_sites
from tests.web.conftest import csrf_token


@pytest.fixture
def sites(app: Flask, committed_db: Database) -> TwoSites:
    made = build_two_sites(committed_db, app.extensions["archiveprint"].settings.instance_dir)
    with committed_db.transaction() as session:
        for role in ("county_supervisor", "county_admin", "county_print"):
            create_user(session, role.replace("_", "-"), PASSWORD, role)
    return made


def _enter(client: FlaskClient, site_id: int) -> None:
    token = csrf_token(client.get("/sites"))
    answer = client.post("/sites/enter", data={"csrf_token": token, "site": str(site_id)})
    assert answer.status_code == 303


def _audit(database: Database, username: str) -> list[tuple[str, str, str, int | None]]:
    with database.reader() as session:
        return [(row.action, row.subject_type, row.subject_id, row.site_id) for row in session.scalars(
            select(AuditEntry).where(AuditEntry.username == username).order_by(AuditEntry.id))]


def test_a_county_supervisor_chooses_a_site_sees_it_only_and_is_audited_in_it(
        client: FlaskClient, sites: TwoSites, committed_db: Database) -> None:
    a, b = sites.a, sites.b
    with committed_db.reader() as session:
        supervisor = session.scalars(select(User).where(User.username == "county-supervisor")).one()
        assert supervisor.site_id is None  # a county role belongs to no site
    _sign_in(client, "county-supervisor")
    # Nothing of either site before choosing: every page sends them to 全县机构, which lists both.
    first = client.get("/?q=张三丰")
    assert first.status_code == 302 and first.headers["Location"].startswith("/sites")
    listing = client.get("/sites").get_data(as_text=True)
    assert "诸福屯镇卫生院" in listing and "柏棠镇卫生院" in listing and a.resident not in listing

    for here, there in ((a, b), (b, a)):  # choose A, then switch to B
        _enter(client, here.id)
        found = client.get("/?q=张三丰").get_data(as_text=True)
        assert here.resident in found and there.resident not in found
        page = client.get(f"/residents/{here.resident}")
        assert page.status_code == 200 and here.marker in page.get_data(as_text=True)
        assert client.get(f"/residents/{there.resident}").status_code == 404
        if here is b:  # B's codes never show A's rows, however asked (B has the same numbers)
            assert sites.leaks(client.get(f"/inspections/{b.inspection_id}/result").get_data(as_text=True)) == []
        assert client.get(f"/households/{there.household}").status_code == 404
    rows = _audit(committed_db, "county-supervisor")
    enters = [(subject, site) for action, kind, subject, site in rows if action == "enter"]
    assert enters == [("ZFT", a.id), ("BT", b.id)]
    views = [(subject, site) for action, kind, subject, site in rows if action == "view" and kind == "resident"]
    assert views == [(a.resident, a.id), (b.resident, b.id)]  # each read names the site it was made in
    assert all(site is not None for *_, site in rows)


@pytest.mark.parametrize("method, url, data", [
    ("POST", "/lending/checkout", {"code": "{folder}", "borrower": "wang"}),
    ("POST", "/residents/{resident}/services", {"schedule": "elderly", "on": "2026-11-25"}),
    ("POST", "/villages", {"code": "203", "name": "南村"}),
    ("POST", "/locations/folders/{household}/move", {"to": "K1-M-1-A-3"}),
    ("POST", "/lending/loans/{loan}/return", {}),
    ("POST", "/users", {"username": "x", "role": "clerk"}),
    ("POST", "/print/start", {"form_set": "form:personal_info", "village": "201"}),
    ("POST", "/settings/township", {}),
    ("POST", "/inspections/tasks/{task}/done", {}),
])
def test_a_county_supervisor_changes_nothing(client: FlaskClient, sites: TwoSites, committed_db: Database,
                                             method: str, url: str, data: dict[str, str]) -> None:
    """县级督导 is read-only everywhere: each change is refused (403) in the site they work in."""
    a = sites.a
    _sign_in(client, "county-supervisor")
    _enter(client, a.id)
    token = csrf_token(client.get("/"))
    values = {"folder": a.folder, "resident": a.resident, "household": str(a.household), "loan": str(a.loan_id),
              "task": str(a.task_id)}
    target = url.format(**values)
    response = client.open(target, method=method, data={"csrf_token": token,
                                                        **{k: v.format(**values) for k, v in data.items()}})
    assert response.status_code == 403, target


def test_the_other_county_roles_work_in_the_chosen_site_only(client: FlaskClient, sites: TwoSites) -> None:
    """县级打印 prints the chosen site's people (县级管理员's users: the installation's, below)."""
    a, b = sites.a, sites.b
    _sign_in(client, "county-print")
    _enter(client, b.id)
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/"))})
    _sign_in(client, "county-print")
    _enter(client, a.id)
    centre = client.get("/print")
    assert centre.status_code == 200
    assert client.get(f"/print/jobs/{b.job_id}").status_code == 404


def test_a_user_given_a_county_role_leaves_the_sites_administrators(client: FlaskClient, sites: TwoSites,
                                                                    committed_db: Database) -> None:
    """县级管理员 makes 柏棠镇's clerk a 县级督导: the user belongs to no site from then on, so 柏棠镇's own
    administrator can neither open nor reset that county-wide account (it kept site B and could be taken over)."""
    b = sites.b
    clerk_id = b.user_ids["clerk-BT"]
    _sign_in(client, "county-admin")
    _enter(client, b.id)
    token = csrf_token(client.get(f"/users/{clerk_id}"))
    assert client.post(f"/users/{clerk_id}/role", data={"csrf_token": token, "role": "county_supervisor"}) \
        .status_code == 303
    with committed_db.reader() as session:
        assert session.get(User, clerk_id).site_id is None  # type: ignore[union-attr]
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/account/password"))})
    token = _sign_in(client, "admin-BT")
    assert client.get(f"/users/{clerk_id}").status_code == 404
    reset = client.post(f"/users/{clerk_id}/password", data={"csrf_token": token, "password": "taken-over-99",
                                                             "password_again": "taken-over-99"})
    assert reset.status_code == 404


def test_a_county_user_changing_their_password_in_a_site_signs_out_their_other_browsers(
        app: Flask, sites: TwoSites) -> None:
    """The county user's sign-ins belong to no site: ending them from inside a site's scope still reaches them."""
    first, second = app.test_client(), app.test_client()
    for browser in (first, second):
        _sign_in(browser, "county-supervisor")
        _enter(browser, sites.a.id)
    token = csrf_token(first.get("/account/password"))
    new = "brand-new-pass-7"
    changed = first.post("/account/password", data={"csrf_token": token, "current": PASSWORD, "password": new,
                                                    "password_again": new})
    assert changed.status_code in (302, 303), changed.get_data(as_text=True)[:2000]
    assert first.get("/").status_code == 200
    assert second.get("/").headers.get("Location", "").startswith("/login")


def test_a_county_admin_manages_every_sites_users_and_the_county_users(client: FlaskClient, sites: TwoSites,
                                                                      committed_db: Database) -> None:
    """县级管理员's 用户 page is the installation's, with or without a working site: every site's users and the county
    users, each with their site; a new user is given a site (or none: a county role) and the page that follows shows
    it; each user is read and changed in their own site, audited with that site named."""
    a, b = sites.a, sites.b
    _sign_in(client, "county-admin")
    listing = client.get("/users")  # no working site yet: the county's page, not 全县机构
    assert listing.status_code == 200
    text = listing.get_data(as_text=True)
    for name in ("clerk-BT", "clerk-ZFT", "county-supervisor"):
        assert name in text
    assert "BT 柏棠镇卫生院" in text and "ZFT 诸福屯镇卫生院" in text
    _enter(client, b.id)
    token = csrf_token(client.get("/users"))
    base = {"csrf_token": token, "display_name": "", "password": "long-enough-1", "password_again": "long-enough-1"}
    made = client.post("/users", data={**base, "username": "li-zft", "role": "village_doctor", "site": str(a.id),
                                       "villages": ["201"]})
    assert made.status_code == 303
    page = client.get(made.headers["Location"])
    assert page.status_code == 200 and "li-zft" in page.get_data(as_text=True)
    assert "ZFT 诸福屯镇卫生院" in page.get_data(as_text=True)
    county = client.post("/users", data={**base, "username": "county-new", "role": "county_print", "site": ""})
    assert county.status_code == 303
    page = client.get(county.headers["Location"])
    assert page.status_code == 200 and "county-new" in page.get_data(as_text=True)
    unplaced = client.post("/users", data={**base, "username": "nowhere", "role": "clerk", "site": ""})
    assert unplaced.status_code == 400 and "请选择新用户所属的机构" in unplaced.get_data(as_text=True)
    with committed_db.reader() as session:
        li = session.scalars(select(User).where(User.username == "li-zft")).one()
        assert li.site_id == a.id and [v.site_id for v in li.villages] == [a.id]  # A's 201, not B's
        county_id = session.scalars(select(User.id).where(User.username == "county-new")).one()
        assert session.get(User, county_id).site_id is None  # type: ignore[union-attr]
    # A county user given a site role joins the site chosen; another site's user is managed in its own site.
    token = csrf_token(client.get(f"/users/{county_id}"))
    assert client.post(f"/users/{county_id}/role", data={"csrf_token": token, "role": "viewer",
                                                         "site": str(b.id)}).status_code == 303
    reset = client.post(f"/users/{a.user_ids['clerk-ZFT']}/password", data={
        "csrf_token": token, "password": "new-password-9", "password_again": "new-password-9"})
    assert reset.status_code == 303
    with committed_db.reader() as session:
        assert session.get(User, county_id).site_id == b.id  # type: ignore[union-attr]
        events = {(row.kind, row.site_id) for row in session.scalars(
            select(Event).where(Event.actor == "county-admin"))}
    assert {("user.created", a.id), ("user.created", None), ("user.role_changed", b.id),
            ("user.password_reset", a.id)} <= events
    views = [(subject, site) for action, kind, subject, site in _audit(committed_db, "county-admin")
             if kind == "user"]
    assert (str(a.user_ids["clerk-ZFT"]), a.id) not in views  # a POST reads nothing: no view row for it
    assert (str(county_id), None) in views and any(site == a.id for _, site in views)
    # A's own administrator sees the user made for A, not the county's rows.
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/account/password"))})
    _sign_in(client, "admin-ZFT")
    mine = client.get("/users").get_data(as_text=True)
    assert "li-zft" in mine and "county-new" not in mine and "clerk-BT" not in mine
