"""Benchmarks for orq-mcp (issues 5 and 8): `python -m bench` or `python -m bench --quick`. See bench/README.md."""
