from orq_mcp.serving.cli import main

raise SystemExit(main())
