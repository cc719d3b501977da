"""Benchmarks for orq-mcp (issue #5): `python -m bench` or `python -m bench --quick`. See bench/README.md."""
