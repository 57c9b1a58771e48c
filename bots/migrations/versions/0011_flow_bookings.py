"""workflows: bookings (车辆申请's car for a period), so no two overlap

Revision ID: 0011_flow_bookings
Revises: 0010_flow_task_posts
Create Date: 2026-12-04 19:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011_flow_bookings'
down_revision = '0010_flow_task_posts'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('flow_bookings',
    sa.Column('instance_id', BigId, nullable=False),
    sa.Column('field', sa.String(length=50), nullable=False),
    sa.Column('resource', sa.String(length=100), nullable=False),
    sa.Column('starts_at', TS, nullable=False),
    sa.Column('ends_at', TS, nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['flow_instances.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('instance_id', 'field'),
    )
    op.create_index('ix_flow_bookings_resource', 'flow_bookings', ['field', 'resource', 'starts_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_flow_bookings_resource', table_name='flow_bookings')
    op.drop_table('flow_bookings')
