"""exchange_bridge: official-document model, XML codec and signed exchange (not built yet)."""
