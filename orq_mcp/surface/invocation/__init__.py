"""One invocation of a deployment, on one straight path: inputs completed or asked for, the generation streamed
as progress, its outputs in MCP form, the result fitted to the budget."""
