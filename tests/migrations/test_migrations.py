"""Migrations: an empty database upgrades to head on both engines and matches the models exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from archiveprint.db import Base
from archiveprint.migrate import current_revision, head_revision, upgrade


def test_migrated_schema_has_no_drift_from_the_models(db):
    assert current_revision(db.engine) == head_revision(db.engine)
    with db.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diffs == []


def test_upgrade_is_idempotent(db):
    upgrade(db.engine)
    assert current_revision(db.engine) == head_revision(db.engine)


def test_request_expiry_migration_keeps_requests_and_the_loans_that_point_at_them(committed_db):
    """0009 rebuilds loan_requests on SQLite (a CHECK cannot be altered there) while loans reference it: down to
    0008 and up again with data in place keeps every row, every reference and the one-open-request index."""
    from alembic import command
    from sqlalchemy import select, text
    from sqlalchemy.exc import IntegrityError

    from archiveprint.db import utcnow
    from archiveprint.lending.models import Loan, LoanRequest
    from archiveprint.lending.requests import expire_requests, request_folders
    from archiveprint.lending.rules import load_rules, shipped_rules_file
    from archiveprint.lending.services import check_out
    from archiveprint.migrate import alembic_config
    from archiveprint.register.codes import folder_code
    from tests.conftest import ACTOR
    from tests.lending.conftest import build_archive

    rules = load_rules([shipped_rules_file()])
    now = utcnow()
    with committed_db.transaction() as session:
        made = build_archive(session, now=now)
        homes = [folder_code(h.village.full_code, h.number).value for h in made["homes"]]
        doctor = made["doctor"]
        request_folders(session, homes[:3], borrower=doctor, purpose="复诊", rules=rules, actor=ACTOR, now=now)
        loan = check_out(session, homes[0], rules=rules, actor=ACTOR, now=now)  # released against its request
        stale = request_folders(session, [homes[4]], borrower=doctor, purpose="复诊", rules=rules, actor=ACTOR,
                                now=now.replace(year=now.year - 1)).requests[0].id
        assert [e.request_id for e in expire_requests(session, rules=rules, actor=ACTOR, now=now)] == [stale]
        loan_id, request_id = loan.id, loan.request_id
    engine = committed_db.engine
    config = alembic_config(engine)
    try:
        command.downgrade(config, "0008")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT status FROM loan_requests WHERE id = :id"), {"id": stale}).scalar() \
                == "cancelled"
    finally:
        upgrade(engine)
    assert current_revision(engine) == head_revision(engine)
    with committed_db.reader() as session:
        assert session.get(Loan, loan_id).request_id == request_id
        states = sorted(session.scalars(select(LoanRequest.status)))
        assert states == ["cancelled", "open", "open", "released"]
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    with committed_db.transaction() as session:  # the partial unique index came back with its WHERE clause
        open_one = session.scalars(select(LoanRequest).where(LoanRequest.status == "open")).first()
        twin = LoanRequest(**{c.key: getattr(open_one, c.key) for c in LoanRequest.__table__.columns if c.key != "id"})
        session.add(twin)
        try:
            session.flush()
            raise AssertionError("a second open request for the same folder and borrower was accepted")
        except IntegrityError:
            session.rollback()
