"""Agent frameworks driving orq-mcp (run each file; tests/e2e/test_frameworks.py runs them in CI)."""
