"""custom form sets name a population

`custom_form_sets.population`: the key population a custom set is for (an id of templates/register/populations.yaml,
like sets.yaml's `population:`); a print of the set for a village defaults to it. NULL: a set for everyone.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08 09:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('custom_form_sets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('population', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('custom_form_sets', schema=None) as batch_op:
        batch_op.drop_column('population')
