"""loan request expiry

A loan request nobody released within `request_expiry_days` (lending rules) is closed as expired: the status check
admits 'expired'. SQLite cannot alter a CHECK constraint, so the table is rebuilt (batch mode); its partial unique
index `ux_loan_requests_open` is recreated explicitly so the rebuild cannot lose its WHERE clause.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 10:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

OPEN_REQUEST = "status = 'open'"


def _status_check(states: tuple[str, ...]) -> None:
    condition = "status IN ({})".format(", ".join(f"'{state}'" for state in states))
    with op.batch_alter_table('loan_requests', schema=None) as batch_op:
        batch_op.drop_index('ux_loan_requests_open', sqlite_where=sa.text(OPEN_REQUEST),
                            postgresql_where=sa.text(OPEN_REQUEST))
        batch_op.drop_constraint(op.f('ck_loan_requests_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_loan_requests_status'), condition)
    with op.batch_alter_table('loan_requests', schema=None) as batch_op:
        batch_op.create_index('ux_loan_requests_open', ['household_id', 'borrower_id'], unique=True,
                              sqlite_where=sa.text(OPEN_REQUEST), postgresql_where=sa.text(OPEN_REQUEST))


def upgrade() -> None:
    _status_check(('open', 'released', 'cancelled', 'refused', 'expired'))


def downgrade() -> None:
    op.execute("UPDATE loan_requests SET status = 'cancelled' WHERE status = 'expired'")
    _status_check(('open', 'released', 'cancelled', 'refused'))
