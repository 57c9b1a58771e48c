"""workflows that run by themselves: 文号 counters, the tamper-evident 流转记录, task kinds
(传阅 for 抄送我的) and 归档

Revision ID: 0008_flow_runtime
Revises: 0007_tracking_acted_by
Create Date: 2026-12-04 01:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008_flow_runtime'
down_revision = '0007_tracking_acted_by'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('flow_counters',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('unit_id', BigId, nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name', 'unit_id', 'year')
    )
    op.create_table('flow_audit',
    sa.Column('instance_id', BigId, nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('step', sa.JSON(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['flow_instances.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('instance_id', 'seq')
    )
    with op.batch_alter_table('flow_instances') as batch:
        batch.add_column(sa.Column('archived_at', TS, nullable=True))
    with op.batch_alter_table('flow_tasks') as batch:
        batch.add_column(sa.Column('kind', sa.String(length=16), server_default='task', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('flow_tasks') as batch:
        batch.drop_column('kind')
    with op.batch_alter_table('flow_instances') as batch:
        batch.drop_column('archived_at')
    op.drop_table('flow_audit')
    op.drop_table('flow_counters')
