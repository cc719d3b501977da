"""Issue #3, bad input: every tool argument fuzzed with hypothesis through the in-memory SDK client.

One server (built with `expose=("all",)`, so the per-deployment tools exist too) and one auto-mode client serve the
whole module. The client lives on an event loop of its own thread (`LoopClient`), so the hypothesis tests are plain
synchronous functions that hand each call to that loop and wait for it with a timeout.

Arguments mix valid values, wrong types, huge strings (up to 1 MB), deep nesting, odd unicode (RTL overrides,
zero-width characters, NUL, emoji sequences, template braces), the API key itself and unknown keys. Whatever comes
in, a call must return within `CALL_TIMEOUT` either a success with structured content or an `isError` result whose
text says what is wrong: never the SDK's bare crash text, never a traceback, never the key once through the exit
every transport scrubs with (serving/outbound.py; the in-memory client bypasses transports, so the test applies it).
The server must still answer `list_deployments` after every call.

Left out is what the in-memory SDK client cannot carry faithfully: nesting deeper than ~250 levels (its
`model_dump` refuses), non-finite numbers (it turns them into null) and unpaired surrogates (it cannot encode them
everywhere). A JSON client sends all three; test_protocol_abuse.py sends them over the wire, where the last two are
a known bug (`test_numbers_and_text_json_allows_but_orq_cannot_take_are_refused`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine, Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from mcp import Client
from mcp_types import CallToolResult, TextContent
from pydantic import SecretStr

from orq_mcp.config.settings import Settings
from orq_mcp.orq.models import Deployment
from orq_mcp.orq.redact import Redactor
from orq_mcp.orq.templates import template_variables
from orq_mcp.sandbox import EmulatorState, EmulatorThread
from orq_mcp.sandbox.data import SAMPLE_DEPLOYMENTS, STREAMABLE_DEPLOYMENTS, sample_versions
from orq_mcp.serving.outbound import scrub_json
from tests.conftest import API_KEY, connected, held_open
from tests.helpers import sample_version

T = TypeVar("T")

CALL_TIMEOUT = 10.0
STARTUP_TIMEOUT = 30.0
# The SDK client's own serialization refuses values nested much deeper than this (pydantic's depth limit).
MAX_DEPTH = 240
KEYS = sorted(d["key"] for d in SAMPLE_DEPLOYMENTS)
STREAMABLE_KEYS = frozenset(d["key"] for d in STREAMABLE_DEPLOYMENTS)
TRIAGE_VARIABLES = ("company_name", "language", "customer_name", "ticket_body")
CRASH_TEXT = "Error executing tool {}"  # what the SDK answers when a tool raised something unexpected
TRACEBACK = "Traceback (most recent call last)"

# Reproducible in CI: a fixed derivation of examples and no example database.
FUZZ = hypothesis_settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


# The client on its own event loop ----------------------------------------------------------------------------------


class LoopClient:
    """An SDK `Client` held open on an event loop running in a dedicated thread."""

    def __init__(self, client: AbstractAsyncContextManager[Client]) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fuzz-client-loop", daemon=True)
        self._holder = held_open(client)
        self._client: Client | None = None

    def __enter__(self) -> LoopClient:
        self._thread.start()
        self._client = self._run(self._holder.__aenter__(), STARTUP_TIMEOUT)
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self._client is not None:
                self._run(self._holder.__aexit__(None, None, None), STARTUP_TIMEOUT)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=STARTUP_TIMEOUT)
            self._loop.close()

    def call(self, name: str, arguments: dict[str, Any]) -> tuple[CallToolResult, list[str]]:
        """Call a tool with a progress token; return the result and every progress message."""
        assert self._client is not None
        client = self._client
        progress: list[str] = []

        async def on_progress(_: float, __: float | None, message: str | None) -> None:
            progress.append(message or "")

        async def call() -> CallToolResult:
            return await asyncio.wait_for(
                client.call_tool(name, arguments, progress_callback=on_progress), CALL_TIMEOUT
            )

        try:
            result = self._run(call(), CALL_TIMEOUT + 5)
        except TimeoutError:
            pytest.fail(f"{name} did not answer within {CALL_TIMEOUT}s; arguments: {describe(arguments)}")
        return result, progress

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError from None


@pytest.fixture(scope="module")
def fuzz_client(emulator: EmulatorThread) -> Iterator[LoopClient]:
    settings = Settings(api_key=SecretStr(API_KEY), base_url=emulator.base_url, progress_interval=0.02, expose=("all",))
    with LoopClient(connected(settings)) as client:
        yield client


@pytest.fixture
def quiet_emulator(emulator_state: EmulatorState) -> EmulatorState:
    """Streams as fast as the emulator can: a fuzz run invokes deployments hundreds of times."""
    emulator_state.chunk_delay = 0
    return emulator_state


# Strategies --------------------------------------------------------------------------------------------------------

ODD_PIECES = [
    "\u202e",  # right-to-left override
    "\u200f",  # right-to-left mark
    "\u200b",  # zero-width space
    "\u200d",  # zero-width joiner
    "\ufeff",  # byte order mark
    "\u2028",  # line separator
    "\x00",
    "\x1b[31m",
    "\r\n",
    "😀",
    "👩\u200d👩\u200d👧",
    "e\u0301",
    "\U0010ffff",
    "\uffff",
    "שלום",
    "مرحبا",
    "𝕏",
    "{{company_name}}",
    "{{",
    "}}",
    '"',
    "\\",
    "%s%n",
    "' OR 1=1 --",
]


def repeat(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


def nest(depth: int, shape: str, leaf: Any) -> Any:
    value = leaf
    for level in range(depth):
        as_object = shape == "object" or (shape == "mixed" and level % 2 == 0)
        value = {"k": value} if as_object else [value]
    return value


small_text = st.text(max_size=30)  # any code point except surrogates
odd_text = st.lists(st.sampled_from(ODD_PIECES), min_size=1, max_size=6).map("".join)
huge_text = st.builds(repeat, st.sampled_from([*ODD_PIECES, "a", f"{API_KEY} "]), st.sampled_from([4096, 65536, 10**6]))
secret_text = st.builds(lambda before, after: f"{before}{API_KEY}{after}", small_text, small_text)
texts = st.one_of(small_text, odd_text, secret_text, huge_text)
keys = st.one_of(small_text, odd_text, secret_text, st.sampled_from(["", "__proto__", "environments", "{{x}}"]))
numbers = st.one_of(
    st.integers(),
    st.sampled_from([0, -1, 2**31, 2**63, -(2**63) - 1]),
    st.builds(pow, st.just(10), st.sampled_from([100, 4000])),  # JSON parsers refuse integers over 4300 digits
    st.floats(allow_nan=False, allow_infinity=False),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4), max_leaves=12
)
deep_values = st.builds(
    nest, st.integers(2, MAX_DEPTH), st.sampled_from(["object", "array", "mixed"]), st.one_of(st.none(), small_text)
)
any_json = st.one_of(json_values, deep_values)
objects = st.dictionaries(keys, any_json, max_size=5)

named = st.text(min_size=1, max_size=30)  # a tool call's id and name (orq_mcp.orq.requests.ToolCall)
tool_call = st.fixed_dictionaries({"id": named, "name": named, "arguments": objects | texts})
# Turns orq accepts (the SDK's request models): content on every role but an assistant's with tool calls,
# tool_call_id only and always on tool turns, tool_calls only on assistant turns.
chat_message = st.one_of(
    st.fixed_dictionaries({"role": st.sampled_from(["system", "developer", "user", "assistant"]), "content": texts}),
    st.fixed_dictionaries(
        {
            "role": st.just("assistant"),
            "content": st.none() | texts,
            "tool_calls": st.lists(tool_call, min_size=1, max_size=2),
        }
    ),
    st.fixed_dictionaries({"role": st.just("tool"), "content": texts, "tool_call_id": small_text}),
)
turn = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "developer", "user", "assistant"]), "content": texts | small_text}
)

# Mostly a real deployment, so the other arguments reach orq; sometimes any text (a "not found" with suggestions).
key_argument = st.integers(0, 3).flatmap(lambda pick: texts if pick == 3 else st.sampled_from(KEYS))

VALID: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "list_deployments": {"limit": st.integers(1, 50), "cursor": st.none() | texts},
    "list_prompts": {"limit": st.integers(1, 200), "cursor": st.none() | texts},
    "get_deployment_config": {
        "key": key_argument,
        "inputs": st.none() | objects,
        "context": st.none() | objects,
    },
    "invoke_deployment": {
        "key": key_argument,
        "inputs": st.none() | objects,
        "messages": st.none() | st.lists(chat_message, max_size=4),
        "context": st.none() | objects,
        "metadata": st.none() | objects,
    },
    "support_triage": {
        **{variable: texts for variable in TRIAGE_VARIABLES},
        "messages": st.none() | st.lists(turn, max_size=4),
    },
}


REQUIRED = {"get_deployment_config": {"key"}, "invoke_deployment": {"key"}, "support_triage": set(TRIAGE_VARIABLES)}
# How often an argument is left out, given a valid value, or given any JSON value at all (usually the wrong type).
# Valid comes first: hypothesis leans towards the first option, and shrinks towards it.
OPTIONAL_CHOICES = ["valid"] * 6 + ["omit"] * 4 + ["wrong"]
REQUIRED_CHOICES = ["valid"] * 10 + ["wrong", "omit"]


@st.composite
def tool_arguments(draw: st.DrawFn, tool: str) -> tuple[dict[str, Any], bool]:
    """Arguments for `tool`, each omitted, valid or of any JSON type, sometimes with unknown keys too.

    Also says whether every argument given was drawn valid. Invalid ones are kept rare enough for most calls to get
    past validation and reach orq, which is where large and odd values matter.
    """
    arguments: dict[str, Any] = {}
    all_valid = True
    for name, valid in VALID[tool].items():
        choice = draw(st.sampled_from(REQUIRED_CHOICES if name in REQUIRED.get(tool, ()) else OPTIONAL_CHOICES))
        if choice == "valid":
            arguments[name] = draw(valid)
        elif choice == "wrong":
            arguments[name] = draw(any_json)
            all_valid = False
    if draw(st.integers(0, 5)) == 5:
        extra = st.dictionaries(keys.filter(lambda key: key not in VALID[tool]), any_json, min_size=1, max_size=2)
        arguments.update(draw(extra))
        all_valid = False
    return arguments, all_valid


# Checks ------------------------------------------------------------------------------------------------------------


def describe(arguments: Any) -> str:
    """A short rendering of (possibly huge) arguments for a failure message."""
    text = repr(arguments)
    return text if len(text) <= 600 else f"{text[:300]} ... {text[-300:]} ({len(text):,} characters)"


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def outcome(result: CallToolResult) -> str:
    """A coarse label for the hypothesis statistics."""
    text = text_of(result)
    labels = {
        "unknown argument": "unknown argument",
        "Invalid arguments": "invalid argument",
        "Missing input": "missing input",
        "was not found": "not found",
        "cursor is not valid": "cursor refused",
    }
    if not result.is_error:
        return "success"
    return "error: " + next((label for needle, label in labels.items() if needle in text), "other")


def assert_clean_result(tool: str, arguments: dict[str, Any], result: CallToolResult, progress: list[str]) -> None:
    where = f"{tool}({describe(arguments)})"
    assert isinstance(result, CallToolResult), where
    sent = scrub_json(result.model_dump_json(by_alias=True), Redactor([API_KEY]))  # what a transport sends
    assert API_KEY not in sent, f"{where} leaks the key"
    assert not any(API_KEY in message for message in progress), f"{where} leaks the key in progress"
    text = text_of(result)
    if result.is_error:
        assert text.strip(), f"{where}: an error without a message"
        assert text.strip() != CRASH_TEXT.format(tool), f"{where} crashed the tool"
        assert TRACEBACK not in text, f"{where}: {text}"
    else:
        assert result.structured_content is not None, f"{where}: success without structured content"
        assert result.content, where


def fuzz_tool(
    client: LoopClient, emulator_state: EmulatorState, tool: str, drawn: tuple[dict[str, Any], bool]
) -> CallToolResult:
    """Call `tool`, check the answer is clean and the server still serves; return the result for stronger checks."""
    arguments, _ = drawn
    emulator_state.clear_log()  # the emulator keeps request bodies, and these can be megabytes
    result, progress = client.call(tool, arguments)
    assert_clean_result(tool, arguments, result, progress)
    event(outcome(result))  # `pytest --hypothesis-show-statistics` shows how the examples fared
    unknown = sorted(set(arguments) - set(VALID[tool]))
    if unknown:
        assert result.is_error, f"{tool} accepted unknown argument(s) {unknown!r}"
        assert "unknown argument" in text_of(result), text_of(result)
    still, _ = client.call("list_deployments", {"limit": 1})
    assert not still.is_error, f"the server stopped serving after {tool}: {text_of(still)}"
    return result


def assert_served(tool: str, arguments: dict[str, Any], result: CallToolResult) -> None:
    assert not result.is_error, f"{tool}({describe(arguments)}) was refused: {text_of(result)}"


def routable(arguments: dict[str, Any]) -> bool:
    """Whether orq will serve these valid arguments: a real key, and no variant routing the sample cannot satisfy."""
    context = arguments.get("context") or {}
    return arguments.get("key") in KEYS and "environments" not in context


def complete(arguments: dict[str, Any]) -> bool:
    """Whether the inputs hold every variable the deployment needs (else it is refused before orq is called)."""
    inputs = arguments.get("inputs") or {}
    return all(inputs.get(name) is not None for name in REQUIRED_INPUTS[arguments["key"]])


def _required_inputs() -> dict[str, frozenset[str]]:
    saved = sample_versions()
    required = {}
    for sample in SAMPLE_DEPLOYMENTS:
        version = sample_version(sample, saved[sample["key"]])
        assert version is not None
        engine = version.settings.engine if version.settings else None
        found = template_variables(Deployment.model_validate(sample).prompt_config.messages, engine, version.variables)
        required[sample["key"]] = frozenset(v.name for v in found if v.required)
    return required


REQUIRED_INPUTS = _required_inputs()


# Tests -------------------------------------------------------------------------------------------------------------


@FUZZ
@given(drawn=tool_arguments("list_deployments"))
def test_list_deployments_survives_any_arguments(
    fuzz_client: LoopClient, quiet_emulator: EmulatorState, drawn: tuple[dict[str, Any], bool]
) -> None:
    result = fuzz_tool(fuzz_client, quiet_emulator, "list_deployments", drawn)
    arguments, all_valid = drawn
    if all_valid and arguments.get("cursor") is None:
        assert_served("list_deployments", arguments, result)


@FUZZ
@given(drawn=tool_arguments("list_prompts"))
def test_list_prompts_survives_any_arguments(
    fuzz_client: LoopClient, quiet_emulator: EmulatorState, drawn: tuple[dict[str, Any], bool]
) -> None:
    result = fuzz_tool(fuzz_client, quiet_emulator, "list_prompts", drawn)
    arguments, all_valid = drawn
    if all_valid and arguments.get("cursor") is None:
        assert_served("list_prompts", arguments, result)


@FUZZ
@given(drawn=tool_arguments("get_deployment_config"))
def test_get_deployment_config_survives_any_arguments(
    fuzz_client: LoopClient, quiet_emulator: EmulatorState, drawn: tuple[dict[str, Any], bool]
) -> None:
    result = fuzz_tool(fuzz_client, quiet_emulator, "get_deployment_config", drawn)
    arguments, all_valid = drawn
    if all_valid and routable(arguments):
        assert_served("get_deployment_config", arguments, result)


@FUZZ
@given(drawn=tool_arguments("invoke_deployment"))
def test_invoke_deployment_survives_any_arguments(
    fuzz_client: LoopClient, quiet_emulator: EmulatorState, drawn: tuple[dict[str, Any], bool]
) -> None:
    result = fuzz_tool(fuzz_client, quiet_emulator, "invoke_deployment", drawn)
    arguments, all_valid = drawn
    # Non-chat deployments cannot be streamed (issue 10 item 3): the surface does not route them to /invoke yet.
    if all_valid and routable(arguments) and arguments.get("key") in STREAMABLE_KEYS and complete(arguments):
        assert_served("invoke_deployment", arguments, result)


@FUZZ
@given(drawn=tool_arguments("support_triage"))
def test_an_exposed_deployment_tool_survives_any_arguments(
    fuzz_client: LoopClient, quiet_emulator: EmulatorState, drawn: tuple[dict[str, Any], bool]
) -> None:
    result = fuzz_tool(fuzz_client, quiet_emulator, "support_triage", drawn)
    arguments, all_valid = drawn
    if all_valid and all(variable in arguments for variable in TRIAGE_VARIABLES):
        assert_served("support_triage", arguments, result)


@FUZZ
@given(tool=st.sampled_from(sorted(VALID)), arguments=st.dictionaries(keys, any_json, max_size=6))
def test_any_object_as_arguments_is_answered(
    fuzz_client: LoopClient, quiet_emulator: EmulatorState, tool: str, arguments: dict[str, Any]
) -> None:
    """Arguments with no relation to the schema at all: random keys, random values."""
    fuzz_tool(fuzz_client, quiet_emulator, tool, (arguments, False))
