"""population figures: 常住人口 per village and year, append-only

`population_figures`: one row per figure given (entered on the web, by the CLI, or imported from the village
committees' sheet); the latest row for a village and year is the one in force, earlier rows are its history. Like
`events`, the table refuses UPDATE, DELETE and (PostgreSQL) TRUNCATE in the database itself.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08 09:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

TABLE = "population_figures"
MESSAGE = f"'{TABLE} are append-only'"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('village_id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('residents', sa.Integer(), nullable=False),
        sa.Column('age65', sa.Integer(), nullable=True),
        sa.Column('age0_6', sa.Integer(), nullable=True),
        sa.Column('maternal', sa.Integer(), nullable=True),
        sa.Column('source', sa.String(length=255), nullable=False),
        sa.Column('recorded_by', sa.String(length=64), nullable=False),
        sa.Column('recorded_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint('year >= 1990 AND year <= 2100', name=op.f('ck_population_figures_year')),
        sa.CheckConstraint('residents >= 0', name=op.f('ck_population_figures_residents')),
        sa.CheckConstraint('age65 IS NULL OR age65 >= 0', name=op.f('ck_population_figures_age65')),
        sa.CheckConstraint('age0_6 IS NULL OR age0_6 >= 0', name=op.f('ck_population_figures_age0_6')),
        sa.CheckConstraint('maternal IS NULL OR maternal >= 0', name=op.f('ck_population_figures_maternal')),
        sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_population_figures_village_id_villages')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_population_figures')),
    )
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.create_index('ix_population_figures_village_year', ['village_id', 'year', 'id'], unique=False)
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(f"CREATE TRIGGER {TABLE}_no_update BEFORE UPDATE ON {TABLE} BEGIN SELECT RAISE(ABORT, {MESSAGE}); END")
        op.execute(f"CREATE TRIGGER {TABLE}_no_delete BEFORE DELETE ON {TABLE} BEGIN SELECT RAISE(ABORT, {MESSAGE}); END")
    elif dialect == "postgresql":
        op.execute(f"CREATE FUNCTION {TABLE}_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                   f"$$ BEGIN RAISE EXCEPTION {MESSAGE}; END $$")
        op.execute(f"CREATE TRIGGER {TABLE}_no_change BEFORE UPDATE OR DELETE ON {TABLE} "
                   f"FOR EACH ROW EXECUTE FUNCTION {TABLE}_append_only()")
        op.execute(f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_append_only()")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(f"DROP TRIGGER {TABLE}_no_update")
        op.execute(f"DROP TRIGGER {TABLE}_no_delete")
    elif dialect == "postgresql":
        op.execute(f"DROP TRIGGER {TABLE}_no_truncate ON {TABLE}")
        op.execute(f"DROP TRIGGER {TABLE}_no_change ON {TABLE}")
        op.execute(f"DROP FUNCTION {TABLE}_append_only()")
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_index('ix_population_figures_village_year')
    op.drop_table(TABLE)
