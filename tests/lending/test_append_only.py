"""#11.11: every append-only table refuses UPDATE, DELETE and (PostgreSQL) TRUNCATE in the database itself."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from archiveprint.accounts.services import audit
from archiveprint.db import Base
from archiveprint.lending.models import LoanScan
from archiveprint.locations import handover as ho
from archiveprint.locations import inventory as inv
from tests.conftest import ACTOR
from tests.lending.conftest import Desk

APPEND_ONLY = ("events", "folder_movements", "inventory_scans", "handover_items", "audit_log", "loan_scans")


@pytest.fixture
def filled(desk: Desk) -> Desk:
    """A row in each append-only table (events and movements come with the shelved archive)."""
    s = desk.session
    audit(s, desk.director, "view", "household", desk.homes[0].id, detail="test")
    s.add(LoanScan(client_id="c-1", action="out", code=desk.code(desk.homes[0]), client_at=desk.clock(),
                   received_at=desk.clock(), actor=ACTOR, outcome="rejected"))
    count = inv.start_inventory(s, counters=["孙管理员"], village="201", actor=ACTOR, now=desk.clock())
    inv.record_scan(s, count, desk.code(desk.homes[1]), actor=ACTOR, now=desk.clock())
    ho.hand_over(s, codes=[desk.code(desk.west[0])], from_party="甲", to_party="乙", actor=ACTOR, now=desk.clock())
    s.flush()
    for table in APPEND_ONLY:
        assert s.scalar(select(func.count()).select_from(text(table))) > 0, table
    return desk


@pytest.mark.parametrize("table", APPEND_ONLY)
def test_issue_11_11_append_only_tables_refuse_update_delete_and_truncate(filled: Desk, table: str) -> None:
    s = filled.session
    column = next(iter(Base.metadata.tables[table].columns)).name
    statements = [f"UPDATE {table} SET {column} = {column}", f"DELETE FROM {table}"]  # SQLite: TRUNCATE is DELETE
    if s.bind.dialect.name == "postgresql":
        statements.append(f"TRUNCATE {table} CASCADE")
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"), s.begin_nested():
            s.execute(text(statement))
    assert s.scalar(select(func.count()).select_from(text(table))) > 0
