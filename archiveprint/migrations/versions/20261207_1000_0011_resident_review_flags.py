"""resident review flags

Residents: `review_flags` (待核实), the questionable secondary values an import let in with the row (建档日期
before 出生日期, a phone of the wrong length …), each as {column, value, reason}; NULL when there is nothing to
check. Nullable: rows from before have nothing flagged.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 10:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('review_flags', sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.drop_column('review_flags')
