"""service schedules: the register's dates and the services done

`residents`: 预产期 (due_date), 分娩日期 (delivery_date), 结核治疗开始日期 (tb_treatment_start) — the dates the
service schedules (templates/due/schedules.yaml) count from.
`service_visits`: one row per service given (a child's 8-month check, a quarter's 高血压 follow-up); a mistaken one is
voided, never deleted.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 15:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('delivery_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('tb_treatment_start', sa.Date(), nullable=True))
    op.create_table(
        'service_visits',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('resident_id', sa.Integer(), nullable=False),
        sa.Column('schedule', sa.String(length=32), nullable=False),
        sa.Column('visit', sa.String(length=32), nullable=False),
        sa.Column('done_on', sa.Date(), nullable=False),
        sa.Column('note', sa.String(length=200), nullable=False),
        sa.Column('recorded_by', sa.String(length=64), nullable=False),
        sa.Column('recorded_at', sa.DateTime(), nullable=False),
        sa.Column('voided_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['resident_id'], ['residents.id'], name=op.f('fk_service_visits_resident_id_residents'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_service_visits')),
    )
    with op.batch_alter_table('service_visits', schema=None) as batch_op:
        batch_op.create_index('ix_service_visits_resident_schedule', ['resident_id', 'schedule', 'done_on'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('service_visits', schema=None) as batch_op:
        batch_op.drop_index('ix_service_visits_resident_schedule')
    op.drop_table('service_visits')
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.drop_column('tb_treatment_start')
        batch_op.drop_column('delivery_date')
        batch_op.drop_column('due_date')
