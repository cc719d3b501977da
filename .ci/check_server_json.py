"""server.json against the MCP Registry's published JSON schema (run by .ci/release-checks.sh).

    python .ci/check_server_json.py server.json

The schema is the registry's 2025-12-11 release as the `skillsaw` package on PyPI ships it (copied byte for byte
from the modelcontextprotocol/static repository; see SCHEMA-SOURCE.md beside it in that package), so CI needs no
network beyond the package index. tests/project/test_distribution.py checks server.json against this package.
"""

from __future__ import annotations

import json
import sys
from importlib.resources import files
from pathlib import Path

from jsonschema import Draft7Validator, FormatChecker

SCHEMA_PACKAGE = "skillsaw.schemas.mcp_registry.v2025_12_11"


def main() -> int:
    schema = json.loads((files(SCHEMA_PACKAGE) / "server.schema.json").read_text())
    document = json.loads(Path(sys.argv[1]).read_text())
    if document.get("$schema") != schema["$id"]:
        print(f"check_server_json: $schema must be {schema['$id']}", file=sys.stderr)
        return 1
    validator = Draft7Validator(schema, format_checker=FormatChecker())
    errors = sorted(validator.iter_errors(document), key=lambda error: list(error.absolute_path))
    for error in errors:
        where = "/".join(str(part) for part in error.absolute_path) or "(top)"
        print(f"check_server_json: {where}: {error.message}", file=sys.stderr)
    if not errors:
        print(f"check_server_json: {sys.argv[1]} is valid against {schema['$id']}")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
