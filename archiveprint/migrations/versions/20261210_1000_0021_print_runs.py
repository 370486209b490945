"""print runs

County print runs (#14): a run is a job row of kind `run`; its parts (one per village) are ordinary print jobs whose
`run_id` names it. Nullable: every job from before is a job of its own.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-09 11:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('run_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_jobs_run_id'), ['run_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_jobs_run_id_jobs'), 'jobs', ['run_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_jobs_run_id_jobs'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_jobs_run_id'))
        batch_op.drop_column('run_id')
