"""exchange desk: the 收文/发文 channels and which card shows which package

Revision ID: 0003_exchange_desk
Revises: 0002_exchange
Create Date: 2026-11-24 22:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_exchange_desk'
down_revision = '0002_exchange'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('exchange_desk_channels',
    sa.Column('box', sa.String(length=8), nullable=False),
    sa.Column('channel_id', BigId, nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_exchange_desk_channels_channel_id_channels'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('box', name=op.f('pk_exchange_desk_channels'))
    )
    op.create_table('exchange_desk_cards',
    sa.Column('package_id', sa.String(length=64), nullable=False),
    sa.Column('box', sa.String(length=8), nullable=False),
    sa.Column('message_id', BigId, nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_exchange_desk_cards_message_id_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('package_id', 'box', name=op.f('pk_exchange_desk_cards'))
    )


def downgrade() -> None:
    op.drop_table('exchange_desk_cards')
    op.drop_table('exchange_desk_channels')
