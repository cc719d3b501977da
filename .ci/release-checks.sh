#!/usr/bin/env bash
# The release artefacts, built and checked with their ecosystems' own tools (run by .ci/run; runnable by hand):
#
#   .ci/release-checks.sh [PYTHON]    (a venv's interpreter, default python3: build, twine and skillsaw go there)
#
# 1. wheel and sdist with `python -m build`, then `twine check --strict`; the sdist holds only what users need,
#    and the wheel installs into an empty venv and runs.
# 2. server.json against the MCP Registry's published schema (the 2025-12-11 release, as shipped byte for byte in
#    the `skillsaw` package from PyPI), and against this package (name, version, environment variables).
# 3. bench/RESULTS.md describes this code: recorded at or after the last commit that touched orq_mcp/, and the
#    README's performance figures are its Summary (.ci/check_bench_results.py).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${1:-python3}"
# Pinned: the checks' verdicts must not change under us. skillsaw 0.22.0 carries the registry schema 2025-12-11.
"$PYTHON" -m pip install --quiet "build==1.6.1" "twine==7.0.0" "skillsaw==0.22.0" "jsonschema[format]>=4.18"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/orq-mcp-release.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

echo "-- python -m build"
"$PYTHON" -m build --outdir "$WORK/dist" . >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; exit 1; }
ls -l "$WORK/dist"
echo "-- twine check --strict"
"$PYTHON" -m twine check --strict "$WORK"/dist/*
echo "-- contents and a clean install"
"$PYTHON" .ci/check_dist.py "$WORK/dist"
"$PYTHON" -m venv "$WORK/clean"
"$WORK/clean/bin/python" -m pip install --quiet "$WORK"/dist/*.whl
"$WORK/clean/bin/orq-mcp" --version
echo "-- server.json"
"$PYTHON" .ci/check_server_json.py server.json
echo "-- benchmark results (bench/RESULTS.md) up to date"
"$PYTHON" .ci/check_bench_results.py
echo "release checks: OK"
