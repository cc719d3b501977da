"""Settings and keys (orq_mcp/config): environment variables, flags over them, and the rules between them."""
