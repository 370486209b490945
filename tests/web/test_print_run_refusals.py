"""#14 按村分批 refused in the print centre and the monthly packet: every refusal names its field and value in
Chinese on the page (400, or 404 for a village not found; nothing queued) — a village no longer offered (moved to
another site since the page was drawn) too, not WTForms' English "not a valid choice"."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from archiveprint.db import Database
from archiveprint.jobs.models import Job
from tests.jobs.test_print_runs import villages  # noqa: F401  # the fixture: 3 villages, 6 residents
from tests.web.conftest import AuthActions, csrf_token
from tests.web.test_print_run_pages import print_input

ERROR = re.compile(r'(?:class="field-error"|id="(?:print|due)-error")[^>]*>([^<]+)<')


def _refusals(client: FlaskClient, url: str, data: dict[str, object]) -> list[str]:
    answer = client.post(url, data=data)
    assert answer.status_code in (400, 404), answer.status_code  # 404: a village not found
    return [text.strip() for text in ERROR.findall(answer.get_data(as_text=True))]


@pytest.mark.parametrize(("values", "says"), [
    ({"villages": ["999"]}, "「村(居)委会」，值“999”：没有这个村(居)委会"),
    ({"split_pages": "10"}, "「每个文件最多页数」，值“10”：按村分批打印时每村已是一个文件，不再按页数拆分"),
    ({"tag": "高血压"}, "「打印范围」，值“城关社区、东村、西村”：打印范围内没有在档居民"),
    ({"blank": True}, "「按村分批」：空白表不按村打印"),
    ({"household": "201-1"}, "「按村分批」：按村分批打印时请只选村"),
])
def test_a_run_refused_in_the_print_centre_names_field_and_value(client: FlaskClient, auth: AuthActions,
                                                                 committed_db: Database, villages,  # noqa: F811
                                                                 values: dict[str, object], says: str) -> None:
    auth.login("clerk")
    for url in ("/print/preview", "/print/start"):
        shown = _refusals(client, url, print_input(client, per_village=True, **values))
        assert any(says in text for text in shown), (url, shown)
    with committed_db.reader() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0


def test_a_packet_run_of_a_village_no_longer_offered_is_refused_naming_it(client: FlaskClient, auth: AuthActions,
                                                                          villages) -> None:  # noqa: F811
    auth.login("clerk")
    token = csrf_token(client.get("/print/due"))
    for per_village in ("y", ""):
        shown = _refusals(client, "/print/due/start", {"csrf_token": token, "month": "2026-12",
                                                       "per_village": per_village, "villages": ["201", "999"]})
        assert any("「村(居)委会」，值“999”：没有这个村(居)委会" in text for text in shown), shown
