"""exchange tracking: who at the recipient signed for or returned a document

Revision ID: 0007_tracking_acted_by
Revises: 0006_workflows
Create Date: 2026-12-03 10:55:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007_tracking_acted_by'
down_revision = '0006_workflows'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('exchange_tracking') as batch:
        batch.add_column(sa.Column('acted_by', sa.String(length=100), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('exchange_tracking') as batch:
        batch.drop_column('acted_by')
