"""user villages

The villages a village doctor serves (`user_villages`): the access scope of that user. Existing village doctors get
the villages of the borrower they are registered as, so no one's scope becomes empty or site-wide on upgrade.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 09:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'user_villages',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('village_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_villages_user_id_users'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_user_villages_village_id_villages')),
        sa.PrimaryKeyConstraint('user_id', 'village_id', name=op.f('pk_user_villages')),
    )
    op.execute(
        "INSERT INTO user_villages (user_id, village_id) "
        "SELECT b.user_id, bv.village_id FROM borrowers b JOIN borrower_villages bv ON bv.borrower_id = b.id "
        "JOIN users u ON u.id = b.user_id WHERE u.role = 'village_doctor'"
    )


def downgrade() -> None:
    op.drop_table('user_villages')
