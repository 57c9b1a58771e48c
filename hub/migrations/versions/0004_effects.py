"""effects: the transactional outbox of slow and outside work

Revision ID: 0004_effects
Revises: 0003_exchange_desk
Create Date: 2026-12-03 07:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_effects'
down_revision = '0003_exchange_desk'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('effects',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', TS, nullable=False),
    sa.Column('due_at', TS, nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_error', sa.Text(), server_default='', nullable=False),
    sa.Column('failed_at', TS, nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sqlite_autoincrement=True,
    )
    op.create_index(op.f('ix_effects_due_at'), 'effects', ['due_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_effects_due_at'), table_name='effects')
    op.drop_table('effects')
