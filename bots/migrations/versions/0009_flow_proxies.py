"""workflows: standing proxies (代理)

Revision ID: 0009_flow_proxies
Revises: 0008_flow_runtime
Create Date: 2026-12-04 02:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009_flow_proxies'
down_revision = '0008_flow_runtime'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('flow_proxies',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('user_id', BigId, nullable=False),
    sa.Column('proxy_id', BigId, nullable=False),
    sa.Column('starts_at', TS, nullable=False),
    sa.Column('ends_at', TS, nullable=False),
    sa.Column('created_by', BigId, nullable=False),
    sa.Column('created_at', TS, nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['proxy_id'], ['users.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sqlite_autoincrement=True,
    )
    op.create_index(op.f('ix_flow_proxies_user_id'), 'flow_proxies', ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_flow_proxies_user_id'), table_name='flow_proxies')
    op.drop_table('flow_proxies')
