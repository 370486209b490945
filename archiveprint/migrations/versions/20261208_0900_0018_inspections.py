"""inspections (抽查)

`inspections`: one inspection, how its folders were drawn (scope, size or margin, seed, method in words, the frame's
size and fingerprint, each village's reserves) and, once signed, its result as signed.
`inspection_folders`: the household folders drawn, with their status when drawn and the records read in each.
`inspection_results`: what was read per folder and checklist item (合格/不合格, note, the latest 动态记录 seen); each
change is also an event.
`inspection_tasks`: 整改 tasks for the clerk, one per failing folder.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08 09:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inspections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=16), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('serial', sa.Integer(), nullable=False),
    sa.Column('scope', sa.JSON(), nullable=False),
    sa.Column('scope_text', sa.String(length=300), nullable=False),
    sa.Column('method', sa.JSON(), nullable=False),
    sa.Column('seed', sa.String(length=64), nullable=False),
    sa.Column('requested_size', sa.Integer(), nullable=True),
    sa.Column('margin', sa.Float(), nullable=True),
    sa.Column('confidence', sa.Float(), nullable=False),
    sa.Column('minimum', sa.Integer(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('frame', sa.Integer(), nullable=False),
    sa.Column('frame_digest', sa.String(length=12), nullable=False),
    sa.Column('strata', sa.JSON(), nullable=False),
    sa.Column('checklist', sa.JSON(), nullable=False),
    sa.Column('inspector', sa.String(length=100), nullable=False),
    sa.Column('inspected_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('drawn_at', sa.DateTime(), nullable=False),
    sa.Column('drawn_by', sa.String(length=64), nullable=False),
    sa.Column('signed_at', sa.DateTime(), nullable=True),
    sa.Column('signed_by', sa.String(length=64), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.CheckConstraint("status IN ('open', 'signed')", name=op.f('ck_inspections_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspections')),
    sa.UniqueConstraint('number', name=op.f('uq_inspections_number')),
    sa.UniqueConstraint('year', 'serial', name=op.f('uq_inspections_year_serial'))
    )
    op.create_table('inspection_folders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('village_code', sa.String(length=3), nullable=False),
    sa.Column('village_name', sa.String(length=64), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('folder', sa.String(length=32), nullable=False),
    sa.Column('head_name', sa.String(length=64), nullable=False),
    sa.Column('status_at_draw', sa.String(length=12), nullable=False),
    sa.Column('status_text', sa.String(length=200), nullable=False),
    sa.Column('residents', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('replaces_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("state IN ('sampled', 'unavailable', 'replaced')", name=op.f('ck_inspection_folders_state')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_inspection_folders_household_id_households')),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspections.id'], name=op.f('fk_inspection_folders_inspection_id_inspections')),
    sa.ForeignKeyConstraint(['replaces_id'], ['inspection_folders.id'], name=op.f('fk_inspection_folders_replaces_id_inspection_folders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_folders')),
    sa.UniqueConstraint('inspection_id', 'household_id', name=op.f('uq_inspection_folders_inspection_id_household_id')),
    sa.UniqueConstraint('inspection_id', 'seq', name=op.f('uq_inspection_folders_inspection_id_seq'))
    )
    with op.batch_alter_table('inspection_folders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_folders_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_folders_inspection_id'), ['inspection_id'], unique=False)

    op.create_table('inspection_results',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('folder_id', sa.Integer(), nullable=False),
    sa.Column('item', sa.String(length=32), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('seen_on', sa.Date(), nullable=True),
    sa.Column('recorded_by', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['folder_id'], ['inspection_folders.id'], name=op.f('fk_inspection_results_folder_id_inspection_folders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_results')),
    sa.UniqueConstraint('folder_id', 'item', name=op.f('uq_inspection_results_folder_id_item'))
    )
    with op.batch_alter_table('inspection_results', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_results_folder_id'), ['folder_id'], unique=False)

    op.create_table('inspection_tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('folder_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('text', sa.String(length=500), nullable=False),
    sa.Column('state', sa.String(length=8), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('done_at', sa.DateTime(), nullable=True),
    sa.Column('done_by', sa.String(length=64), nullable=True),
    sa.Column('done_note', sa.String(length=200), nullable=False),
    sa.CheckConstraint("state IN ('open', 'done')", name=op.f('ck_inspection_tasks_state')),
    sa.ForeignKeyConstraint(['folder_id'], ['inspection_folders.id'], name=op.f('fk_inspection_tasks_folder_id_inspection_folders')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_inspection_tasks_household_id_households')),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspections.id'], name=op.f('fk_inspection_tasks_inspection_id_inspections')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_tasks')),
    sa.UniqueConstraint('inspection_id', 'folder_id', name=op.f('uq_inspection_tasks_inspection_id_folder_id'))
    )
    with op.batch_alter_table('inspection_tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_tasks_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_tasks_inspection_id'), ['inspection_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('inspection_tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_tasks_inspection_id'))
        batch_op.drop_index(batch_op.f('ix_inspection_tasks_household_id'))

    op.drop_table('inspection_tasks')
    with op.batch_alter_table('inspection_results', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_results_folder_id'))

    op.drop_table('inspection_results')
    with op.batch_alter_table('inspection_folders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_folders_inspection_id'))
        batch_op.drop_index(batch_op.f('ix_inspection_folders_household_id'))

    op.drop_table('inspection_folders')
    op.drop_table('inspections')
