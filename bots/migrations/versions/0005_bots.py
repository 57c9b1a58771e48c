"""bots: incoming webhooks and slash commands

Revision ID: 0005_bots
Revises: 0004_effects
Create Date: 2026-12-03 07:15:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_bots'
down_revision = '0004_effects'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('bot_webhooks',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('channel_id', BigId, nullable=False),
    sa.Column('bot_id', BigId, nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('created_by', BigId, nullable=False),
    sa.Column('created_at', TS, nullable=False),
    sa.ForeignKeyConstraint(['bot_id'], ['users.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_index(op.f('ix_bot_webhooks_channel_id'), 'bot_webhooks', ['channel_id'], unique=False)
    op.create_table('bot_commands',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('trigger', sa.String(length=32), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('secret', sa.String(length=64), nullable=False),
    sa.Column('bot_id', BigId, nullable=False),
    sa.Column('description', sa.String(length=200), server_default='', nullable=False),
    sa.Column('created_by', BigId, nullable=False),
    sa.Column('created_at', TS, nullable=False),
    sa.ForeignKeyConstraint(['bot_id'], ['users.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('trigger')
    )


def downgrade() -> None:
    op.drop_table('bot_commands')
    op.drop_index(op.f('ix_bot_webhooks_channel_id'), table_name='bot_webhooks')
    op.drop_table('bot_webhooks')
