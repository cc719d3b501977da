"""Configuration: the operator's settings, and the orq keys and credentials callers bring (no MCP imports)."""
