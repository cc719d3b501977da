"""The orq emulator (orq_mcp/sandbox), held to the official orq SDK's models and client."""
