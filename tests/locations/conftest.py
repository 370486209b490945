"""Location fixtures: a small storage layout applied to the test database, and households to shelve."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from archiveprint.locations.layout import Layout, parse_layout
from archiveprint.locations.services import apply_layout
from archiveprint.register import services
from archiveprint.register.models import Household
from tests.conftest import ACTOR

# 2 列 × 面 A,B × 层 1-3 = 12 shelves of 4 folders (48 positions) for villages, and a closed area of 2 × 3.
SMALL_LAYOUT = """\
name: 测试档案室
growth_reserve: 0.25
rooms:
  - code: K1
    name: 一号库房
    blocks:
      - code: M
        kind: 密集架
        levels: 列 1-2 × 面 A,B × 层 1-3
        capacity: 4
  - code: K2
    name: 二号库房
    blocks:
      - code: J
        name: 结案柜
        purpose: closed
        levels: 柜 1 × 层 1-2
        capacity: 3
"""
T0 = datetime(2026, 11, 25, 8, 0)


def small_layout(text: str = SMALL_LAYOUT) -> Layout:
    return parse_layout(text, source="small.yaml")


class Clock:
    """Each call is one minute later: histories get distinct, known times."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def room(session: Session, township, clock: Clock) -> Layout:  # type: ignore[no-untyped-def]
    """The township of tests/conftest.py with the small layout applied."""
    layout = small_layout()
    apply_layout(session, layout, actor=ACTOR, now=clock())
    return layout


GIVEN = ("三丰", "无忌", "翠山", "远桥", "莲舟", "松溪", "梨亭", "声谷", "青书", "芷若", "敏", "不悔")


@pytest.fixture
def households(session: Session, township) -> Callable[..., list[Household]]:  # type: ignore[no-untyped-def]
    """`households("201", 5)` makes five households, each with its head as the one resident (张三丰, 张无忌 …)."""
    counter = itertools.count(1)

    def make(village: str = "201", count: int = 1, *, surname: str = "张") -> list[Household]:
        out = []
        found = services.find_village(session, village)
        for _ in range(count):
            household = services.create_household(session, found, head_name="", external_no=f"T{next(counter)}",
                                                   actor=ACTOR)
            name = surname + GIVEN[(household.number - 1) % len(GIVEN)]
            services.register_resident(session, household, name=name, sex="1", relation_to_head="户主",
                                       actor=ACTOR)
            out.append(household)
        return out
    return make


@contextmanager
def count_queries(session: Session) -> Iterator[list[str]]:
    """Collect the SQL statements a block runs (keeps locate and pick lists free of N+1 queries)."""
    statements: list[str] = []
    engine = session.get_bind().engine

    def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)
