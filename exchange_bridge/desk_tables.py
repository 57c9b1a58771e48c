"""Tables of the 收发 desk (exchange_bridge/desk.py).

- `exchange_desk_channels`: the node's 收文 (`in`) and 发文 (`out`) channels.
- `exchange_desk_cards`: which card message shows which package, per box, so a receipt
  or a recipient's action updates the right card.
"""

from __future__ import annotations

import sqlalchemy as sa

from hub.db import BigId, metadata

exchange_desk_channels = sa.Table(
    "exchange_desk_channels",
    metadata,
    sa.Column("box", sa.String(8), primary_key=True),  # in | out
    sa.Column("channel_id", BigId, sa.ForeignKey("channels.id", ondelete="CASCADE"), nullable=False),
)

exchange_desk_cards = sa.Table(
    "exchange_desk_cards",
    metadata,
    sa.Column("package_id", sa.String(64), primary_key=True),
    sa.Column("box", sa.String(8), primary_key=True),
    sa.Column("message_id", BigId, sa.ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
)
