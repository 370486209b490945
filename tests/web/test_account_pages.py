"""Accounts on the web (#11.4–#11.7): server-side sessions, throttled sign-in, the users page, Secure cookies."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from archiveprint.accounts.models import User, UserSession
from archiveprint.config import Settings
from archiveprint.db import utcnow
from archiveprint.eventlog import Event
from archiveprint.web import create_app
from tests.security.two_sites import build_two_sites
from tests.web.conftest import PASSWORD, AuthActions, csrf_token

NEW_PASSWORD = "brand-new-secret-5"


def _signed_out(response) -> bool:  # type: ignore[no-untyped-def]
    return response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_cookie_copied_before_logout_is_refused_afterwards_11_5(app, client, auth, people):
    auth.login("clerk")
    assert client.get(f"/residents/{people.head}").status_code == 200
    copied = client.get_cookie("session").value
    auth.logout()
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert _signed_out(thief.get(f"/residents/{people.head}"))
    assert _signed_out(thief.get("/"))


def test_a_password_changed_elsewhere_ends_the_other_session_11_5(app, client, auth, committed_db):
    auth.login("doctor")
    other = app.test_client()
    AuthActions(other, committed_db).sign_in("doctor-user", PASSWORD)
    assert other.get("/account/password").status_code == 200
    page = client.get("/account/password")
    changed = client.post("/account/password", data={"csrf_token": csrf_token(page), "current": PASSWORD,
                                                     "password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    assert changed.status_code == 303
    assert "密码已修改" in client.get("/account/password").get_data(as_text=True)  # this browser stays in
    assert _signed_out(other.get("/account/password"))
    with committed_db.reader() as session:
        reasons = session.scalars(select(UserSession.ended_reason).order_by(UserSession.id)).all()
    assert reasons == [None, "password_changed"]  # this browser kept, the other one ended


def test_a_wrong_current_password_is_refused_in_chinese(client, auth):
    auth.login("viewer")
    page = client.get("/account/password")
    refused = client.post("/account/password", data={"csrf_token": csrf_token(page), "current": "not-my-password",
                                                     "password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
                          follow_redirects=True)
    assert "「当前密码」：当前密码不正确" in refused.get_data(as_text=True)
    mismatch = client.post("/account/password", data={"csrf_token": csrf_token(page), "current": PASSWORD,
                                                      "password": NEW_PASSWORD, "password_again": "typo"})
    assert mismatch.status_code == 400
    assert "两次输入的密码不一致" in mismatch.get_data(as_text=True)


def test_an_idle_session_must_sign_in_again_11_5(client, auth, committed_db):
    auth.login("clerk")
    assert client.get("/account/password").status_code == 200
    with committed_db.transaction() as session:  # the browser was left alone for 10 hours and a minute
        session.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(hours=10, minutes=1)))
    assert _signed_out(client.get("/account/password"))


def test_the_idle_time_is_a_setting(committed_db, tmp_path):
    app = create_app(Settings(instance_dir=tmp_path / "instance",
                              database_url=committed_db.engine.url.render_as_string(hide_password=False),
                              secret_key="test-secret-key", session_idle_hours=1), database=committed_db)
    client = app.test_client()
    AuthActions(client, committed_db).login("clerk")
    with committed_db.transaction() as session:
        session.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=59)))
    assert client.get("/account/password").status_code == 200  # and the visit is noted
    with committed_db.transaction() as session:
        session.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=61)))
    assert _signed_out(client.get("/account/password"))


def test_last_seen_is_written_at_most_once_a_minute(client, auth, committed_db):
    auth.login("clerk")
    with committed_db.reader() as session:
        started = session.scalar(select(UserSession.last_seen_at))
    client.get("/account/password")
    client.get("/account/password")
    with committed_db.reader() as session:
        assert session.scalar(select(UserSession.last_seen_at)) == started
    with committed_db.transaction() as session:
        session.execute(update(UserSession).values(last_seen_at=started - timedelta(minutes=2)))
    client.get("/account/password")
    with committed_db.reader() as session:
        assert session.scalar(select(UserSession.last_seen_at)) >= started


def test_a_busy_database_does_not_fail_a_page_for_the_last_seen_time(client, auth, committed_db):
    auth.login("clerk")
    with committed_db.transaction() as session:
        session.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=5)))
        before = session.scalar(select(UserSession.last_seen_at))
    held = threading.Event()
    done = threading.Event()

    def hold_the_lock() -> None:  # another writer holds SQLite's write lock / the session row on PostgreSQL
        with committed_db.engine.connect() as connection, connection.begin():
            if committed_db.is_sqlite:
                connection.exec_driver_sql("UPDATE user_sessions SET ended_reason = ended_reason")
            else:
                connection.execute(text("SELECT id FROM user_sessions FOR UPDATE"))
            held.set()
            done.wait(30)

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    try:
        assert held.wait(10)
        assert client.get("/account/password").status_code == 200
    finally:
        done.set()
        holder.join()
    with committed_db.reader() as session:
        assert session.scalar(select(UserSession.last_seen_at)) == before  # skipped, not waited for


def _try(client, username: str, password: str):  # type: ignore[no-untyped-def]
    page = client.get("/login")
    return client.post("/login", data={"username": username, "password": password, "csrf_token": csrf_token(page)})


def test_forty_guesses_then_the_right_password_is_still_refused_11_6(client, auth):
    username = auth.create("clerk")
    answers = [_try(client, username, f"guess-{n:04d}").status_code for n in range(40)]
    assert answers[:3] == [200, 200, 200] and set(answers[3:]) == {429}
    right = _try(client, username, PASSWORD)
    assert right.status_code == 429
    assert "该账号登录失败次数过多，已暂时锁定，请 15 分钟后再试" in right.get_data(as_text=True)
    assert _signed_out(client.get("/"))


def test_guessing_many_user_names_from_one_address_is_throttled_11_6(client, auth):
    username = auth.create("doctor")
    for n in range(30):
        _try(client, f"nobody{n}", "wrong-pass")
    refused = _try(client, username, PASSWORD)
    assert refused.status_code == 429
    assert "此电脑登录失败次数过多，已暂时锁定" in refused.get_data(as_text=True)
    elsewhere = client.application.test_client()
    page = elsewhere.get("/login")
    signed_in = elsewhere.post("/login", data={"username": username, "password": PASSWORD,
                                               "csrf_token": csrf_token(page)},
                               environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert signed_in.status_code == 302 and "/login" not in signed_in.headers["Location"]


# --- the users page (#11.4) -------------------------------------------------------------------------------------

def _create(client, **fields):  # type: ignore[no-untyped-def]
    page = client.get("/users")
    data = {"csrf_token": csrf_token(page), "display_name": "", "password": PASSWORD, "password_again": PASSWORD,
            **fields}
    return client.post("/users", data=data)


def test_an_admin_creates_a_village_doctor_with_villages(client, auth, township, committed_db):
    auth.login("admin")
    refused = _create(client, username="wang", role="village_doctor")
    assert refused.status_code == 400
    assert '<p class="field-error" role="alert" id="villages-error">村医至少要负责一个村(居)委会</p>' in \
        refused.get_data(as_text=True)  # beside the village boxes
    made = _create(client, username="wang", display_name="王村医", role="village_doctor", villages=["202", "201"])
    assert made.status_code == 303
    page = client.get(made.headers["Location"]).get_data(as_text=True)
    assert "已创建用户 wang" in page
    listing = client.get("/users").get_data(as_text=True)
    assert "东村、西村" in listing
    with committed_db.reader() as session:
        wang = session.scalar(select(User).where(User.username == "wang"))
        assert [v.code for v in wang.villages] == ["201", "202"]
        event = session.scalar(select(Event).where(Event.kind == "user.created", Event.entity_id == str(wang.id)))
        assert (event.actor, event.data["villages"]) == ("admin-user", ["201", "202"])


def test_a_county_admin_creates_a_village_doctor_of_a_site_in_one_post(app, client, auth, committed_db):
    """Two sites with the same village codes (201 东村, 202 西村): the county page offers each site's villages by
    site, a village doctor of 柏棠镇卫生院 is created with its 东村 in one post; none, or another site's, is refused
    beside the boxes naming the village and both sites, and nothing is created."""
    sites = build_two_sites(committed_db, app.extensions["archiveprint"].settings.instance_dir)
    auth.login("county_admin")
    page = client.get("/users").get_data(as_text=True)
    for site in (sites.a, sites.b):
        assert re.search(rf'data-site="{site.id}">\s*<p[^>]*>{site.code} ', page)
        assert f'value="{site.id}:201"' in page and f'value="{site.id}:202"' in page
    new = {"username": "wang", "role": "village_doctor", "site": str(sites.b.id)}
    other_site = "勾选的村 201（ZFT 诸福屯镇卫生院）不是所选机构“BT 柏棠镇卫生院”的村"
    for villages, says in (([], "村医至少要负责一个村(居)委会"), ([f"{sites.a.id}:201"], other_site)):
        refused = _create(client, **new, villages=villages)
        assert refused.status_code == 400
        beside = re.search(r'id="villages-error">([^<]*)<', refused.get_data(as_text=True))
        assert beside is not None and says in beside[1]
        assert f'value="{villages[0]}" checked' in refused.get_data(as_text=True) if villages else True
    no_site = _create(client, **{**new, "site": ""}, villages=[f"{sites.b.id}:201"])
    assert no_site.status_code == 400
    assert re.search(r'<p class="field-error" role="alert">请选择新用户所属的机构', no_site.get_data(as_text=True))
    with committed_db.reader() as session:
        assert session.scalar(select(User).where(User.username == "wang")) is None

    made = _create(client, **new, display_name="王村医", villages=[f"{sites.b.id}:201"])
    assert made.status_code == 303
    with committed_db.reader() as session:
        wang = session.scalar(select(User).where(User.username == "wang"))
        assert wang.site_id == sites.b.id
        assert [(v.code, v.site_id, v.township.code) for v in wang.villages] == [("201", sites.b.id, "101")]

    # A county user made a village doctor on its own page: site and villages chosen there, the same way.
    county = _create(client, username="zhou", role="county_supervisor", site="")
    assert county.status_code == 303
    page = client.get(county.headers["Location"])
    assert f'value="{sites.a.id}:201"' in page.get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), "role": "village_doctor", "site": str(sites.a.id),
            "villages": [f"{sites.b.id}:202"]}
    refused = client.post(f"{county.headers['Location']}/role", data=data, follow_redirects=True)
    assert "勾选的村 202（BT 柏棠镇卫生院）不是所选机构“ZFT 诸福屯镇卫生院”的村" in refused.get_data(as_text=True)
    changed = client.post(f"{county.headers['Location']}/role", data={**data, "villages": [f"{sites.a.id}:202"]})
    assert changed.status_code == 303
    with committed_db.reader() as session:
        zhou = session.scalar(select(User).where(User.username == "zhou"))
        assert (zhou.role, zhou.site_id, [(v.code, v.site_id) for v in zhou.villages]) == (
            "village_doctor", sites.a.id, [("202", sites.a.id)])


def test_only_admins_reach_the_users_page(client, auth):
    auth.login("clerk")
    assert client.get("/users").status_code == 403
    assert client.get("/users/1").status_code == 403


def test_deactivating_a_user_signs_out_their_open_session_at_once(app, client, auth, committed_db):
    auth.login("admin")
    clerk = app.test_client()
    clerk_name = AuthActions(clerk, committed_db).create("clerk")
    AuthActions(clerk, committed_db).sign_in(clerk_name, PASSWORD)
    assert clerk.get("/account/password").status_code == 200
    with committed_db.reader() as session:
        clerk_id = session.scalar(select(User.id).where(User.username == clerk_name))
    page = client.get(f"/users/{clerk_id}")
    done = client.post(f"/users/{clerk_id}/deactivate", data={"csrf_token": csrf_token(page)}, follow_redirects=True)
    assert "已停用 clerk-user" in done.get_data(as_text=True)
    assert _signed_out(clerk.get("/account/password"))
    assert "用户名或密码错误" in _try(clerk, clerk_name, PASSWORD).get_data(as_text=True)


def test_an_admin_cannot_deactivate_or_demote_the_last_admin(client, auth, committed_db):
    auth.login("admin")
    with committed_db.reader() as session:
        me = session.scalar(select(User.id).where(User.username == "admin-user"))
    page = client.get(f"/users/{me}")
    refused = client.post(f"/users/{me}/deactivate", data={"csrf_token": csrf_token(page)}, follow_redirects=True)
    assert "admin-user 是最后一个在用的管理员，不能停用" in refused.get_data(as_text=True)
    demoted = client.post(f"/users/{me}/role", data={"csrf_token": csrf_token(page), "role": "clerk"},
                          follow_redirects=True)
    assert "不能改为其他角色" in demoted.get_data(as_text=True)
    assert client.get("/users").status_code == 200  # still signed in, still an admin


def test_a_reset_password_and_a_role_change_end_the_users_sessions(app, client, auth, committed_db):
    auth.login("admin")
    doctor = app.test_client()
    doctor_auth = AuthActions(doctor, committed_db)
    name = doctor_auth.create("doctor")
    with committed_db.reader() as session:
        doctor_id = session.scalar(select(User.id).where(User.username == name))
    for path, data in ((f"/users/{doctor_id}/password", {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD}),
                       (f"/users/{doctor_id}/role", {"role": "viewer"})):
        password = NEW_PASSWORD if "role" in path else PASSWORD
        doctor_auth.sign_in(name, password)
        assert doctor.get("/account/password").status_code == 200
        page = client.get(f"/users/{doctor_id}")
        assert client.post(path, data={"csrf_token": csrf_token(page), **data}).status_code == 303
        assert _signed_out(doctor.get("/account/password")), path
    doctor_auth.sign_in(name, NEW_PASSWORD)
    assert doctor.get("/users").status_code == 403
    assert "只读/督导" in doctor.get("/account/password").get_data(as_text=True)


def test_a_huge_user_id_is_not_found(client, auth):
    auth.login("admin")
    assert client.get("/users/99999999999999999999999").status_code == 404
    assert client.get("/users/2147483648").status_code == 404


# --- the Secure flag (#11.7) ------------------------------------------------------------------------------------

def _session_cookie(committed_db, tmp_path, headers=None, base_url="http://localhost", **settings):
    """The Set-Cookie of the sign-in page (its CSRF token lives in the session, so the cookie is set there)."""
    app = create_app(Settings(instance_dir=tmp_path / "instance",
                              database_url=committed_db.engine.url.render_as_string(hide_password=False),
                              secret_key="test-secret-key", **settings), database=committed_db)
    response = app.test_client().get("/login", base_url=base_url, headers=headers)
    assert response.status_code == 200
    return next(v for k, v in response.headers.items() if k == "Set-Cookie" and v.startswith("session="))


@pytest.mark.parametrize(("settings", "base_url", "headers", "secure"), [
    ({}, "http://localhost", None, False),
    ({}, "https://localhost", None, True),
    ({}, "http://localhost", {"X-Forwarded-Proto": "https"}, False),  # a header anyone can send
    ({"trusted_proxy": True}, "http://localhost", {"X-Forwarded-Proto": "https"}, True),
    ({"secure_cookies": "on"}, "http://localhost", None, True),
    ({"secure_cookies": "off"}, "https://localhost", None, False),
])
def test_the_session_cookie_is_secure_when_served_over_https_11_7(committed_db, tmp_path, settings, base_url,
                                                                  headers, secure):
    cookie = _session_cookie(committed_db, tmp_path, headers, base_url, **settings)
    assert ("; Secure" in cookie) is secure
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_settings_read_the_cookie_and_idle_variables():
    settings = Settings.from_env({"ARCHIVEPRINT_INSTANCE": "/tmp/x", "SECRET_KEY": "k",
                                  "ARCHIVEPRINT_SECURE_COOKIES": "ON", "ARCHIVEPRINT_TRUSTED_PROXY": "1",
                                  "ARCHIVEPRINT_SESSION_IDLE_HOURS": "0.5"})
    assert (settings.secure_cookies, settings.trusted_proxy, settings.session_idle_hours) == ("on", True, 0.5)
    defaults = Settings.from_env({"ARCHIVEPRINT_INSTANCE": "/tmp/x", "SECRET_KEY": "k"})
    assert (defaults.secure_cookies, defaults.trusted_proxy, defaults.session_idle_hours) == ("auto", False, 10.0)
    from archiveprint.errors import InvalidValue
    with pytest.raises(InvalidValue, match="可选值：auto / on / off"):
        Settings.from_env({"ARCHIVEPRINT_INSTANCE": "/tmp/x", "SECRET_KEY": "k", "ARCHIVEPRINT_SECURE_COOKIES": "y"})


def test_one_site_a_county_admin_creates_a_county_user_and_a_site_user_and_sees_each(client, auth, people,
                                                                                    committed_db):
    """#14, one site: the new user's page follows creation (no 404 for a county user, who belongs to no site)."""
    auth.login("county_admin", username="county")
    token = csrf_token(client.get("/users"))
    base = {"csrf_token": token, "display_name": "", "password": PASSWORD, "password_again": PASSWORD}
    for username, role, site in (("county-2", "county_supervisor", ""), ("clerk-2", "clerk", "")):
        made = client.post("/users", data={**base, "username": username, "role": role, "site": site})
        assert made.status_code == 303, made.get_data(as_text=True)[:2000]
        page = client.get(made.headers["Location"])
        assert page.status_code == 200 and username in page.get_data(as_text=True)
    with committed_db.reader() as session:
        placed = dict(session.execute(select(User.username, User.site_id)
                                      .where(User.username.in_(["county-2", "clerk-2"]))).all())
    assert placed["county-2"] is None and placed["clerk-2"] is not None  # the only site, though 全县 was left
