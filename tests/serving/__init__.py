"""Transports and processes (orq_mcp/serving): stdio, Streamable HTTP and SSE servers as real processes on
loopback, their limits and the attacks on them, and scale-out (workers, HAProxy, Redis)."""
