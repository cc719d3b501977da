"""The orq API client: HTTP, errors, models, streaming. Nothing here imports MCP."""
