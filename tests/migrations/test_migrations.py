"""Migrations: an empty database upgrades to head on both engines and matches the models exactly."""

from __future__ import annotations

import os
import re

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from archiveprint.db import Base, Database
from archiveprint.migrate import current_revision, head_revision, upgrade


def drift(conn) -> list[object]:  # type: ignore[no-untyped-def]
    """compare_metadata, leaving out what the models declare for the other engine only (`ddl_if`: the residents'
    trigram index is PostgreSQL's)."""
    def include(obj: object, _name: object, _type: object, _reflected: object, _compare_to: object) -> bool:
        condition = getattr(obj, "_ddl_if", None)
        return condition is None or condition.dialect in (None, conn.dialect.name)

    return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True, "include_object": include}),
                            Base.metadata)


def test_migrated_schema_has_no_drift_from_the_models(db):
    assert current_revision(db.engine) == head_revision(db.engine)
    with db.engine.connect() as conn:
        assert drift(conn) == []


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


def test_custom_set_population_migration_keeps_the_sets(committed_db):
    """0016 adds custom_form_sets.population: down to 0015 and up again keeps every custom set (a set's population is
    forgotten on the way down, NULL — for everyone — on the way up), and a set may name one again."""
    from alembic import command
    from sqlalchemy import inspect, text

    from archiveprint.forms.sets import as_form_set, create_form_set, list_custom_sets
    from archiveprint.migrate import alembic_config
    from tests.conftest import ACTOR

    with committed_db.transaction() as session:
        create_form_set(session, "慢病随访", ["hypertension_followup"], population="高血压患者", actor=ACTOR)
        create_form_set(session, "接诊", ["encounter"], actor=ACTOR)
    engine = committed_db.engine
    try:
        command.downgrade(alembic_config(engine), "0015")
        assert "population" not in {c["name"] for c in inspect(engine).get_columns("custom_form_sets")}
        with engine.connect() as conn:
            assert sorted(conn.execute(text("SELECT name FROM custom_form_sets")).scalars()) == ["慢病随访", "接诊"]
    finally:
        upgrade(engine)
    assert current_revision(engine) == head_revision(engine)
    with committed_db.transaction() as session:
        assert {row.name: row.population for row in list_custom_sets(session)} == {"慢病随访": None, "接诊": None}
        again = create_form_set(session, "糖尿病", ["diabetes_followup"], population="diabetes", actor=ACTOR)
        assert as_form_set(again).population == "diabetes"


def test_site_rows_before_migration_cuts_at_the_second_sites_creation(committed_db):
    """0025 adds sites.rows_before: an installation that already had two sites takes the first site's NULL-site
    rows to be those written before the second site was added (by time), later ones the installation's."""
    from datetime import datetime, timedelta

    from alembic import command
    from sqlalchemy import text

    from archiveprint.migrate import alembic_config
    from archiveprint.sites.services import add_site
    from tests.conftest import ACTOR, setup_township

    if committed_db.is_sqlite:
        pytest.skip("several sites need PostgreSQL")
    with committed_db.transaction() as session:
        setup_township(session)
        add_site(session, "BT", name="柏棠镇卫生院", county_code="130123", county_name="正定县", township_code="101",
                 actor=ACTOR)
    engine = committed_db.engine
    insert = text("INSERT INTO audit_log (site_id, at, username, action, subject_type, subject_id, detail) "
                  "VALUES (NULL, :at, 'x', 'view', 'site', :subject, '') RETURNING id")
    try:
        command.downgrade(alembic_config(engine), "0022")
        with engine.begin() as conn:
            early = conn.execute(insert, {"at": datetime(2000, 1, 1), "subject": "early"}).scalar()
            conn.execute(insert, {"at": datetime.now() + timedelta(days=1), "subject": "late"})
    finally:
        upgrade(engine)
    with engine.connect() as conn:
        cuts = [row[0] for row in conn.execute(text("SELECT rows_before FROM sites ORDER BY id"))]
    assert cuts[1]["audit_log"] == early and set(cuts[1]) == {"events", "audit_log", "loan_scans"}


def test_loan_write_off_migration_gives_old_written_off_loans_their_own_state(committed_db):
    """0027: a loan written off before it (closed as a return noted “确认遗失注销（批准人：…）”, recognised by its
    `loan.written_off` event or by the note alone) becomes 遗失注销 — written_off_at/by, reason, approver, no
    return — while a real return stays one; down to 0026 writes them back as returns with the old note."""
    from datetime import timedelta

    import sqlalchemy as sa
    from alembic import command

    from archiveprint.db import utcnow
    from archiveprint.lending.models import Loan
    from archiveprint.lending.queries import find_open_loan
    from archiveprint.lending.rules import load_rules, shipped_rules_file
    from archiveprint.lending.services import check_out, declare_lost, return_folder
    from archiveprint.migrate import alembic_config
    from archiveprint.register.codes import folder_code
    from tests.conftest import ACTOR
    from tests.lending.conftest import build_archive

    rules = load_rules([shipped_rules_file()])
    now = utcnow().replace(microsecond=0)
    with committed_db.transaction() as session:
        made = build_archive(session, now=now)
        homes = made["homes"][:3]
        codes = [folder_code(h.village.full_code, h.number).value for h in homes]
        ids = [check_out(session, c, borrower=made["doctor"], purpose="随访", rules=rules, actor=ACTOR, now=now).id
               for c in codes]
        for c in codes[:2]:
            declare_lost(session, c, note="借阅人遗失", rules=rules, actor=ACTOR, now=now)
        return_folder(session, codes[2], rules=rules, actor=ACTOR, now=now + timedelta(hours=1))
        households = [h.id for h in homes]
    with_event, by_note, returned = ids
    engine = committed_db.engine
    config = alembic_config(engine)
    at = now + timedelta(days=3)
    events = sa.table("events", sa.column("occurred_at", sa.DateTime), sa.column("actor", sa.String),
                      sa.column("kind", sa.String), sa.column("entity_type", sa.String),
                      sa.column("entity_id", sa.String), sa.column("data", sa.JSON))
    try:
        command.downgrade(config, "0026")
        with engine.begin() as conn:  # written off the way the code before 0027 did it
            for loan_id, approver in ((with_event, "王院长"), (by_note, "李院长")):
                conn.execute(sa.text("UPDATE loans SET returned_at = :at, returned_by = 'clerk1', return_note = :note "
                                     "WHERE id = :id"), {"at": at, "note": f"确认遗失注销（批准人：{approver}）",
                                                         "id": loan_id})
            conn.execute(events.insert(), [
                {"occurred_at": at, "actor": "clerk1", "kind": "folder.written_off", "entity_type": "household",
                 "entity_id": str(households[0]), "data": {"reason": "两次全库查找无果", "approved_by": "王院长"}},
                {"occurred_at": at, "actor": "clerk1", "kind": "loan.written_off", "entity_type": "loan",
                 "entity_id": str(with_event), "data": {"approved_by": "王院长", "household": households[0]}}])
        command.upgrade(config, "0027")
        with committed_db.reader() as session:
            first, second, third = (session.get(Loan, i) for i in ids)
            assert (first.state, first.written_off_at, first.written_off_by, first.write_off_reason,
                    first.write_off_approver) == ("written_off", at, "clerk1", "两次全库查找无果", "王院长")
            assert (first.returned_at, first.returned_by, first.return_note) == (None, None, "")
            assert (second.state, second.written_off_at, second.write_off_approver, second.write_off_reason) == (
                "written_off", at, "李院长", "")
            assert (third.state, third.returned_at, third.written_off_at) == ("returned", now + timedelta(hours=1),
                                                                              None)
            assert find_open_loan(session, households[0]) is None
        command.downgrade(config, "0026")
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, returned_at, returned_by, return_note FROM loans ORDER BY id"))
            back = {row[0]: (str(row[1])[:19], *row[2:]) for row in rows}  # SQLite gives the time as text
        assert back[with_event] == (f"{at:%Y-%m-%d %H:%M:%S}", "clerk1", "确认遗失注销（批准人：王院长）")
        assert back[by_note] == (f"{at:%Y-%m-%d %H:%M:%S}", "clerk1", "确认遗失注销（批准人：李院长）")
        assert back[returned][0] == f"{now + timedelta(hours=1):%Y-%m-%d %H:%M:%S}"
    finally:
        upgrade(engine)
    assert current_revision(engine) == head_revision(engine)
    _assert_checks_and_partial_indexes(engine)
    with committed_db.reader() as session:
        assert session.get(Loan, with_event).state == "written_off"


# --- #16.5: every revision down and up with data, and what compare_metadata does not look at ------------------------

# The partial indexes, as the migrations must leave them on both engines (compare_metadata ignores WHERE clauses).
PARTIAL_INDEXES = {
    "ux_loans_open_household": "returned_at is null and written_off_at is null",  # one open loan per folder
    "ix_loans_due_open": "returned_at is null and written_off_at is null",
    "ux_loan_requests_open": "status = 'open'",  # one open request per folder and borrower
    "ux_intake_pages_filed": "outcome = 'filed'",  # a returned page filed once per intake batch
}


def _canonical(sql: str) -> str:
    """A CHECK or WHERE text as both engines can be compared on: PostgreSQL's casts, ANY(ARRAY[…]) and extra
    parentheses undone, `x IN (…)` written as PostgreSQL shows it, lower case, single spaces."""
    sql = sql.lower()
    sql = re.sub(r"\b(\w+) in \(([^()]*)\)", r"\1 = any array[\2]", sql)
    sql = re.sub(r"::(character varying|text|integer|bigint)(\[\])?", "", sql)
    sql = sql.replace("(", " ").replace(")", " ")
    return " ".join(sql.split()).replace("[ ", "[").replace(" ]", "]").replace(" ,", ",")


def _balanced(text_: str, start: int) -> str:
    """The text inside the parenthesis that opens at `start`."""
    depth = 0
    for i in range(start, len(text_)):
        depth += {"(": 1, ")": -1}.get(text_[i], 0)
        if depth == 0:
            return text_[start + 1:i]
    raise AssertionError(f"unbalanced: {text_[start:start + 80]}")


def _schema_extras(engine) -> tuple[dict[str, str], dict[str, str | None]]:  # type: ignore[no-untyped-def]
    """The database's CHECK constraints (name → canonical text) and indexes (name → canonical WHERE or None)."""
    from sqlalchemy import text

    checks: dict[str, str] = {}
    indexes: dict[str, str | None] = {}
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            for kind, name, sql in conn.execute(text(
                    "SELECT type, name, sql FROM sqlite_master WHERE type IN ('table', 'index') AND sql IS NOT NULL "
                    "AND name NOT LIKE 'sqlite_%' AND name != 'alembic_version'")):
                if kind == "table":
                    for found in re.finditer(r"CONSTRAINT (\w+) CHECK \(", sql):
                        checks[found.group(1)] = _canonical(_balanced(sql, found.end() - 1))
                else:
                    where = re.search(r"\bWHERE\b(.*)$", sql, re.S)
                    indexes[name] = _canonical(where.group(1)) if where else None
        else:
            for name, definition in conn.execute(text(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'c' AND "
                    "connamespace = 'public'::regnamespace")):
                checks[name] = _canonical(_balanced(definition, definition.index("(")))
            for name, definition in conn.execute(text(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND indexname NOT LIKE "
                    "'pk_%' AND tablename != 'alembic_version'")):
                where = re.search(r"\bWHERE\b(.*)$", definition, re.S)
                indexes[name] = _canonical(where.group(1)) if where else None
    return checks, indexes


def _model_checks() -> dict[str, str]:
    from sqlalchemy import CheckConstraint

    return {str(c.name): _canonical(str(c.sqltext)) for table in Base.metadata.tables.values()
            for c in table.constraints if isinstance(c, CheckConstraint)}


def _assert_checks_and_partial_indexes(engine) -> None:  # type: ignore[no-untyped-def]
    checks, indexes = _schema_extras(engine)
    assert checks == _model_checks()
    assert {name: where for name, where in indexes.items() if where is not None} == PARTIAL_INDEXES


def test_check_constraints_and_partial_index_clauses_are_what_the_models_declare(db):
    expected = _model_checks()
    assert expected["ck_loans_renewals"] == "renewals >= 0"  # the canonical form, spelled out once
    assert expected["ck_loan_requests_status"].startswith("status = any array['open', ")
    _assert_checks_and_partial_indexes(db.engine)


@pytest.fixture
def fresh_engine(backend, tmp_path):  # type: ignore[no-untyped-def]
    """An empty database of its own (the walk down to base must not touch the session's database)."""
    from tests.conftest import _drop_postgres, _fresh_postgres

    name = f"archiveprint_walk_{os.getpid()}"
    url = f"sqlite:///{tmp_path / 'walk.sqlite3'}" if backend == "sqlite" else _fresh_postgres(name)
    database = Database.connect(url)
    yield database
    database.dispose()
    if backend == "postgresql":
        _drop_postgres(name)


def test_every_revision_goes_down_to_base_and_up_again_on_a_populated_database(fresh_engine):
    from alembic import command
    from alembic.script import ScriptDirectory
    from sqlalchemy import func, select

    from archiveprint.db import utcnow
    from archiveprint.lending.models import Loan
    from archiveprint.lending.requests import request_folders
    from archiveprint.lending.rules import load_rules, shipped_rules_file
    from archiveprint.lending.services import check_out
    from archiveprint.migrate import alembic_config
    from archiveprint.register.codes import folder_code
    from tests.conftest import ACTOR
    from tests.lending.conftest import build_archive

    engine = fresh_engine.engine
    upgrade(engine)
    rules = load_rules([shipped_rules_file()])
    now = utcnow()
    with fresh_engine.transaction() as session:
        made = build_archive(session, now=now)
        homes = [folder_code(h.village.full_code, h.number).value for h in made["homes"]]
        request_folders(session, homes[1:3], borrower=made["doctor"], purpose="复诊", rules=rules, actor=ACTOR,
                        now=now)
        check_out(session, homes[0], borrower=made["doctor"], purpose="随访", rules=rules, actor=ACTOR, now=now)

    config = alembic_config(engine)
    script = ScriptDirectory.from_config(config)
    walked = []
    for revision in script.walk_revisions():  # head first
        assert current_revision(engine) == revision.revision
        command.downgrade(config, "-1")
        walked.append(revision.revision)
    assert current_revision(engine) is None and len(walked) == len(list(script.walk_revisions()))
    for revision in reversed(walked):
        command.upgrade(config, "+1")
        assert current_revision(engine) == revision
    with engine.connect() as conn:
        assert drift(conn) == []
    _assert_checks_and_partial_indexes(engine)
    with fresh_engine.transaction() as session:  # and the schema works again: the archive can be built anew
        made = build_archive(session, now=now)
        code = folder_code(made["homes"][0].village.full_code, made["homes"][0].number).value
        check_out(session, code, borrower=made["doctor"], purpose="随访", rules=rules, actor=ACTOR, now=now)
        assert session.scalar(select(func.count(Loan.id))) == 1
