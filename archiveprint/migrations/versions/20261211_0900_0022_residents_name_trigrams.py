"""residents' names: a trigram index for the search box's "name contains" (PostgreSQL only)

The search box looks for names containing what was typed (`name LIKE '%陈国华%'`) once the exact name has given fewer
than 50 residents. A b-tree cannot serve that: at county scale (600,000 residents) PostgreSQL read a site's 30,000
residents through their households for every such search, about 75 ms (bench/county_bench.py). A GIN index of
pg_trgm's trigrams answers it in about 1 ms for three characters or more. pg_trgm ships with PostgreSQL (Debian's
postgresql package; elsewhere postgresql-contrib) and is a trusted extension: the database's owner may create it.
Where it cannot be had, the index is left out and the search still works, by a scan. SQLite: nothing (its LIKE
scans one township's register).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-11 09:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

INDEX = "ix_residents_name_trgm"


def _trigrams_available(bind: sa.engine.Connection) -> bool:
    """pg_trgm is installed, or this role may install it (superuser, or a trusted extension and CREATE here)."""
    return bool(bind.execute(sa.text(
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') OR EXISTS ("
        "SELECT 1 FROM pg_available_extension_versions v WHERE v.name = 'pg_trgm' AND v.version = ("
        "SELECT default_version FROM pg_available_extensions WHERE name = 'pg_trgm') AND ("
        "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user) OR "
        "(v.trusted AND has_database_privilege(current_database(), 'CREATE'))))")).scalar())


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql" or not _trigrams_available(bind):
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index(INDEX, "residents", ["name"], unique=False, postgresql_using="gin",
                    postgresql_ops={"name": "gin_trgm_ops"})


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {INDEX}")  # pg_trgm stays: dropping it could take others' indexes along
