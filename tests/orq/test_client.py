"""The orq client against the emulator on a real loopback port."""

from __future__ import annotations

import socket

import pytest

from orq_mcp.orq.client import OrqClient, RetryPolicy, Timeouts, create_http_client
from orq_mcp.orq.errors import (
    AuthenticationError,
    BadRequestError,
    InvalidResponseError,
    NoContentError,
    NotFoundError,
    OrqConnectionError,
    OrqTimeoutError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    StreamError,
    StreamInterruptedError,
    UnprocessableError,
)
from orq_mcp.sandbox import EmulatorState, Fault, sample_workspace
from tests.conftest import API_KEY

KEYS = [d["key"] for d in sorted(sample_workspace().deployments, key=lambda d: d["created"], reverse=True)]
TICKET = {"company_name": "Acme Bikes", "language": "English", "customer_name": "Priya", "ticket_body": "Hello"}


async def test_list_deployments_pages_forward(orq: OrqClient) -> None:
    seen, cursor = [], None
    while True:
        page = await orq.list_deployments(limit=2, starting_after=cursor)
        seen.extend(d.key for d in page.data)
        if not page.has_more:
            break
        cursor = page.data[-1].id
    assert seen == KEYS


async def test_deployments_carry_their_prompt_config(orq: OrqClient) -> None:
    page = await orq.list_deployments(limit=50)
    triage = next(d for d in page.data if d.key == "support-triage")
    assert triage.prompt_config.provider == "openai"
    assert triage.prompt_config.tools[0]["function"]["name"] == "lookup_order"
    assert "{{company_name}}" in str(triage.prompt_config.messages[0].content)


async def test_prompts_list(orq: OrqClient) -> None:
    page = await orq.list_prompts(limit=200)
    assert len(page.data) == len(sample_workspace().prompts)
    assert all(prompt.display_name and prompt.messages for prompt in page.data)


async def test_get_config_renders_inputs(orq: OrqClient) -> None:
    config = await orq.get_config({"key": "support-triage", "inputs": TICKET})
    assert config.model == "gpt-4o-mini"
    assert (
        config.messages[0].content
        == "You are the support assistant for Acme Bikes. Answer in English. Be brief and polite."
    )


async def test_invoke_streams_the_same_text_as_a_plain_invoke(orq: OrqClient, emulator_state: EmulatorState) -> None:
    pieces: list[str] = []

    async def on_text(text: str) -> None:
        pieces.append(text)

    body = {"key": "faq-assistant", "messages": [{"role": "user", "content": "Where is my parcel?"}]}
    completion = await orq.invoke(body, on_text=on_text)
    assert len(pieces) > 3
    assert "".join(pieces) == completion.text
    assert completion.finish_reason == "stop"
    assert completion.id is not None
    assert len(completion.id) == 26
    (record,) = emulator_state.requests_for("stream")
    assert record.body["stream"] is True
    assert record.api_key == API_KEY


async def test_invoke_tool_call_deployment(orq: OrqClient) -> None:
    body = {"key": "support-triage", "inputs": {**TICKET, "ticket_body": "Where is order NL-20391?"}}
    completion = await orq.invoke(body)
    assert completion.finish_reason == "tool_calls"
    assert completion.tool_calls is not None
    (call,) = completion.tool_calls
    assert call["name"] == "lookup_order"
    assert call["arguments"] == {"order_number": "NL-20391"}


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (422, UnprocessableError),
    ],
)
async def test_client_errors_are_typed_and_not_retried(
    orq: OrqClient, emulator_state: EmulatorState, status: int, error: type[Exception]
) -> None:
    emulator_state.add_fault(Fault("list_deployments", "status", status=status, times=-1))
    with pytest.raises(error) as caught:
        await orq.list_deployments()
    assert caught.value.status == status  # type: ignore[attr-defined]
    assert caught.value.message
    assert len(emulator_state.requests_for("list_deployments")) == 1


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
async def test_reads_retry_transient_failures(orq: OrqClient, emulator_state: EmulatorState, status: int) -> None:
    emulator_state.add_fault(Fault("list_deployments", "status", status=status, retry_after=0, times=2))
    page = await orq.list_deployments()
    assert page.data
    assert len(emulator_state.requests_for("list_deployments")) == 3


async def test_reads_give_up_after_the_budget(orq: OrqClient, emulator_state: EmulatorState) -> None:
    emulator_state.add_fault(Fault("list_prompts", "status", status=503, times=-1))
    with pytest.raises(ServerError):
        await orq.list_prompts()
    assert len(emulator_state.requests_for("list_prompts")) == 3


async def test_rate_limit_carries_retry_after(orq: OrqClient, emulator_state: EmulatorState) -> None:
    emulator_state.add_fault(Fault("get_config", "status", status=429, retry_after=90, times=-1))
    with pytest.raises(RateLimitError) as caught:
        await orq.get_config({"key": "faq-assistant"})
    assert caught.value.retry_after == 90
    assert len(emulator_state.requests_for("get_config")) == 1  # 90 s is past the cap: reported, not waited


async def test_non_json_body(orq: OrqClient, emulator_state: EmulatorState) -> None:
    emulator_state.add_fault(Fault("list_deployments", "non_json_body", status=502, times=-1))
    with pytest.raises(ServerError) as caught:
        await orq.list_deployments()
    assert "<html" not in caught.value.message


async def test_slow_first_byte_times_out(settings, emulator_state: EmulatorState) -> None:
    emulator_state.add_fault(Fault("list_deployments", "slow_first_byte", delay=1.0, times=-1))
    timeouts = Timeouts(connect=1, read=0.2, stream=0.2)
    async with create_http_client(settings.base_url, timeouts) as http:
        orq = OrqClient(http, API_KEY, timeouts=timeouts, retry=RetryPolicy(max_retries=0))
        with pytest.raises(OrqTimeoutError):
            await orq.list_deployments()


@pytest.mark.parametrize(
    ("kind", "error", "partial"),
    [
        ("disconnect_mid_stream", StreamInterruptedError, True),
        ("error_event", StreamError, True),
        ("malformed_chunk", InvalidResponseError, True),
    ],
)
async def test_stream_faults_keep_the_partial_text(
    orq: OrqClient, emulator_state: EmulatorState, kind: str, error: type[Exception], partial: bool
) -> None:
    emulator_state.add_fault(Fault("stream", kind, after_chunks=3))
    with pytest.raises(error) as caught:
        await orq.invoke({"key": "faq-assistant"})
    assert bool(caught.value.partial_text) is partial  # type: ignore[attr-defined]
    assert len(emulator_state.requests_for("stream")) == 1


@pytest.mark.parametrize(("route", "what"), [("get_config", "configuration"), ("stream", "completion")])
async def test_a_204_is_a_no_content_error_not_a_parse_failure(
    orq: OrqClient, emulator_state: EmulatorState, route: str, what: str
) -> None:
    emulator_state.add_fault(Fault(route, "no_content", times=-1))
    call = orq.get_config if route == "get_config" else orq.invoke
    with pytest.raises(NoContentError) as caught:
        await call({"key": "faq-assistant"})
    assert f"204 No Content: it returned no {what}" in caught.value.message
    assert "published version" in caught.value.message
    assert len(emulator_state.requests_for(route)) == 1  # nothing failed, so nothing is retried


async def test_a_204_where_a_list_was_expected_is_no_content_too(orq: OrqClient, emulator_state: EmulatorState) -> None:
    emulator_state.add_fault(Fault("list_deployments", "no_content"))
    with pytest.raises(NoContentError) as caught:
        await orq.list_deployments()
    assert "where it should have returned data" in caught.value.message


async def test_connection_refused_is_retried_then_reported() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before use: nothing listens there
    async with create_http_client(f"http://127.0.0.1:{port}") as http:
        orq = OrqClient(http, API_KEY, retry=RetryPolicy(max_retries=1, initial_delay=0, max_delay=0))
        with pytest.raises(OrqConnectionError) as caught:
            await orq.invoke({"key": "faq-assistant"})
    assert caught.value.request_sent is False
    assert str(port) not in str(caught.value)


async def test_tenant_clients_share_a_pool_but_not_a_key(orq: OrqClient, emulator_state: EmulatorState) -> None:
    other = orq.with_api_key("sk-someone-else-entirely")
    with pytest.raises(AuthenticationError):
        await other.list_deployments()
    assert (await orq.list_deployments()).data
    assert [r.api_key for r in emulator_state.requests_for("list_deployments")] == ["sk-someone-else-entirely", API_KEY]
    assert API_KEY not in repr(orq)


def test_base_url_forms_are_normalised() -> None:
    from orq_mcp.orq.client import normalize_base_url

    assert normalize_base_url("https://api.orq.ai/") == "https://api.orq.ai"
    assert normalize_base_url("https://api.orq.ai/v2") == "https://api.orq.ai"
    assert normalize_base_url(" https://my.orq.ai/v2/ ") == "https://my.orq.ai"
