"""The stdio transport: the protocol's own non-blocking descriptors, JSON-RPC lines, answers owed at EOF."""
