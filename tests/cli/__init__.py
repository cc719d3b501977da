"""The command line (orq_mcp/cli): `orq-mcp`, `check` and `config`, run as real processes."""
