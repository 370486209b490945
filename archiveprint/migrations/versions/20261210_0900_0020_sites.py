"""sites: one installation, many archive rooms

`sites`: one archive-keeping institution (乡镇卫生院 / 社区卫生服务中心) each, with its county and home township. A
database that already has its township gets its first site from it, and every site-owned row is given to that site.
Every site-owned table gets `site_id` (the append-only `events`, `audit_log` and `loan_scans` keep NULL on rows from
before: they belong to the first site). Numbers, shelf codes, borrower keys, set names and printer profiles are
unique per site now. `users.role` admits the county roles (county_admin, county_supervisor, county_print).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-10 09:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

OWNED = ("villages", "users", "jobs", "import_runs", "custom_form_sets", "label_printer_profiles", "borrowers",
         "storage_layouts", "shelves", "handovers", "inventories", "inspections", "intake_batches", "intake_settings")
APPEND_ONLY = ("events", "audit_log", "loan_scans")  # their triggers refuse the UPDATE a back-fill would need
# (table, columns unique in the whole database until now): each becomes unique within a site
PER_SITE = (
    ("shelves", ("code",)),
    ("borrowers", ("key",)),
    ("custom_form_sets", ("name",)),
    ("label_printer_profiles", ("printer", "stock")),
    ("inventories", ("year", "serial")),
    ("inventories", ("number",)),
    ("handovers", ("year", "serial")),
    ("handovers", ("number",)),
    ("inspections", ("year", "serial")),
    ("inspections", ("number",)),
)
OLD_ROLES = "role IN ('admin', 'clerk', 'doctor', 'village_doctor', 'viewer')"
NEW_ROLES = ("role IN ('admin', 'clerk', 'doctor', 'village_doctor', 'viewer', "
             "'county_admin', 'county_supervisor', 'county_print')")


def _unique(table: str, columns: tuple[str, ...]) -> str:
    return f"uq_{table}_{'_'.join(columns)}"


def upgrade() -> None:
    op.create_table(
        'sites',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=128), nullable=False),
        sa.Column('county_code', sa.String(length=6), nullable=False),
        sa.Column('county_name', sa.String(length=64), nullable=False),
        sa.Column('township_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=8), nullable=False),
        sa.Column('closed_at', sa.DateTime(), nullable=True),
        sa.Column('merged_into_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('created_by', sa.String(length=64), nullable=False),
        sa.CheckConstraint("status IN ('active', 'closed')", name=op.f('ck_sites_status')),
        sa.ForeignKeyConstraint(['township_id'], ['townships.id'], name=op.f('fk_sites_township_id_townships')),
        sa.ForeignKeyConstraint(['merged_into_id'], ['sites.id'], name=op.f('fk_sites_merged_into_id_sites')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sites')),
        sa.UniqueConstraint('code', name=op.f('uq_sites_code')),
    )
    for table in OWNED + APPEND_ONLY:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('site_id', sa.Integer(), nullable=True))
            batch_op.create_index(batch_op.f(f'ix_{table}_site_id'), ['site_id'], unique=False)
            if table in OWNED:
                batch_op.create_foreign_key(batch_op.f(f'fk_{table}_site_id_sites'), 'sites', ['site_id'], ['id'])
    for table, columns in PER_SITE:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(_unique(table, columns)), type_='unique')
            batch_op.create_unique_constraint(batch_op.f(_unique(table, ('site_id', *columns))), ['site_id', *columns],
                                              postgresql_nulls_not_distinct=True)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('role', existing_type=sa.String(length=16), type_=sa.String(length=24))
        batch_op.drop_constraint(batch_op.f('ck_users_role'), type_='check')
        batch_op.create_check_constraint('role', NEW_ROLES)
    _first_site_from_township()


def _first_site_from_township() -> None:
    """An installation configured before sites: its township becomes the first site and owns every row."""
    bind = op.get_bind()
    township = bind.execute(sa.text(
        "SELECT id, county_code, county_name, code, name, unit_name FROM townships ORDER BY id LIMIT 1")).first()
    if township is None:
        return
    bind.execute(sa.text(
        "INSERT INTO sites (code, name, county_code, county_name, township_id, status, created_at, created_by) "
        "VALUES (:code, :name, :county_code, :county_name, :township_id, 'active', CURRENT_TIMESTAMP, 'migration')"),
        {"code": township.county_code + township.code, "name": township.unit_name or f"{township.name}卫生院",
         "county_code": township.county_code, "county_name": township.county_name, "township_id": township.id})
    site_id = bind.execute(sa.text("SELECT id FROM sites")).scalar_one()
    for table in OWNED:
        bind.execute(sa.text(f"UPDATE {table} SET site_id = :site WHERE site_id IS NULL"), {"site": site_id})


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_users_role'), type_='check')
        batch_op.create_check_constraint('role', OLD_ROLES)
        batch_op.alter_column('role', existing_type=sa.String(length=24), type_=sa.String(length=16))
    for table, columns in reversed(PER_SITE):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(_unique(table, ('site_id', *columns))), type_='unique')
            batch_op.create_unique_constraint(batch_op.f(_unique(table, columns)), list(columns))
    for table in reversed(OWNED + APPEND_ONLY):
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table in OWNED:
                batch_op.drop_constraint(batch_op.f(f'fk_{table}_site_id_sites'), type_='foreignkey')
            batch_op.drop_index(batch_op.f(f'ix_{table}_site_id'))
            batch_op.drop_column('site_id')
        if table in APPEND_ONLY and op.get_bind().dialect.name == "sqlite":  # SQLite copied the table, without them
            for change in ("update", "delete"):
                op.execute(f"CREATE TRIGGER {table}_no_{change} BEFORE {change.upper()} ON {table} "
                           f"BEGIN SELECT RAISE(ABORT, '{table} are append-only'); END")
    op.drop_table('sites')
