"""append only everywhere

Every append-only table refuses UPDATE, DELETE and (PostgreSQL) TRUNCATE in the database itself. `audit_log` and
`loan_scans` get the row triggers `events`, `folder_movements`, `inventory_scans` and `handover_items` already had;
on PostgreSQL all six get a BEFORE TRUNCATE statement trigger, since TRUNCATE fires no row trigger (SQLite has no
TRUNCATE: its `DELETE FROM t` fires the row triggers). A database superuser can still switch triggers off
(`SET session_replication_role = replica`, or ALTER TABLE … DISABLE TRIGGER), as the tests do to empty a database.

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-07 12:00:00
"""

from alembic import op


revision = '0013'
down_revision = '0011'
branch_labels = None
depends_on = None

NEWLY_APPEND_ONLY = ("audit_log", "loan_scans")  # had no triggers before
APPEND_ONLY = ("events", "folder_movements", "inventory_scans", "handover_items", *NEWLY_APPEND_ONLY)


def _refuse_changes(table: str) -> dict[str, list[str]]:
    message = f"'{table} are append-only'"
    return {
        "sqlite": [
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} BEGIN SELECT RAISE(ABORT, {message}); END",
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} BEGIN SELECT RAISE(ABORT, {message}); END",
        ],
        "postgresql": [
            f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION {message}; END $$",
            f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()",
        ],
    }


def _drop_refusal(table: str) -> dict[str, list[str]]:
    return {
        "sqlite": [f"DROP TRIGGER {table}_no_update", f"DROP TRIGGER {table}_no_delete"],
        "postgresql": [f"DROP TRIGGER {table}_no_change ON {table}", f"DROP FUNCTION {table}_append_only()"],
    }


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in NEWLY_APPEND_ONLY:
        for statement in _refuse_changes(table).get(dialect, []):
            op.execute(statement)
    if dialect == "postgresql":
        for table in APPEND_ONLY:  # each table's <table>_append_only() raises whatever the operation
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
    for table in NEWLY_APPEND_ONLY:
        for statement in _drop_refusal(table).get(dialect, []):
            op.execute(statement)
