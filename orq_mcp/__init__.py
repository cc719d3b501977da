"""orq-mcp: an MCP server for orq.ai deployments."""

__version__ = "0.1.0"
