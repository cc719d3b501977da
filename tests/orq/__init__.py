"""The orq client (orq_mcp/orq): requests, streams, errors, the catalog and its bounds, against the emulator on
loopback."""
