"""exchange_bridge: official-document model, XML codec and signed exchange between nodes.

The kernel knows it by `exchange_bridge.feature.FEATURE`; `exchange_bridge.wiring` puts
it into the app."""
