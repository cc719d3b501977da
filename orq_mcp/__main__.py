from orq_mcp.cli import main

raise SystemExit(main())
