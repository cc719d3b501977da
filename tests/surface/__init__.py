"""The MCP surface (orq_mcp/surface): tools, prompts and resources through the SDK's in-memory client, and through
a real server process where the process matters."""
