"""intake: scanned stacks of returned form pages

`intake_batches`: one stack a clerk uploaded (one or several files), received on a day, read by a background job.
`intake_pages`: one row per scanned page — filed (its mark read, or assigned by the clerk), blank (a duplex back),
unreadable (waiting for the clerk), duplicate (already filed), set aside; a page is filed once per batch.
`intake_settings`: the site's choice of page images to keep (none / preview / full).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-09 09:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

FILED = "outcome = 'filed'"


def upgrade() -> None:
    op.create_table(
        'intake_batches',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('created_by', sa.String(length=64), nullable=False),
        sa.Column('received_on', sa.Date(), nullable=False),
        sa.Column('files', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=8), nullable=False),
        sa.Column('job_id', sa.Integer(), nullable=True),
        sa.Column('pages', sa.Integer(), nullable=False),
        sa.Column('seconds', sa.Float(), nullable=False),
        sa.Column('keep_images', sa.String(length=8), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')",
                           name=op.f('ck_intake_batches_status')),
        sa.CheckConstraint("keep_images IN ('none', 'preview', 'full')", name=op.f('ck_intake_batches_keep_images')),
        sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_intake_batches_job_id_jobs'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_batches')),
    )
    op.create_table(
        'intake_pages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('batch_id', sa.Integer(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('file_name', sa.String(length=255), nullable=False),
        sa.Column('file_page', sa.Integer(), nullable=False),
        sa.Column('outcome', sa.String(length=12), nullable=False),
        sa.Column('reason', sa.String(length=24), nullable=False),
        sa.Column('decoded', sa.String(length=64), nullable=False),
        sa.Column('how', sa.String(length=8), nullable=False),
        sa.Column('resident_id', sa.Integer(), nullable=True),
        sa.Column('household_id', sa.Integer(), nullable=True),
        sa.Column('archive_code', sa.String(length=17), nullable=True),
        sa.Column('form_number', sa.Integer(), nullable=True),
        sa.Column('form_page', sa.Integer(), nullable=True),
        sa.Column('image', sa.String(length=200), nullable=False),
        sa.Column('duplicate_of', sa.Integer(), nullable=True),
        sa.Column('decided_by', sa.String(length=64), nullable=False),
        sa.Column('decided_at', sa.DateTime(), nullable=True),
        sa.CheckConstraint("outcome IN ('filed', 'blank', 'unreadable', 'duplicate', 'set_aside')",
                           name=op.f('ck_intake_pages_outcome')),
        sa.ForeignKeyConstraint(['batch_id'], ['intake_batches.id'],
                                name=op.f('fk_intake_pages_batch_id_intake_batches'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['duplicate_of'], ['intake_pages.id'],
                                name=op.f('fk_intake_pages_duplicate_of_intake_pages')),
        sa.ForeignKeyConstraint(['household_id'], ['households.id'],
                                name=op.f('fk_intake_pages_household_id_households')),
        sa.ForeignKeyConstraint(['resident_id'], ['residents.id'],
                                name=op.f('fk_intake_pages_resident_id_residents')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_pages')),
        sa.UniqueConstraint('batch_id', 'seq', name=op.f('uq_intake_pages_batch_id_seq')),
    )
    with op.batch_alter_table('intake_pages', schema=None) as batch_op:
        batch_op.create_index('ux_intake_pages_filed', ['batch_id', 'resident_id', 'form_number', 'form_page'],
                              unique=True, sqlite_where=sa.text(FILED), postgresql_where=sa.text(FILED))
        batch_op.create_index('ix_intake_pages_resident', ['resident_id', 'form_number', 'form_page'], unique=False)
    op.create_table(
        'intake_settings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('keep_images', sa.String(length=8), nullable=False),
        sa.Column('changed_by', sa.String(length=64), nullable=False),
        sa.Column('changed_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint("keep_images IN ('none', 'preview', 'full')", name=op.f('ck_intake_settings_keep_images')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_settings')),
    )


def downgrade() -> None:
    op.drop_table('intake_settings')
    with op.batch_alter_table('intake_pages', schema=None) as batch_op:
        batch_op.drop_index('ix_intake_pages_resident')
        batch_op.drop_index('ux_intake_pages_filed', sqlite_where=sa.text(FILED), postgresql_where=sa.text(FILED))
    op.drop_table('intake_pages')
    op.drop_table('intake_batches')
