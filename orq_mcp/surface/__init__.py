"""The MCP surface: tools, resources, prompts, live lists and progress, per tenant."""
