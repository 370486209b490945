"""sites.rows_before: where the first site's rows without a site end, so later ones are the installation's

The append-only tables (events, audit_log, loan_scans) keep site_id NULL on rows written before the first site, and
the scope counted every NULL-site row as the first site's. Once a county installation has several sites, rows are
still written with no site — a county user's account events, the audit rows of the county's own pages — and the
first site's administrator read them. Each site now records, when it is added, the last id of each of those
tables; the second site's numbers are where the first site's NULL rows end. An installation that already has
several sites gets them from the second site's creation time (the rows written before it).

Revision ID: 0025
Revises: 0022
Create Date: 2026-12-12 11:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0025'
down_revision = '0022'
branch_labels = None
depends_on = None

# Each table with the moment its rows were written.
WRITTEN_AT = {"events": "occurred_at", "audit_log": "at", "loan_scans": "received_at"}


def upgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.add_column(sa.Column("rows_before", sa.JSON(), nullable=True))
    bind = op.get_bind()
    second = bind.execute(sa.text("SELECT id, created_at FROM sites ORDER BY id LIMIT 1 OFFSET 1")).first()
    if second is None:
        return  # one site (or none): every NULL-site row is the first site's; `site add` records the ids
    before = {table: int(bind.execute(sa.text(f"SELECT COALESCE(MAX(id), 0) FROM {table} WHERE {column} < :at"),
                                      {"at": second.created_at}).scalar() or 0)
              for table, column in WRITTEN_AT.items()}
    sites = sa.table("sites", sa.column("id", sa.Integer), sa.column("rows_before", sa.JSON))
    bind.execute(sites.update().where(sites.c.id == second.id).values(rows_before=before))


def downgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("rows_before")
