"""`python -m orq_mcp`: the same command line as `orq-mcp`."""

from orq_mcp.cli.main import main

raise SystemExit(main())
