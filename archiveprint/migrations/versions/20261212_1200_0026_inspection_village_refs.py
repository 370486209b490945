"""inspection folders: the village as the site names it (3-digit code, or 12 digits for a village taken over)

A site that took over villages of another township (机构撤并) may keep two villages coded 201: its own 东村 and the
other township's. An inspection's strata and its folders name their village the way the site does (`Village.ref`):
the 3-digit code at home, the 12-digit code for a village taken over, so `inspection_folders.village_code` takes up
to 12 characters. Existing rows keep their 3-digit codes (they are all of the site's own township).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-12 12:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inspection_folders") as batch:
        batch.alter_column("village_code", existing_type=sa.String(length=3), type_=sa.String(length=12),
                           existing_nullable=False)


def downgrade() -> None:
    # A village taken over keeps its last three digits: its 3-digit code, as the column held before.
    op.execute("UPDATE inspection_folders SET village_code = substr(village_code, length(village_code) - 2) "
               "WHERE length(village_code) > 3")
    with op.batch_alter_table("inspection_folders") as batch:
        batch.alter_column("village_code", existing_type=sa.String(length=12), type_=sa.String(length=3),
                           existing_nullable=False)
