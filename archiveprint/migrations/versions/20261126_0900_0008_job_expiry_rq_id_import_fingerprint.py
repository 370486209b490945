"""job expiry rq id import fingerprint

Jobs: `expired_at` (when retention removed the output folder) and `rq_id` (the RQ job a job was enqueued as, so a
job RQ reports failed or no longer has is shown failed). Import runs: the column `mapping` the file was read with
and `register_events` (register events in the database once it was applied), so a re-import of the same file into
an unchanged register is recognised without reading it. All nullable: rows from before stay as they were.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 09:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rq_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('expired_at', sa.DateTime(), nullable=True))

    with op.batch_alter_table('import_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mapping', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('register_events', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('import_runs', schema=None) as batch_op:
        batch_op.drop_column('register_events')
        batch_op.drop_column('mapping')

    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('expired_at')
        batch_op.drop_column('rq_id')
