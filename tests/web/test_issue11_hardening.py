"""Issue #11's small hardening items seen through the web app: ids, search input, other users' jobs."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import date, datetime

import pytest
from flask import Flask

from archiveprint import clock
from tests.web.conftest import AuthActions, csrf_token
from tests.web.test_lending_pages import archive, sign_in  # noqa: F401 - archive is a fixture used below

HUGE_IDS = ("2147483648", "9223372036854775808", "99999999999999999999999")  # past PostgreSQL's INTEGER


def _int_routes(app: Flask) -> list[tuple[str, str]]:
    """Every route with an `<int:...>` part, as (method, URL with a placeholder for the id)."""
    found = []
    for rule in app.url_map.iter_rules():
        if "<int:" not in rule.rule:
            continue
        url = re.sub(r"<int:[^>]+>", "{id}", rule.rule)
        url = re.sub(r"<(?:[a-z]+:)?[^>]+>", "x.pdf", url)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, url))
    return found


def test_issue_11_15_a_huge_id_in_any_int_route_is_a_404(app: Flask, client, auth: AuthActions) -> None:
    auth.login("admin")
    token = csrf_token(client.get("/"))
    routes = _int_routes(app)
    assert len(routes) >= 26  # every <int:> route, however many there are (26 when #11.15 was fixed)
    for method, url in routes:
        for number in HUGE_IDS:
            path = url.format(id=number)
            if method == "GET":
                response = client.get(path)
            else:
                response = client.open(path, method=method, data={"csrf_token": token},
                                       headers={"X-CSRFToken": token})
            # Where a GET and a POST rule share a path (a page and its form), werkzeug answers the refused id with 405
            # (it matches the method before the converter): still nothing found, and never an overflow.
            assert response.status_code in (404, 405), (method, path, response.status_code)
        largest = url.format(id="2147483647")  # the largest id a row can have: looked up, and not found
        response = client.get(largest) if method == "GET" else client.post(largest, data={"csrf_token": token})
        assert response.status_code < 500, (method, largest, response.status_code)


def test_issue_11_14_a_nul_in_the_search_box_lists_nobody(client, auth: AuthActions, people) -> None:
    auth.login("clerk")
    page = client.get("/?q=%00")
    assert page.status_code == 200
    assert "共 0 人" in page.get_data(as_text=True)
    assert people.head not in page.get_data(as_text=True)
    located = client.get("/api/v1/locate?q=%00")
    assert located.status_code == 200
    assert located.get_json()["count"] == 0
    page = client.get("/locations/locate?q=%00")
    assert page.status_code == 200
    assert people.head not in page.get_data(as_text=True)
    page = client.get("/?q=%E5%BC%A0%E4%B8%89%E4%B8%B0%00")  # 张三丰 then NUL: the name is still found
    assert people.head in page.get_data(as_text=True)


@pytest.fixture
def server_on_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The operating system's zone is UTC, as on most servers (date.today() is then 8 hours behind Beijing)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


BEIJING_1AM = datetime(2026, 11, 24, 17, 0)  # 2026-11-25 01:00 in Asia/Shanghai, stored as naive UTC


def test_issue_11_3_today_is_the_sites_day_at_1am_beijing_on_a_utc_server(server_on_utc, app: Flask, client,
                                                                         archive) -> None:  # noqa: F811
    app.config.pop("ARCHIVEPRINT_TODAY")
    app.config["ARCHIVEPRINT_CLOCK"] = lambda: BEIJING_1AM
    sign_in(client)
    page = client.get("/lending/overdue").get_data(as_text=True)
    assert "张1号" in page and ">22<" in page  # due 11-03: 22 days late on 11-25 in Beijing (not 21)
    assert client.get("/api/v1/dashboard").get_json()["date"] == "2026-11-25"
    assert clock.today("Asia/Shanghai", BEIJING_1AM) == date(2026, 11, 25)
    assert clock.today("UTC", BEIJING_1AM) == date(2026, 11, 24)


DEEP_FLOW = ("rooms: " + "[" * 100_000 + "]" * 100_000).encode()
DEEP_BLOCK = ("rooms:\n" + "- " * 100_000 + "x\n").encode()


def test_issue_11_16_a_layout_nested_100000_deep_is_refused_in_chinese(client, auth: AuthActions, township) -> None:
    from tests.web.test_location_pages import _upload

    auth.login("admin")
    for content in (DEEP_FLOW, DEEP_BLOCK):
        response = _upload(client, content, "deep.yaml")
        assert response.status_code == 400
        assert "库房布局 deep.yaml：嵌套层数太多（最多 12 层）" in response.get_data(as_text=True)
    page = client.get("/locations/layout")
    response = client.post("/locations/layout/apply", data={"text": DEEP_FLOW.decode(), "source": "deep.yaml",
                                                             "csrf_token": csrf_token(page)})
    assert response.status_code == 400
    assert "嵌套层数太多" in response.get_data(as_text=True)


def test_issue_11_16_the_cli_path_refuses_deep_and_oversized_layouts_too() -> None:
    from archiveprint.errors import InvalidValue
    from archiveprint.locations.layout import parse_layout

    with pytest.raises(InvalidValue, match="嵌套层数太多"):
        parse_layout(DEEP_BLOCK.decode(), source="deep.yaml")
    with pytest.raises(InvalidValue, match="文件太大"):
        parse_layout("rooms: [" + "x, " * 200_000 + "]", source="big.yaml")  # 600 KB
