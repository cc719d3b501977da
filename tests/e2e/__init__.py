"""End to end: real MCP clients (the SDK's, agent frameworks') against real `python -m orq_mcp` processes on every
transport: long generations, load, secrets."""
