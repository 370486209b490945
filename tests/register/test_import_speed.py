"""Issue #11.9: the faster paths of the import give what the general ones gave."""

from __future__ import annotations

import re
from datetime import date

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from archiveprint.eventlog import Event
from archiveprint.register.bulk import insert_rows
from archiveprint.register.text import _FULLWIDTH, _SPACES, clean, clean_code

CELL_TEXT = st.text(st.sampled_from(list("0123456789Xx ab张三·-_/.\t\n\u3000\u00a0\u200b\uff10\uff38\u2003\x85")))


def general_clean(value: str) -> str:
    return _SPACES.sub(" ", value.translate(_FULLWIDTH)).strip()


@given(CELL_TEXT)
def test_clean_and_clean_code_fast_paths_agree_with_the_general_rule(text):
    assert clean(text) == general_clean(text)
    assert clean_code(text) == re.sub(r"[\s\-_/.·]", "", general_clean(text))


def test_bulk_insert_converts_dates_json_and_fills_defaults(session, township):
    insert_rows(session, Event.__table__, [
        {"actor": "导入", "kind": "resident.registered", "entity_type": "resident", "entity_id": "1",
         "data": {"born": date(1956, 3, 7).isoformat(), "name": "张三丰"}},
    ])
    event = session.scalars(select(Event).where(Event.actor == "导入")).one()
    assert event.data == {"born": "1956-03-07", "name": "张三丰"} and event.occurred_at is not None
