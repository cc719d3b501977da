"""Issue #3, protocol abuse: raw bytes at real `python -m orq_mcp` processes, over stdio and Streamable HTTP.

The module starts, in parallel, three stdio servers and one Streamable HTTP server (`--expose all`), all against the
session's orq emulator, and shares them between its tests:

- `fresh` (stdio): used once, for what a client may and may not do before `initialize`;
- `legacy` (stdio): a handshake-era connection (`initialize`, protocol 2025-11-25);
- `modern` (stdio): a 2026-07-28 connection, every request carrying the `_meta` envelope (no handshake);
- `http`: answers 2026-07-28 POSTs (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name` headers and the envelope, as
  the SDK's Client sends them) and handshake-era sessions (`Mcp-Session-Id`).

Every message written to stdout or returned over HTTP must be one JSON-RPC 2.0 message without a traceback or the
key. After every abuse the process must still be running and answer a well-formed request.

To learn whether a stdio server answered something that has no id of its own, a test sends a `ping` right behind it
(`server/discover` at 2026-07-28, which has no ping) and collects every response that arrives before the ping's.
Requests with an id are answered concurrently, so those tests wait for their own id instead.
"""

from __future__ import annotations

import itertools
import json
import queue
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx2
import pytest

from orq_mcp.sandbox import EmulatorThread
from tests.conftest import API_KEY
from tests.processes import MODULE, STARTUP_TIMEOUT, HttpServer, server_env, stop_process

# JSON-RPC 2.0 and MCP error codes, as they appear on the wire.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
HEADER_MISMATCH = -32020
UNSUPPORTED_PROTOCOL_VERSION = -32022

LEGACY_VERSION = "2025-11-25"
MODERN_VERSION = "2026-07-28"
CLIENT_INFO = {"name": "raw-abuse-test", "version": "0"}
ENVELOPE = {
    "io.modelcontextprotocol/protocolVersion": MODERN_VERSION,
    "io.modelcontextprotocol/clientInfo": CLIENT_INFO,
    "io.modelcontextprotocol/clientCapabilities": {},
}
INITIALIZE = {"protocolVersion": LEGACY_VERSION, "capabilities": {}, "clientInfo": CLIENT_INFO}
STATIC_TOOLS = {"list_deployments", "get_deployment_config", "invoke_deployment", "list_prompts"}
CRASH_TEXT = "Error executing tool {}"
TRACEBACK = "Traceback (most recent call last)"
ANSWER_TIMEOUT = 20.0
MAX_BODY = 4 * 1024 * 1024  # the SDK's default max_request_body_size


def jsonrpc_message(raw: bytes | str) -> dict[str, Any]:
    """Parse what the server sent, which must be exactly one JSON-RPC 2.0 message, and nothing it must not say."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    assert API_KEY not in text, "the key reached the wire"
    assert TRACEBACK not in text, text[:2000]
    message = json.loads(text)
    assert isinstance(message, dict), text[:500]
    assert message.get("jsonrpc") == "2.0", text[:500]
    if "method" in message:
        assert isinstance(message["method"], str), text[:500]
        return message
    assert "id" in message, text[:500]
    assert ("result" in message) != ("error" in message), text[:500]
    if "error" in message:
        error = message["error"]
        assert isinstance(error.get("code"), int), text[:500]
        assert isinstance(error.get("message"), str), text[:500]
    return message


def error_code(message: dict[str, Any]) -> int | None:
    return message["error"]["code"] if "error" in message else None


def tool_text(message: dict[str, Any]) -> str:
    return "\n".join(block.get("text", "") for block in message["result"]["content"])


# stdio ---------------------------------------------------------------------------------------------------------------


class StdioPeer:
    """A `python -m orq_mcp` on pipes, spoken to in raw bytes. Its stdout is read line by line on a thread."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path, command: Sequence[str] = MODULE) -> None:
        self.name = name
        self.modern = False  # whether requests carry the 2026-07-28 envelope
        self.stderr_path = log_dir / f"{name}.stderr.log"
        with self.stderr_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                command, env=server_env(key=None, **env), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr
            )
        self._ids = itertools.count(1)
        self._answered = False  # until the first answer, the process may still be starting
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        assert self.process.stdout is not None
        threading.Thread(target=self._pump, args=(self.process.stdout,), name=f"{name}-stdout", daemon=True).start()

    def _pump(self, stream: IO[bytes]) -> None:
        for line in iter(stream.readline, b""):
            self._lines.put(line)
        self._lines.put(None)

    @property
    def ping(self) -> str:
        """The cheapest request: `ping`, which 2026-07-28 no longer has; `server/discover` there."""
        return "server/discover" if self.modern else "ping"

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")[-5000:]

    def write(self, raw: bytes) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(raw)
            self.process.stdin.flush()
        except BrokenPipeError:
            pytest.fail(f"{self.name} closed its stdin (exit code {self.process.poll()}):\n{self.stderr()}")

    def send(self, message: dict[str, Any]) -> None:
        self.write(json.dumps(message).encode() + b"\n")

    def envelope(self, params: dict[str, Any] | None) -> dict[str, Any] | None:
        if not self.modern:
            return params
        params = dict(params or {})
        params["_meta"] = {**ENVELOPE, **params.get("_meta", {})}
        return params

    def send_request(self, method: str, params: dict[str, Any] | None = None, request_id: Any = None) -> Any:
        request_id = next(self._ids) if request_id is None else request_id
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        params = self.envelope(params)
        if params is not None:
            message["params"] = params
        self.send(message)
        return request_id

    def request(self, method: str, params: dict[str, Any] | None = None, request_id: Any = None) -> dict[str, Any]:
        return self.response(self.send_request(method, params, request_id))

    def response(self, request_id: Any, timeout: float = ANSWER_TIMEOUT) -> dict[str, Any]:
        return self.responses_until(request_id, timeout)[0]

    def responses_until(self, request_id: Any, timeout: float = ANSWER_TIMEOUT) -> tuple[dict[str, Any], list[Any]]:
        """The response to `request_id`, and every other response that arrived before it."""
        deadline = time.monotonic() + timeout + (0 if self._answered else STARTUP_TIMEOUT)
        before = []
        while True:
            message = self.next(deadline - time.monotonic())
            if "method" in message:  # a notification or request of the server's own
                continue
            if message["id"] == request_id and type(message["id"]) is type(request_id):
                self._answered = True
                return message, before
            before.append(message)

    def next(self, timeout: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=max(timeout, 0.01))
        except queue.Empty:
            pytest.fail(f"{self.name} answered nothing within the time allowed:\n{self.stderr()}")
        if line is None:
            pytest.fail(f"{self.name} closed stdout (exit code {self.process.poll()}):\n{self.stderr()}")
        assert line.endswith(b"\n"), line[:500]
        return jsonrpc_message(line)

    def after(self, raw: bytes) -> list[dict[str, Any]]:
        """Write `raw`, then a ping: the responses that arrived before the ping's answer (which must be a result)."""
        self.write(raw)
        answer, before = self.responses_until(self.send_request(self.ping, request_id=f"sentinel-{next(self._ids)}"))
        assert "result" in answer, answer
        return before

    def assert_serving(self) -> None:
        assert self.process.poll() is None, f"{self.name} exited with {self.process.returncode}:\n{self.stderr()}"
        listed = self.request("tools/list")
        assert "result" in listed, listed
        assert {tool["name"] for tool in listed["result"]["tools"]} >= STATIC_TOOLS

    def handshake(self) -> dict[str, Any]:
        initialized = self.request("initialize", INITIALIZE)
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return initialized

    def close(self) -> tuple[int, list[dict[str, Any]]]:
        """Close stdin, as a host does to stop a stdio server: its exit code, and whatever it still wrote."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        code = self.process.wait(timeout=ANSWER_TIMEOUT)
        rest = []
        while (line := self._lines.get(timeout=ANSWER_TIMEOUT)) is not None:
            rest.append(jsonrpc_message(line))
        return code, rest

    def stop(self) -> None:
        stop_process(self.process)
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


# HTTP ----------------------------------------------------------------------------------------------------------------


def modern_headers(method: str, name: str | None = None, version: str = MODERN_VERSION) -> dict[str, str]:
    """What the SDK's Client sends with a 2026-07-28 request."""
    headers = {
        "accept": "application/json, text/event-stream",
        "content-type": "application/json",
        "mcp-protocol-version": version,
        "mcp-method": method,
    }
    if name is not None:
        headers["mcp-name"] = name
    return headers


LEGACY_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def messages_in(response: httpx2.Response) -> list[dict[str, Any]]:
    """The JSON-RPC messages of an HTTP response: a JSON body, or the data of each SSE event."""
    kind = response.headers.get("content-type", "").partition(";")[0].strip()
    if kind == "application/json":
        return [jsonrpc_message(response.content)]
    if kind == "text/event-stream":
        data = (line.removeprefix("data:").strip() for line in response.text.splitlines() if line.startswith("data:"))
        return [jsonrpc_message(item) for item in data if item]
    return []


def raw_tool_call(name: str, raw_arguments: bytes, *, envelope: bool, request_id: str = "raw-call") -> bytes:
    """A tools/call message whose `arguments` are written as raw JSON text, with the 2026-07-28 envelope or not."""
    meta = b',"_meta":' + json.dumps(ENVELOPE).encode() if envelope else b""
    return (
        b'{"jsonrpc":"2.0","id":' + json.dumps(request_id).encode() + b',"method":"tools/call","params":{"name":'
        + json.dumps(name).encode() + b',"arguments":' + raw_arguments + meta + b"}}"
    )  # fmt: skip


class HttpPeer:
    """Raw POSTs to a Streamable HTTP server."""

    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.url = server.url
        self.http = httpx2.Client(timeout=ANSWER_TIMEOUT)
        self._ids = itertools.count(1)

    def post(self, body: Any, headers: dict[str, str]) -> httpx2.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response = self.http.post(self.url, content=content, headers=headers)
        assert API_KEY not in response.text
        assert TRACEBACK not in response.text, response.text[:2000]
        return response

    def modern(
        self, method: str, params: dict[str, Any] | None = None, request_id: Any = None
    ) -> tuple[httpx2.Response, dict[str, Any]]:
        """A well-formed 2026-07-28 request: its HTTP response and its one JSON-RPC answer."""
        request_id = next(self._ids) if request_id is None else request_id
        params = {**(params or {}), "_meta": ENVELOPE}
        body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        name = params.get("name") if method == "tools/call" else None
        response = self.post(body, modern_headers(method, name))
        (message,) = messages_in(response)
        assert message["id"] == request_id
        return response, message

    def call_tool(self, raw_arguments: bytes, name: str) -> dict[str, Any]:
        """A 2026-07-28 tools/call whose `arguments` are written as raw JSON text."""
        body = raw_tool_call(name, raw_arguments, envelope=True)
        (message,) = messages_in(self.post(body, modern_headers("tools/call", name)))
        return message

    def assert_serving(self) -> None:
        assert self.server.process.poll() is None, f"the HTTP server exited:\n{self.server.stderr()}"
        response, listed = self.modern("tools/list")
        assert response.status_code == 200, response.text[:500]
        assert {tool["name"] for tool in listed["result"]["tools"]} >= STATIC_TOOLS

    def open_legacy_session(self) -> dict[str, str]:
        """A handshake-era session, as the SDK's Client opens one in legacy mode: the headers to use it."""
        body = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": INITIALIZE}
        response = self.post(body, LEGACY_HEADERS)
        assert response.status_code == 200, response.text[:500]
        (initialized,) = messages_in(response)
        assert initialized["result"]["protocolVersion"] == LEGACY_VERSION
        headers = {
            **LEGACY_HEADERS,
            "mcp-session-id": response.headers["mcp-session-id"],
            "mcp-protocol-version": LEGACY_VERSION,
        }
        notified = self.post({"jsonrpc": "2.0", "method": "notifications/initialized"}, headers)
        assert notified.status_code == 202, notified.text[:500]
        return headers

    def assert_session_serving(self, headers: dict[str, str]) -> None:
        request_id = f"alive-{next(self._ids)}"
        response = self.post({"jsonrpc": "2.0", "id": request_id, "method": "tools/list"}, headers)
        assert response.status_code == 200, response.text[:500]
        (listed,) = messages_in(response)
        assert listed["id"] == request_id
        assert {tool["name"] for tool in listed["result"]["tools"]} >= STATIC_TOOLS


# Fixtures ------------------------------------------------------------------------------------------------------------


@dataclass
class Launched:
    stdio: dict[str, StdioPeer]
    http: HttpServer


@pytest.fixture(scope="module")
def launched(emulator: EmulatorThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launched]:
    """Every process of the module, started at once so that they boot in parallel."""
    env = {"ORQ_API_KEY": API_KEY, "ORQ_BASE_URL": emulator.base_url}
    log_dir = tmp_path_factory.mktemp("protocol-abuse")
    stdio: dict[str, StdioPeer] = {}
    http: HttpServer | None = None
    try:
        for name in ("fresh", "legacy", "modern"):
            stdio[name] = StdioPeer(name, env, log_dir)
        http = HttpServer.start("http", env, tmp_path_factory.mktemp("protocol-abuse-http"), args=["--expose", "all"])
        yield Launched(stdio, http)
    finally:
        for peer in stdio.values():
            peer.stop()
        if http is not None:
            http.stop()


@pytest.fixture(scope="module")
def legacy(launched: Launched) -> StdioPeer:
    peer = launched.stdio["legacy"]
    initialized = peer.handshake()
    assert initialized["result"]["protocolVersion"] == LEGACY_VERSION, initialized
    return peer


@pytest.fixture(scope="module")
def modern(launched: Launched) -> StdioPeer:
    peer = launched.stdio["modern"]
    peer.modern = True
    # The first request decides the connection's era; at 2026-07-28 it need not be server/discover.
    called = peer.request("tools/call", {"name": "list_deployments", "arguments": {"limit": 1}})
    assert called["result"]["isError"] is False, called
    discovered = peer.request("server/discover")
    assert MODERN_VERSION in discovered["result"]["supportedVersions"], discovered
    return peer


@pytest.fixture(params=["legacy", "modern"])
def stdio(request: pytest.FixtureRequest) -> StdioPeer:
    peer: StdioPeer = request.getfixturevalue(request.param)
    return peer


@pytest.fixture(scope="module")
def http(launched: Launched) -> Iterator[HttpPeer]:
    peer = HttpPeer(launched.http.ready())
    try:
        yield peer
    finally:
        peer.http.close()


@pytest.fixture(scope="module")
def session(http: HttpPeer) -> dict[str, str]:
    return http.open_legacy_session()


# stdio: what the server receives before the handshake --------------------------------------------------------------


def test_stdio_before_initialize_only_ping_is_served(launched: Launched) -> None:
    """Handshake era: before `initialize` a client may only ping; anything else is refused, and nothing breaks."""
    peer = launched.stdio["fresh"]
    # Garbage first decides nothing; the ping that `after` sends behind it is the connection's first request.
    assert all("error" in message for message in peer.after(b"{not json\n"))
    assert peer.request("ping", request_id=1)["result"] == {}
    listed = peer.request("tools/list", request_id=2)
    assert error_code(listed) is not None, listed  # the SDK answers -32602 "Invalid request parameters"
    called = peer.request("tools/call", {"name": "list_deployments", "arguments": {}}, request_id=3)
    assert error_code(called) is not None, called
    assert error_code(peer.request("no/such/method", request_id=4)) == METHOD_NOT_FOUND
    assert peer.after(b'{"jsonrpc":"2.0","method":"notifications/no_such_thing"}\n') == []

    initialized = peer.handshake()
    assert initialized["result"]["protocolVersion"] == LEGACY_VERSION
    assert initialized["result"]["serverInfo"]["name"] == "orq-mcp"
    peer.assert_serving()
    # This connection is handshake-era now: a request in the 2026-07-28 envelope is refused.
    peer.modern = True
    try:
        assert error_code(peer.request("tools/list")) == INVALID_REQUEST
    finally:
        peer.modern = False
    peer.assert_serving()


def test_stdio_modern_era_refuses_the_handshake_and_bad_envelopes(modern: StdioPeer) -> None:
    refused = modern.request("initialize", INITIALIZE)
    assert error_code(refused) == UNSUPPORTED_PROTOCOL_VERSION, refused
    assert refused["error"]["data"]["supported"] == [MODERN_VERSION]
    modern.modern = False  # no envelope at all
    try:
        assert error_code(modern.request("tools/list")) == INVALID_PARAMS
    finally:
        modern.modern = True
    unsupported = modern.request("tools/list", {"_meta": {"io.modelcontextprotocol/protocolVersion": "2099-01-01"}})
    assert error_code(unsupported) == UNSUPPORTED_PROTOCOL_VERSION, unsupported
    assert unsupported["error"]["data"]["supported"] == [MODERN_VERSION]
    modern.assert_serving()


# stdio: malformed lines ----------------------------------------------------------------------------------------------

DEEP = b"[" * 300 + b"]" * 300
TOO_LONG_INTEGER = b"9" * 5000  # JSON, but longer than any Python JSON parser reads
OVERSIZED = 8 * 1024 * 1024

# name: (line, error codes a JSON-RPC server may answer with, ids it may answer with)
INVALID_LINES: dict[str, tuple[bytes, set[int], set[Any]]] = {
    "not-json": (b"{not json", {PARSE_ERROR}, {None}),
    "invalid-utf8": (b"\xff\xfe\x00\x9c garbage \xc3\x28", {PARSE_ERROR}, {None}),
    "nul-bytes": (b"\x00\x00\x00\x00", {PARSE_ERROR}, {None}),
    "truncated": (b'{"jsonrpc":"2.0","id":31,"method":"ping"', {PARSE_ERROR}, {None}),
    "array": (b"[1,2]", {INVALID_REQUEST}, {None}),
    "batch": (b'[{"jsonrpc":"2.0","id":32,"method":"ping"}]', {INVALID_REQUEST}, {None}),  # no batches since 2025-06
    "number": (b"42", {INVALID_REQUEST}, {None}),
    "string": (b'"ping"', {INVALID_REQUEST}, {None}),
    "null": (b"null", {INVALID_REQUEST}, {None}),
    "no-method": (b'{"jsonrpc":"2.0","id":33}', {INVALID_REQUEST}, {None, 33}),
    "no-jsonrpc": (b'{"id":34,"method":"ping"}', {INVALID_REQUEST}, {None, 34}),
    "wrong-jsonrpc": (b'{"jsonrpc":"1.0","id":35,"method":"ping"}', {INVALID_REQUEST}, {None, 35}),
    "method-not-string": (b'{"jsonrpc":"2.0","id":36,"method":42}', {INVALID_REQUEST}, {None, 36}),
    "object-id": (b'{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}', {INVALID_REQUEST}, {None}),
    "fractional-id": (b'{"jsonrpc":"2.0","id":1.5,"method":"ping"}', {INVALID_REQUEST}, {None, 1.5}),
    "null-id": (b'{"jsonrpc":"2.0","id":null,"method":"ping"}', {INVALID_REQUEST}, {None}),
    "params-array": (
        b'{"jsonrpc":"2.0","id":37,"method":"tools/list","params":[1,2]}',
        {INVALID_REQUEST, INVALID_PARAMS},
        {None, 37},
    ),
    "params-string": (
        b'{"jsonrpc":"2.0","id":38,"method":"tools/call","params":"list_deployments"}',
        {INVALID_REQUEST, INVALID_PARAMS},
        {None, 38},
    ),
    "too-deep": (
        b'{"jsonrpc":"2.0","id":39,"method":"tools/list","params":{"x":' + DEEP + b"}}",
        {PARSE_ERROR, INVALID_REQUEST, INVALID_PARAMS},
        {None, 39},
    ),
    "lone-surrogate": (
        b'{"jsonrpc":"2.0","id":40,"method":"tools/call","params":{"name":"list_prompts","arguments":{"cursor":"\\ud800"}}}',
        {PARSE_ERROR, INVALID_REQUEST, INVALID_PARAMS},
        {None, 40},
    ),
    "too-long-integer": (
        b'{"jsonrpc":"2.0","id":41,"method":"tools/call","params":{"name":"list_prompts","arguments":{"limit":'
        + TOO_LONG_INTEGER
        + b"}}}",
        {PARSE_ERROR, INVALID_REQUEST, INVALID_PARAMS},
        {None, 41},
    ),
    "oversized-garbage": (b"x" * OVERSIZED, {PARSE_ERROR}, {None}),
}
# Lines that are not requests, so nothing may answer them.
IGNORED_LINES = {
    "blank": b"",
    "whitespace": b" \t ",
    "unknown-notification": b'{"jsonrpc":"2.0","method":"notifications/no_such_thing","params":{"x":1}}',
    "cancel-unknown-request": b'{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"nobody"}}',
    "progress-unknown-token": (
        b'{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"x","progress":1}}'
    ),
    "response-to-nothing": b'{"jsonrpc":"2.0","id":"nobody-asked","result":{}}',
    "error-to-nothing": b'{"jsonrpc":"2.0","id":"nobody-asked","error":{"code":-1,"message":"no"}}',
}


@pytest.mark.parametrize("case", [*INVALID_LINES, *IGNORED_LINES])
def test_stdio_survives_malformed_lines(stdio: StdioPeer, case: str) -> None:
    raw = INVALID_LINES[case][0] if case in INVALID_LINES else IGNORED_LINES[case]
    before = stdio.after(raw + b"\n")
    assert all("error" in message for message in before), before  # nothing malformed is ever served
    stdio.assert_serving()


# The SDK reads these as notifications (its notification model ignores an `id` it cannot use), so only the raw line
# shows that they are requests owed an error.
READ_AS_NOTIFICATIONS = ["object-id", "fractional-id", "null-id"]
STDIO_INVALID_IDS = (
    "product bug (inherited from the SDK): a request whose id is an object, a fraction or null validates as a "
    "notification (mcp_types' JSONRPCNotification ignores the unusable `id`), so it is dropped, never answered"
)


def assert_answered_per_json_rpc(peer: StdioPeer, case: str) -> None:
    raw, codes, ids = INVALID_LINES[case]
    before = peer.after(raw + b"\n")
    answers = [m for m in before if error_code(m) in codes and m["id"] in ids]
    assert answers, f"no {sorted(codes)} error for the {case} line; got {before}"


@pytest.mark.parametrize("case", [case for case in INVALID_LINES if case not in READ_AS_NOTIFICATIONS])
def test_stdio_answers_malformed_lines_per_json_rpc(legacy: StdioPeer, case: str) -> None:
    assert_answered_per_json_rpc(legacy, case)


@pytest.mark.xfail(strict=True, reason=STDIO_INVALID_IDS)
@pytest.mark.parametrize("case", READ_AS_NOTIFICATIONS)
def test_stdio_answers_requests_with_unusable_ids(legacy: StdioPeer, case: str) -> None:
    assert_answered_per_json_rpc(legacy, case)


@pytest.mark.parametrize("case", list(IGNORED_LINES))
def test_stdio_does_not_answer_what_is_not_a_request(stdio: StdioPeer, case: str) -> None:
    assert stdio.after(IGNORED_LINES[case] + b"\n") == []


# stdio: well-framed requests that are wrong -------------------------------------------------------------------------


def test_stdio_unknown_methods_and_wrong_params_are_json_rpc_errors(stdio: StdioPeer) -> None:
    unknown = stdio.request("orq/no_such_method", {"x": 1})
    assert error_code(unknown) == METHOD_NOT_FOUND, unknown
    wrong_shapes: list[dict[str, Any]] = [
        {"name": 5, "arguments": {}},  # a name that is not a string
        {"arguments": {}},  # no name
        {"name": "list_deployments", "arguments": [1, 2]},  # arguments that are not an object
        {"name": "list_deployments", "arguments": "limit=5"},
    ]
    for params in wrong_shapes:
        answer = stdio.request("tools/call", params)
        assert error_code(answer) == INVALID_PARAMS, (params, answer)
    # The SDK answers an unknown tool with an isError result (the 2025-11-25 spec shows -32602); either is fine here.
    missing = stdio.request("tools/call", {"name": "no_such_tool", "arguments": {}})
    assert error_code(missing) == INVALID_PARAMS or (missing["result"]["isError"] and "no_such_tool" in str(missing))
    stdio.assert_serving()


def test_stdio_ids_come_back_exactly(stdio: StdioPeer) -> None:
    for request_id in [10**30, -(2**63), 0, "", "🦄 \u202e id", "x" * 65536]:
        answer = stdio.request(stdio.ping, request_id=request_id)
        assert answer["id"] == request_id
        assert type(answer["id"]) is type(request_id)
        assert "result" in answer


def test_stdio_duplicate_ids_are_each_answered(stdio: StdioPeer) -> None:
    """Reusing an id in flight breaks the protocol's rules; the server must still not stall or crash."""
    arguments = {"key": "faq-assistant", "messages": [{"role": "user", "content": "Same id twice?"}]}
    stdio.send_request("tools/call", {"name": "invoke_deployment", "arguments": arguments}, request_id="twin")
    stdio.send_request(stdio.ping, request_id="twin")
    first = stdio.response("twin")
    second = stdio.response("twin")
    assert "result" in first, first
    assert "result" in second, second
    stdio.assert_serving()


def test_stdio_oversized_request_is_answered(stdio: StdioPeer) -> None:
    """stdio has no size limit of its own: an 8 MB request is read, and refused by the tool's own limits."""
    cursor = "c" * OVERSIZED
    answer = stdio.request("tools/call", {"name": "list_deployments", "arguments": {"cursor": cursor}})
    assert answer["result"]["isError"] is True
    assert "cursor" in tool_text(answer)
    assert len(json.dumps(answer)) < 10_000  # the 8 MB are not echoed back
    stdio.assert_serving()


# Values JSON carries that the server cannot forward to orq: a known bug ---------------------------------------------

UNFORWARDABLE_NUMBERS = {
    # `1e999` is valid JSON; every parser reads it as infinity. NaN and Infinity are not JSON, but pydantic takes them.
    "inputs-1e999": (b'{"key":"faq-assistant","inputs":{"n":1e999}}', "invoke_deployment"),
    "metadata-minus-1e999": (b'{"key":"faq-assistant","metadata":{"n":-1e999}}', "invoke_deployment"),
    "context-nan": (b'{"key":"faq-assistant","context":{"n":NaN}}', "get_deployment_config"),
    "inputs-infinity": (b'{"key":"faq-assistant","inputs":{"n":Infinity}}', "get_deployment_config"),
}
UNFORWARDABLE_TEXT = {
    # An unpaired surrogate escape is valid JSON syntax; the stdlib parser of the 2026-07-28 HTTP entry keeps it.
    "inputs-lone-surrogate": (b'{"key":"faq-assistant","inputs":{"x":"\\ud800"}}', "invoke_deployment"),
    "context-lone-surrogate": (b'{"key":"faq-assistant","context":{"x":"a\\udfffb"}}', "get_deployment_config"),
    "exposed-variable-lone-surrogate": (
        b'{"company_name":"\\ud800","language":"en","customer_name":"Priya","ticket_body":"Hi"}',
        "support_triage",
    ),
}


def assert_refused_cleanly(tool: str, answer: dict[str, Any]) -> None:
    if "error" in answer:
        return  # refusing the whole request is fine too
    text = tool_text(answer)
    assert answer["result"]["isError"] is True, text
    assert text.strip() != CRASH_TEXT.format(tool), f"{tool} crashed"
    assert "Invalid arguments" in text, text


@pytest.mark.parametrize("case", list(UNFORWARDABLE_NUMBERS))
def test_stdio_numbers_orq_cannot_take_are_refused(legacy: StdioPeer, case: str) -> None:
    arguments, tool = UNFORWARDABLE_NUMBERS[case]
    request = b'{"jsonrpc":"2.0","id":"n","method":"tools/call","params":{"name":"%s","arguments":%s}}\n'
    legacy.write(request % (tool.encode(), arguments))
    assert_refused_cleanly(tool, legacy.response("n"))


@pytest.mark.parametrize("case", [*UNFORWARDABLE_NUMBERS, *UNFORWARDABLE_TEXT])
def test_http_numbers_and_text_orq_cannot_take_are_refused(http: HttpPeer, case: str) -> None:
    arguments, tool = {**UNFORWARDABLE_NUMBERS, **UNFORWARDABLE_TEXT}[case]
    assert_refused_cleanly(tool, http.call_tool(arguments, tool))


# Streamable HTTP, 2026-07-28 -----------------------------------------------------------------------------------------

# name: (body, error code); every one is answered 400 with `id: null`
MALFORMED_BODIES: dict[str, tuple[bytes, int]] = {
    "not-json": (b"{not json", PARSE_ERROR),
    "empty": (b"", PARSE_ERROR),
    "invalid-utf8": (b"\xff\xfe\x00\x9c garbage \xc3\x28", PARSE_ERROR),
    "truncated": (b'{"jsonrpc":"2.0","id":1,"method":"tools/list"', PARSE_ERROR),
    "too-deep": (b'{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"x":' + b"[" * 100_000, PARSE_ERROR),
    "array": (b"[1,2]", INVALID_REQUEST),
    "batch": (b'[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]', INVALID_REQUEST),
    "number": (b"42", INVALID_REQUEST),
    "null": (b"null", INVALID_REQUEST),
    "no-method": (b'{"jsonrpc":"2.0","id":1}', INVALID_REQUEST),
    "no-jsonrpc": (b'{"id":1,"method":"tools/list"}', INVALID_REQUEST),
    "wrong-jsonrpc": (b'{"jsonrpc":"1.0","id":1,"method":"tools/list"}', INVALID_REQUEST),
    "object-id": (b'{"jsonrpc":"2.0","id":{"a":1},"method":"tools/list"}', INVALID_REQUEST),
    "params-array": (b'{"jsonrpc":"2.0","id":1,"method":"tools/list","params":[1]}', INVALID_REQUEST),
}


@pytest.mark.parametrize("case", list(MALFORMED_BODIES))
def test_http_malformed_bodies_are_json_rpc_errors(http: HttpPeer, case: str) -> None:
    body, code = MALFORMED_BODIES[case]
    response = http.post(body, modern_headers("tools/list"))
    assert response.status_code == 400, response.text[:500]
    (answer,) = messages_in(response)
    assert error_code(answer) == code, answer
    assert answer["id"] is None
    http.assert_serving()


def test_http_wrong_requests_get_the_right_error(http: HttpPeer) -> None:
    def post(body: dict[str, Any], headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        response = http.post(body, headers)
        (answer,) = messages_in(response)
        return response.status_code, answer

    enveloped = {"_meta": ENVELOPE}
    status, answer = post(
        {"jsonrpc": "2.0", "id": 1, "method": "orq/no_such_method", "params": enveloped},
        modern_headers("orq/no_such_method"),
    )
    assert (status, error_code(answer), answer["id"]) == (404, METHOD_NOT_FOUND, 1)
    status, answer = post({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, modern_headers("tools/list"))
    assert (status, error_code(answer), answer["id"]) == (400, INVALID_PARAMS, 2)  # no envelope
    status, answer = post(
        {"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": enveloped}, modern_headers("ping")
    )
    assert (status, error_code(answer)) == (400, HEADER_MISMATCH)  # Mcp-Method disagrees with the body
    unsupported = {"_meta": {**ENVELOPE, "io.modelcontextprotocol/protocolVersion": "2099-01-01"}}
    status, answer = post(
        {"jsonrpc": "2.0", "id": 4, "method": "tools/list", "params": unsupported},
        modern_headers("tools/list", version="2099-01-01"),
    )
    assert (status, error_code(answer)) == (400, UNSUPPORTED_PROTOCOL_VERSION)
    assert answer["error"]["data"]["supported"] == [MODERN_VERSION]
    status, answer = post(
        {"jsonrpc": "2.0", "id": 5, "method": "initialize", "params": {**INITIALIZE, **enveloped}},
        modern_headers("initialize"),
    )
    assert error_code(answer) == METHOD_NOT_FOUND  # there is no handshake at 2026-07-28
    for number, arguments in enumerate([[1, 2], "limit=5", 7]):
        params = {"name": "list_deployments", "arguments": arguments, **enveloped}
        status, answer = post(
            {"jsonrpc": "2.0", "id": 10 + number, "method": "tools/call", "params": params},
            modern_headers("tools/call", "list_deployments"),
        )
        assert (status, error_code(answer)) == (400, INVALID_PARAMS), (arguments, answer)
    http.assert_serving()


def test_http_needs_no_discovery_first(http: HttpPeer) -> None:
    """At 2026-07-28 every request stands alone: a tool call with no server/discover before it is served."""
    _, called = http.modern("tools/call", {"name": "list_deployments", "arguments": {"limit": 1}})
    assert called["result"]["isError"] is False
    _, discovered = http.modern("server/discover")
    assert MODERN_VERSION in discovered["result"]["supportedVersions"]


def test_http_ids_come_back_exactly(http: HttpPeer) -> None:
    for request_id in [10**30, -(2**63), 0, "", "🦄 \u202e id", "x" * 65536]:
        response, answer = http.modern("server/discover", request_id=request_id)
        assert response.status_code == 200
        assert type(answer["id"]) is type(request_id)
        assert "result" in answer


def test_http_duplicate_ids_are_answered_independently(http: HttpPeer) -> None:
    results: list[dict[str, Any]] = []

    def call() -> None:
        with httpx2.Client(timeout=ANSWER_TIMEOUT) as client:
            body = {"jsonrpc": "2.0", "id": "twin", "method": "tools/list", "params": {"_meta": ENVELOPE}}
            response = client.post(http.url, json=body, headers=modern_headers("tools/list"))
            results.extend(messages_in(response))

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(ANSWER_TIMEOUT)
    assert len(results) == 4
    assert all(answer["id"] == "twin" and "result" in answer for answer in results)


def test_http_notifications_are_accepted_and_not_answered(http: HttpPeer) -> None:
    for method in ["notifications/no_such_thing", "notifications/cancelled", "notifications/initialized"]:
        response = http.post({"jsonrpc": "2.0", "method": method, "params": {"requestId": 1}}, modern_headers(method))
        assert response.status_code == 202, response.text[:500]
        assert response.content == b""
    http.assert_serving()


# How deep a message may nest, counting its own object as level 1: 200 levels of objects and arrays around a value.
# The MCP SDK reads stdio, HTTP+SSE and handshake-era messages with pydantic's JSON parser, which reads that deep;
# orq-mcp holds the 2026-07-28 HTTP entry, which reads with the interpreter's `json` (about 1,000 levels on
# CPython 3.11, 10,000 on 3.13, 65,000 on 3.14), to the same limit.
MAX_DEPTH = 200


def nested_invocation(levels: int) -> bytes:
    """invoke_deployment's arguments, such that the tools/call message nests `levels` deep (a number innermost)."""
    arrays = levels - 4  # the message, its params, the arguments and metadata are the first four levels
    return b'{"key":"faq-assistant","metadata":{"x":' + b"[" * arrays + b"1" + b"]" * arrays + b"}}"


def test_http_nesting_is_read_to_one_depth_on_every_python(http: HttpPeer, session: dict[str, str]) -> None:
    """200 levels reach the tool (and orq); deeper is a parse error in both eras, whatever json's own limit is."""
    eras = [(True, modern_headers("tools/call", "invoke_deployment")), (False, session)]
    # 600,000 levels: deeper than even CPython 3.14's json reads.
    for levels in (MAX_DEPTH, MAX_DEPTH + 1, 50_000, 600_000):
        for envelope, headers in eras:
            body = raw_tool_call("invoke_deployment", nested_invocation(levels), envelope=envelope)
            response = http.post(body, headers)
            (answer,) = messages_in(response)
            if levels == MAX_DEPTH:
                assert answer["result"]["isError"] is False, tool_text(answer)
                continue
            assert response.status_code == 400, (levels, headers, response.text[:500])
            assert (error_code(answer), answer["id"]) == (PARSE_ERROR, None), (levels, answer)
    assert "nested more than 200 levels deep" in answer["error"]["message"]
    http.assert_serving()
    http.assert_session_serving(session)


def test_stdio_nesting_is_read_to_the_same_depth(stdio: StdioPeer) -> None:
    """The SDK's own limit on stdio, which the HTTP entry is held to: 200 levels served, 201 a parse error."""
    for levels in (MAX_DEPTH, MAX_DEPTH + 1):
        request_id, arguments = f"deep-{levels}", nested_invocation(levels)
        line = raw_tool_call("invoke_deployment", arguments, envelope=stdio.modern, request_id=request_id)
        if levels == MAX_DEPTH:
            stdio.write(line + b"\n")
            answer = stdio.response(request_id)
            assert answer["result"]["isError"] is False, tool_text(answer)
        else:
            assert [error_code(m) for m in stdio.after(line + b"\n")] == [PARSE_ERROR]
    stdio.assert_serving()


def test_http_oversized_bodies_are_refused_with_413(http: HttpPeer, session: dict[str, str]) -> None:
    """Above the 4 MiB default, before parsing and before any session exists; just below it, served."""

    def chunked() -> Iterator[bytes]:
        yield b'{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"pad":"'
        for _ in range(MAX_BODY // 65536 + 1):
            yield b"a" * 65536
        yield b'"}}'

    too_large = b"x" * (MAX_BODY + 1)
    for headers in (modern_headers("tools/list"), LEGACY_HEADERS, session):
        assert http.post(too_large, headers).status_code == 413  # declared by Content-Length
        assert http.http.post(http.url, content=chunked(), headers=headers).status_code == 413  # streamed
    http.assert_serving()
    http.assert_session_serving(session)

    ticket = "t" * (MAX_BODY - 64 * 1024)  # a big but legitimate request is read in full
    inputs = {"company_name": "Acme", "language": "English", "customer_name": "Priya", "ticket_body": ticket}
    _, answer = http.modern("tools/call", {"name": "support_triage", "arguments": inputs})
    assert answer["result"]["isError"] is False, tool_text(answer)


# Streamable HTTP, handshake era (sessions) ---------------------------------------------------------------------------


def test_http_legacy_requests_without_a_session_are_refused(http: HttpPeer) -> None:
    for body in (
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 2, "method": "ping"},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
    ):
        response = http.post(body, LEGACY_HEADERS)
        assert response.status_code == 400, response.text[:500]
        (answer,) = messages_in(response)
        assert error_code(answer) == INVALID_REQUEST  # "Missing session ID"
    unknown = http.post({"jsonrpc": "2.0", "id": 3, "method": "ping"}, {**LEGACY_HEADERS, "mcp-session-id": "nope"})
    assert unknown.status_code == 404
    assert [error_code(m) for m in messages_in(unknown)] == [INVALID_REQUEST]  # "Session not found"
    http.assert_serving()


@pytest.mark.parametrize("case", list(MALFORMED_BODIES))
def test_http_legacy_malformed_bodies_are_json_rpc_errors(http: HttpPeer, session: dict[str, str], case: str) -> None:
    """In a session and outside one (orq-mcp's JsonRpcShapeGuard gives the handshake-era entry JSON-RPC's codes)."""
    body, code = MALFORMED_BODIES[case]
    for headers in (LEGACY_HEADERS, session):
        response = http.post(body, headers)
        assert response.status_code == 400, response.text[:500]
        (answer,) = messages_in(response)
        assert answer["id"] is None
        assert error_code(answer) == code, answer
    http.assert_session_serving(session)


@pytest.mark.parametrize("case", [case for case, (_, code) in MALFORMED_BODIES.items() if code == INVALID_REQUEST])
def test_http_legacy_invalid_requests_are_minus_32600(http: HttpPeer, session: dict[str, str], case: str) -> None:
    body, _ = MALFORMED_BODIES[case]
    response = http.post(body, session)
    assert response.status_code == 400, response.text[:500]
    (answer,) = messages_in(response)
    assert error_code(answer) == INVALID_REQUEST, answer
    assert "validation error" not in answer["error"]["message"].lower()


def test_http_legacy_session_survives_wrong_requests(http: HttpPeer, session: dict[str, str]) -> None:
    def ask(body: dict[str, Any]) -> dict[str, Any]:
        response = http.post(body, session)
        assert response.status_code == 200, response.text[:500]
        (answer,) = messages_in(response)
        assert answer["id"] == body["id"]
        return answer

    assert error_code(ask({"jsonrpc": "2.0", "id": 1, "method": "orq/no_such_method"})) == METHOD_NOT_FOUND
    wrong = {"name": "list_deployments", "arguments": [1, 2]}
    assert error_code(ask({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": wrong})) == INVALID_PARAMS
    # A request in the 2026-07-28 envelope inside a handshake-era session: stdio refuses it (-32600), a session
    # serves it like any other request. Either is an answer.
    ask({"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": {"_meta": ENVELOPE}})
    assert ask({"jsonrpc": "2.0", "id": 10**30, "method": "ping"})["result"] == {}
    notified = http.post({"jsonrpc": "2.0", "method": "notifications/no_such_thing"}, session)
    assert notified.status_code == 202
    http.assert_session_serving(session)


# Last: everything is still up, and stops cleanly --------------------------------------------------------------------


def test_every_process_is_still_serving_and_stops_cleanly(launched: Launched, http: HttpPeer) -> None:
    http.assert_serving()
    for peer in launched.stdio.values():
        if peer.name != "fresh":  # `fresh` was left alone after its own test; serving tools/list needs a handshake
            peer.assert_serving()
        code, rest = peer.close()  # every line still on stdout is a JSON-RPC message (checked as read)
        assert code == 0, f"{peer.name} exited with {code}:\n{peer.stderr()}"
        assert all("error" in message or "result" in message or "method" in message for message in rest)
    assert API_KEY not in launched.http.stderr()
    assert launched.http.stdout() == ""
