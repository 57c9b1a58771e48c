"""workflows: the post a task was given in (一人多岗), for 待办 per post

Revision ID: 0010_flow_task_posts
Revises: 0009_flow_proxies
Create Date: 2026-12-04 02:15:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010_flow_task_posts'
down_revision = '0009_flow_proxies'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('flow_tasks') as batch:
        batch.add_column(sa.Column('post_unit_id', BigId, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('flow_tasks') as batch:
        batch.drop_column('post_unit_id')
