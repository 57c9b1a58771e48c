"""workflows: definitions, instances and their tasks

Revision ID: 0006_workflows
Revises: 0005_bots
Create Date: 2026-12-03 07:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006_workflows'
down_revision = '0005_bots'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('flow_definitions',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('created_at', TS, nullable=False),
    sa.PrimaryKeyConstraint('key', 'version')
    )
    op.create_table('flow_instances',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('flow_key', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('initiator_id', BigId, nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('state', sa.JSON(), nullable=False),
    sa.Column('revision', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', TS, nullable=False),
    sa.Column('updated_at', TS, nullable=False),
    sa.ForeignKeyConstraint(['initiator_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sqlite_autoincrement=True,
    )
    op.create_index(op.f('ix_flow_instances_initiator_id'), 'flow_instances', ['initiator_id'], unique=False)
    op.create_table('flow_tasks',
    sa.Column('instance_id', BigId, nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('user_id', BigId, nullable=False),
    sa.Column('node', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('message_id', BigId, nullable=True),
    sa.Column('updated_at', TS, nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['flow_instances.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('instance_id', 'task_id')
    )
    op.create_index('ix_flow_tasks_user_status', 'flow_tasks', ['user_id', 'status'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_flow_tasks_user_status', table_name='flow_tasks')
    op.drop_table('flow_tasks')
    op.drop_index(op.f('ix_flow_instances_initiator_id'), table_name='flow_instances')
    op.drop_table('flow_instances')
    op.drop_table('flow_definitions')
