"""loans written off (遗失注销): a state of their own, not a return

A loan whose folder was lost while lent and then confirmed lost (确认遗失/注销) used to be closed as if returned:
`returned_at`/`returned_by` set and a return note “确认遗失注销（批准人：…）”. The folder never came back, so such a
loan now records its end apart: `written_off_at`, `written_off_by`, `write_off_reason`, `write_off_approver`, with
`returned_at` empty. A loan is open while it is neither returned nor written off: the two partial indexes on open
loans (`ux_loans_open_household`, `ix_loans_due_open`) take the new condition.

Existing written-off loans (a `loan.written_off` event, or a return note starting “确认遗失注销”) are converted: the
time and actor move over from the return, the approver comes from the event (else the note), the reason from the
folder's `folder.written_off` event. The downgrade writes them back as returns with the old note.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-13 09:00:00
"""

import json
import re

from alembic import op
import sqlalchemy as sa


revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None

OPEN_BEFORE = "returned_at IS NULL"
OPEN_NOW = "returned_at IS NULL AND written_off_at IS NULL"
NOTE = "确认遗失注销"


def _drop_open_indexes(where: str) -> None:
    with op.batch_alter_table('loans', schema=None) as batch_op:
        batch_op.drop_index('ux_loans_open_household', sqlite_where=sa.text(where), postgresql_where=sa.text(where))
        batch_op.drop_index('ix_loans_due_open', sqlite_where=sa.text(where), postgresql_where=sa.text(where))


def _create_open_indexes(where: str) -> None:
    # Created after any table rebuild (SQLite's batch mode), so the rebuild cannot lose their WHERE clause.
    with op.batch_alter_table('loans', schema=None) as batch_op:
        batch_op.create_index('ix_loans_due_open', ['due_on'], unique=False,
                              sqlite_where=sa.text(where), postgresql_where=sa.text(where))
        batch_op.create_index('ux_loans_open_household', ['household_id'], unique=True,
                              sqlite_where=sa.text(where), postgresql_where=sa.text(where))


def _data(value: object) -> dict:
    if isinstance(value, str):
        value = json.loads(value or "{}")
    return value if isinstance(value, dict) else {}


def upgrade() -> None:
    _drop_open_indexes(OPEN_BEFORE)
    with op.batch_alter_table('loans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('written_off_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('written_off_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('write_off_reason', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('write_off_approver', sa.String(length=64), nullable=True))
    _create_open_indexes(OPEN_NOW)
    bind = op.get_bind()
    approvers = {int(entity_id): _data(data).get("approved_by") or "" for entity_id, data in bind.execute(sa.text(
        "SELECT entity_id, data FROM events WHERE kind = 'loan.written_off' AND entity_type = 'loan'"))}
    rows = bind.execute(sa.text(
        "SELECT id, household_id, returned_at, returned_by, return_note FROM loans WHERE returned_at IS NOT NULL "
        "AND (return_note LIKE :note OR id IN (SELECT CAST(entity_id AS INTEGER) FROM events "
        "WHERE kind = 'loan.written_off' AND entity_type = 'loan'))"), {"note": NOTE + "%"}).all()
    for loan_id, household_id, at, by, note in rows:
        approver = approvers.get(loan_id) or ""
        if not approver:
            found = re.search(r"批准人：(.*?)）", note or "")
            approver = found.group(1) if found else ""
        reasons = [_data(data).get("reason") or "" for data, in bind.execute(sa.text(
            "SELECT data FROM events WHERE kind = 'folder.written_off' AND entity_type = 'household' "
            "AND entity_id = :household ORDER BY id DESC"), {"household": str(household_id)})]
        bind.execute(sa.text(
            "UPDATE loans SET written_off_at = :at, written_off_by = :by, write_off_reason = :reason, "
            "write_off_approver = :approver, returned_at = NULL, returned_by = NULL, return_condition = NULL, "
            "return_note = '' WHERE id = :id"),
            {"at": at, "by": by, "reason": (reasons[0] if reasons else "")[:200], "approver": approver[:64],
             "id": loan_id})


def downgrade() -> None:
    # Written-off loans become returns again, noted as before 0027 (their reason stays in the folder's event).
    bind = op.get_bind()
    for loan_id, approver in bind.execute(sa.text(
            "SELECT id, write_off_approver FROM loans WHERE written_off_at IS NOT NULL")).all():
        bind.execute(sa.text("UPDATE loans SET returned_at = written_off_at, returned_by = written_off_by, "
                             "return_note = :note WHERE id = :id"),
                     {"note": f"{NOTE}（批准人：{approver or ''}）"[:200], "id": loan_id})
    _drop_open_indexes(OPEN_NOW)
    with op.batch_alter_table('loans', schema=None) as batch_op:
        batch_op.drop_column('write_off_approver')
        batch_op.drop_column('write_off_reason')
        batch_op.drop_column('written_off_by')
        batch_op.drop_column('written_off_at')
    _create_open_indexes(OPEN_BEFORE)
