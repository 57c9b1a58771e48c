"""exchange tables: peers, outbox, tracking, received (dedup), inbox, quarantine

Revision ID: 0002_exchange
Revises: 0001
Create Date: 2026-11-24 22:01:26.572686
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_exchange'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('exchange_inbox',
    sa.Column('package_id', sa.String(length=64), nullable=False),
    sa.Column('sender', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=500), server_default='', nullable=False),
    sa.Column('manifest', sa.JSON(), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=500), server_default='', nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('package_id', name=op.f('pk_exchange_inbox'))
    )
    op.create_table('exchange_outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('message_id', sa.String(length=64), nullable=False),
    sa.Column('hop', sa.String(length=64), nullable=False),
    sa.Column('sender', sa.String(length=64), nullable=False),
    sa.Column('units', sa.JSON(), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('relayed', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('state', sa.String(length=16), server_default='pending', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=500), server_default='', nullable=False),
    sa.Column('outcome', sa.String(length=32), server_default='', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exchange_outbox')),
    sa.UniqueConstraint('kind', 'message_id', 'hop', name=op.f('uq_exchange_outbox_kind_message_id_hop'))
    )
    with op.batch_alter_table('exchange_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_exchange_outbox_due', ['state', 'next_attempt_at'], unique=False)

    op.create_table('exchange_peers',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('url', sa.String(length=500), server_default='', nullable=False),
    sa.Column('via', sa.String(length=64), nullable=True),
    sa.Column('cert_pem', sa.Text(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_exchange_peers')),
    sa.UniqueConstraint('fingerprint', name=op.f('uq_exchange_peers_fingerprint'))
    )
    op.create_table('exchange_quarantine',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('message_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('hop', sa.String(length=64), nullable=False),
    sa.Column('sender', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('detail', sa.String(length=1000), server_default='', nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exchange_quarantine'))
    )
    with op.batch_alter_table('exchange_quarantine', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exchange_quarantine_message_id'), ['message_id'], unique=False)

    op.create_table('exchange_received',
    sa.Column('message_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('hop', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('message_id', name=op.f('pk_exchange_received'))
    )
    op.create_table('exchange_tracking',
    sa.Column('package_id', sa.String(length=64), nullable=False),
    sa.Column('unit', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=500), server_default='', nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=500), server_default='', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('package_id', 'unit', name=op.f('pk_exchange_tracking'))
    )


def downgrade() -> None:
    op.drop_table('exchange_tracking')
    op.drop_table('exchange_received')
    with op.batch_alter_table('exchange_quarantine', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exchange_quarantine_message_id'))

    op.drop_table('exchange_quarantine')
    op.drop_table('exchange_peers')
    with op.batch_alter_table('exchange_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_exchange_outbox_due')

    op.drop_table('exchange_outbox')
    op.drop_table('exchange_inbox')
