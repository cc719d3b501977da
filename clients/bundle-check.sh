#!/usr/bin/env bash
# The Claude Desktop bundle (MCPB, formerly DXT), built and validated with the bundle CLI from npm
# (@anthropic-ai/mcpb, pinned in clients/package.json). Run by clients/run-checks.sh, which provides Node 22 and
# clients/node_modules; runnable by hand after that:
#
#   clients/bundle-check.sh OUT_DIR PYTHON     (PYTHON: a venv's interpreter, where the pinned uv is installed)
#
# The bundle holds manifest.json and what `uv run` needs to build and start the server (pyproject.toml, README.md,
# LICENSE, orq_mcp/); Claude Desktop runs `uv run --directory <bundle> orq-mcp` with the key from its keychain.
set -euo pipefail
CLIENTS="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$CLIENTS")"
OUT="${1:?usage: $0 OUT_DIR PYTHON}"
PYTHON="${2:?usage: $0 OUT_DIR PYTHON}"
UV_VERSION=0.13.9
MCPB="$CLIENTS/node_modules/.bin/mcpb"

STAGE="$OUT/bundle"
rm -rf "$STAGE"
mkdir -p "$STAGE"
cp "$ROOT/manifest.json" "$ROOT/pyproject.toml" "$ROOT/README.md" "$ROOT/LICENSE" "$STAGE/"
cp -r "$ROOT/orq_mcp" "$STAGE/"
find "$STAGE" -name __pycache__ -type d -prune -exec rm -rf {} +

"$MCPB" validate "$STAGE/manifest.json"
"$MCPB" pack "$STAGE" "$OUT/orq-mcp.mcpb"
"$MCPB" info "$OUT/orq-mcp.mcpb"
# What was packed is what the manifest launches: unpack it and check the entry point and the build inputs are there.
"$MCPB" unpack "$OUT/orq-mcp.mcpb" "$OUT/unpacked" >/dev/null
for needed in manifest.json pyproject.toml README.md LICENSE orq_mcp/__main__.py orq_mcp/cli/main.py; do
  [ -f "$OUT/unpacked/$needed" ] || { echo "bundle-check: the bundle lacks $needed" >&2; exit 1; }
done

# The manifest's own launch command, as Claude Desktop runs it (`uv run --directory <bundle> orq-mcp`), on the
# unpacked bundle: uv builds the package from it and starts the server.
"$PYTHON" -m pip install --quiet "uv==$UV_VERSION"
mapfile -t launch < <("$PYTHON" -c '
import json, sys
config = json.load(open(sys.argv[1]))["server"]["mcp_config"]
for word in [config["command"], *config["args"]]:
    print(word.replace("${__dirname}", sys.argv[2]))
' "$OUT/unpacked/manifest.json" "$OUT/unpacked")
[ "${launch[0]}" = uv ] || { echo "bundle-check: the manifest launches ${launch[0]}, not uv" >&2; exit 1; }
launch[0]="$(dirname "$PYTHON")/uv"
started="$("${launch[@]}" --version)"
expected="orq-mcp $("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["version"])' "$OUT/unpacked/manifest.json")"
[ "$started" = "$expected" ] || { echo "bundle-check: the bundle started '$started', not '$expected'" >&2; exit 1; }
echo "bundle-check: $OUT/orq-mcp.mcpb is valid and complete, and its launch command starts $started"
