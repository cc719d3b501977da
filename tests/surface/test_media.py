"""Non-chat deployments: routed to `/invoke` without streaming, their images and embeddings described."""

from __future__ import annotations

import base64
from typing import Any

import httpx2
import pytest
from orq_ai_sdk.models import DeploymentInvokeResponseBody

from orq_mcp.orq.client import OrqClient
from orq_mcp.orq.errors import BadRequestError, ServerError
from orq_mcp.orq.models import CompletionChunk
from orq_mcp.orq.outputs import Embedding, describe_invocation, invocation_mode
from orq_mcp.sandbox import EmulatorState, EmulatorThread, Fault
from tests.conftest import API_KEY

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("model_type", "mode"),
    [
        ("chat", "stream"),
        ("completion", "stream"),
        (None, "stream"),
        ("image", "invoke"),
        ("embedding", "invoke"),
        ("tts", "invoke"),
        ("vision", "invoke"),
        ("some-future-type", "invoke"),
    ],
)
def test_invocation_mode(model_type: str | None, mode: str) -> None:
    assert invocation_mode(model_type) == mode


def raw_invoke(emulator: EmulatorThread, body: dict[str, Any], path: str = "/v2/deployments/invoke") -> Any:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    return httpx2.post(f"{emulator.base_url}{path}", json=body, headers=headers, timeout=5)


@pytest.mark.parametrize("key", ["product-photo", "sticker-maker", "catalog-embedder"])
def test_emulator_media_answers_validate_with_the_sdk(emulator: EmulatorThread, emulator_state: Any, key: str) -> None:
    response = raw_invoke(emulator, {"key": key, "inputs": {"product_name": "a bell", "text": "a red bell"}})
    assert response.status_code == 200
    DeploymentInvokeResponseBody.model_validate(response.json())


def test_emulator_refuses_to_stream_non_chat_deployments(emulator: EmulatorThread, emulator_state: Any) -> None:
    response = raw_invoke(emulator, {"key": "product-photo"}, "/v2/deployments/stream")
    assert response.status_code == 400
    assert "only supported for chat and completion" in response.json()["message"]
    # /invoke answers in JSON whatever `stream` says (the SDK declares nothing else for it)
    answered = raw_invoke(emulator, {"key": "product-photo", "stream": True})
    assert answered.status_code == 200
    DeploymentInvokeResponseBody.model_validate(answered.json())


async def test_an_image_link_is_described_not_fetched(orq: OrqClient, emulator_state: EmulatorState) -> None:
    result = await orq.invoke_unstreamed({"key": "product-photo", "inputs": {"product_name": "a bell"}})
    assert result.kind == "image"
    assert result.object == "image"
    (image,) = result.images
    assert image.url is not None
    assert image.url.startswith("https://images.orq-sandbox.invalid/")
    assert image.data is None
    assert result.completion.text == ""
    assert result.completion.model == "dall-e-3"
    assert result.completion.trace_id
    sent = emulator_state.last_request("invoke")
    assert sent is not None
    assert sent.body["stream"] is False


async def test_inline_image_data_is_returned_as_data(orq: OrqClient) -> None:
    result = await orq.invoke_unstreamed({"key": "sticker-maker", "inputs": {"subject": "a bike"}})
    (image,) = result.images
    assert image.url is None
    assert image.mime_type == "image/png"
    assert base64.b64decode(image.data or "").startswith(PNG_SIGNATURE)


async def test_embeddings_are_read_from_the_provider_response(orq: OrqClient) -> None:
    result = await orq.invoke_unstreamed({"key": "catalog-embedder", "inputs": {"text": "a red bell"}})
    assert result.kind == "embedding"
    (embedding,) = result.embeddings
    assert embedding.dimensions == 8
    assert all(-1 <= x <= 1 for x in embedding.vector or [])
    again = await orq.invoke_unstreamed({"key": "catalog-embedder", "inputs": {"text": "a red bell"}})
    assert again.embeddings == result.embeddings  # deterministic in the emulator
    assert result.raw is None


async def test_chat_deployments_work_unstreamed_too(orq: OrqClient) -> None:
    body = {"key": "faq-assistant", "invoke_options": {"mock_response": "Two to four days.", "include_usage": True}}
    result = await orq.invoke_unstreamed(body)
    assert result.kind == "text"
    assert result.completion.text == "Two to four days."
    assert result.completion.finish_reason == "stop"
    assert result.completion.usage is not None


async def test_a_mock_on_an_image_deployment_is_text(orq: OrqClient) -> None:
    result = await orq.invoke_unstreamed({"key": "product-photo", "invoke_options": {"mock_response": "no image"}})
    assert (result.kind, result.completion.text, result.images) == ("text", "no image", [])


async def test_streaming_an_image_deployment_is_a_bad_request(orq: OrqClient) -> None:
    with pytest.raises(BadRequestError, match="only supported for chat and completion"):
        await orq.invoke({"key": "product-photo", "inputs": {"product_name": "a bell"}})


async def test_a_paid_invocation_is_not_retried_after_a_server_error(
    orq: OrqClient, emulator_state: EmulatorState
) -> None:
    emulator_state.add_fault(Fault("invoke", "status", status=500))
    with pytest.raises(ServerError):
        await orq.invoke_unstreamed({"key": "product-photo"})
    assert len(emulator_state.requests_for("invoke")) == 1


async def test_a_rate_limited_invocation_is_retried(orq: OrqClient, emulator_state: EmulatorState) -> None:
    emulator_state.add_fault(Fault("invoke", "status", status=429, retry_after=0.01))
    result = await orq.invoke_unstreamed({"key": "product-photo"})
    assert result.kind == "image"
    assert [r.status for r in emulator_state.requests_for("invoke")] == [429, 200]


def body(**fields: Any) -> CompletionChunk:
    envelope = {"id": "01J", "object": "image", "model": "m", "provider": "openai", "is_final": True}
    return CompletionChunk.model_validate({**envelope, **fields})


def test_base64_embeddings_and_unknown_outputs() -> None:
    packed = body(choices=[], provider_response={"data": [{"object": "embedding", "index": 3, "embedding": "AAAA"}]})
    assert describe_invocation(packed).embeddings == [Embedding(3, base64="AAAA")]
    # orq answering in its router's embeddings shape, without a provider_response
    direct = body(choices=[], data=[{"embedding": [1, 0.5]}])
    assert describe_invocation(direct).embeddings == [Embedding(0, vector=[1.0, 0.5])]
    unknown = body(object="speech", choices=[], provider_response={"audio": "UklGR"})
    described = describe_invocation(unknown)
    assert (described.kind, described.object, described.raw) == ("response", "speech", {"audio": "UklGR"})


def test_several_images_and_odd_data_uris() -> None:
    choices = [
        {"index": 0, "message": {"type": "image", "role": "assistant", "url": "https://cdn.example/a.png"}},
        {"index": 1, "message": {"type": "image", "role": "assistant", "url": "data:;base64,QUJD"}},
        {"index": 2, "message": {"type": "image", "role": "assistant", "url": "data:image/webp;name=x;base64,QUJD"}},
    ]
    images = describe_invocation(body(choices=choices)).images
    assert [(i.url, i.data, i.mime_type) for i in images] == [
        ("https://cdn.example/a.png", None, None),
        (None, "QUJD", "application/octet-stream"),
        (None, "QUJD", "image/webp"),
    ]
