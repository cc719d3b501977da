"""Agent frameworks driving orq-mcp (run each file; tests/test_frameworks.py runs them in CI)."""
