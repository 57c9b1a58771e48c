"""rooms: channels, membership, messages, history, offline sync, read receipts, files.

The kernel knows it by `rooms.feature.FEATURE`; `rooms.wiring` puts it into the app."""
