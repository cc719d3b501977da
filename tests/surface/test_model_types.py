"""Every model type the SDK lists (`DeploymentsModelType`, 11 of them) answers in MCP form (issue 16).

The SDK's invoke response types only text, tool calls and images; everything else arrives in
`provider_response`, read in the shapes of orq's own router responses (orq_mcp/orq/provider_answers.py).
Anything unrecognised still comes back, as structured data fitted to the result cap.
"""

from __future__ import annotations

import base64
import json
import struct
import time
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp_types import AudioContent, CallToolResult, ImageContent, ResourceLink, TextContent

from orq_mcp.orq.models import CompletionChunk
from orq_mcp.orq.outputs import describe_invocation
from orq_mcp.sandbox import EmulatorState, EmulatorThread, Fault
from orq_mcp.sandbox.media import PNG_BASE64
from orq_mcp.surface.invocation.fitted import result_size
from tests.conftest import API_KEY
from tests.helpers import deployment_variant
from tests.processes import stdio_session

PNG = "data:image/png;base64," + PNG_BASE64
WAV = base64.b64encode(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(28)).decode()
PDF = "data:application/pdf;base64," + base64.b64encode(b"%PDF-1.4 invoice INV-2024-0042").decode()
ARTICLES = [
    {"text": "Returns are free within 30 days of delivery."},
    {"text": "Shipping within the EU takes 2 to 4 working days; shipping to Norway takes 5."},
    {"text": "Our bikes come with a five-year warranty on the frame."},
]

# One call per model type, as an agent makes it.
CALLS: dict[str, dict[str, Any]] = {
    "chat": {"key": "faq-assistant", "messages": [{"role": "user", "content": "Do you ship to Norway?"}]},
    "completion": {"key": "subject-line-generator", "inputs": {"topic": "spring sale"}},
    "embedding": {"key": "catalog-embedder", "inputs": {"text": "red city bike"}},
    "image": {"key": "product-photo", "inputs": {"product_name": "a red bell"}},
    "tts": {"key": "support-voice", "inputs": {"text": "Your order has shipped."}},
    "stt": {
        "key": "call-transcriber",
        "messages": [
            {"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": WAV, "format": "wav"}}]}
        ],
    },
    "rerank": {
        "key": "help-article-ranker",
        "inputs": {"query": "how long does shipping take"},
        "options": {"documents": ARTICLES},
    },
    "ocr": {
        "key": "invoice-reader",
        "messages": [
            {"role": "user", "content": [{"type": "file", "file": {"file_data": PDF, "filename": "inv.pdf"}}]}
        ],
    },
    "moderation": {"key": "review-moderator", "inputs": {"text": "This shop is a scam and I will hurt the owner."}},
    "classify": {"key": "ticket-classifier", "inputs": {"ticket": "I was charged twice for my order."}},
    "vision": {
        "key": "damage-inspector",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Is the frame damaged?"},
                    {"type": "image_url", "image_url": {"url": PNG}},
                ],
            }
        ],
    },
}


def text_of(result: CallToolResult) -> str:
    """What the model reads: the text blocks (media ride along as their own blocks)."""
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def check_chat(result: CallToolResult, data: dict[str, Any]) -> None:
    assert data["text"].startswith("[mistral-small-latest] Re: Do you ship to Norway?")


def check_completion(result: CallToolResult, data: dict[str, Any]) -> None:
    assert "spring sale" in data["text"]


def check_embedding(result: CallToolResult, data: dict[str, Any]) -> None:
    (output,) = data["outputs"]
    assert (output["type"], output["dimensions"], len(output["preview"])) == ("embedding", 8, 8)
    assert text_of(result).startswith("Embedding with 8 dimensions: [")


def check_image(result: CallToolResult, data: dict[str, Any]) -> None:
    assert any(isinstance(block, ResourceLink) for block in result.content)
    assert data["outputs"][0]["type"] == "image"


def check_tts(result: CallToolResult, data: dict[str, Any]) -> None:
    (audio,) = [block for block in result.content if isinstance(block, AudioContent)]
    assert audio.mime_type == "audio/mpeg"
    assert base64.b64decode(audio.data).startswith(b"\xff\xfb")  # an MPEG audio frame
    size = len(base64.b64decode(audio.data))
    assert data["outputs"] == [{"type": "audio", "mime_type": "audio/mpeg", "size_bytes": size}]
    assert "Generated audio (audio/mpeg), attached." in text_of(result)


def check_stt(result: CallToolResult, data: dict[str, Any]) -> None:
    assert data["text"].startswith("Caller: Hello, I'm calling about order NL-20391.")
    assert text_of(result) == data["text"]


def check_rerank(result: CallToolResult, data: dict[str, Any]) -> None:
    (output,) = data["outputs"]
    assert output["type"] == "ranking"
    ranked = output["items"]
    assert ranked[0]["index"] == 1  # the shipping article
    assert ranked[0]["label"] == ARTICLES[1]["text"]
    scores = [item["score"] for item in ranked]
    assert scores == sorted(scores, reverse=True)
    assert sorted(item["index"] for item in ranked) == [0, 1, 2]
    assert "1. [1] " in text_of(result)


def check_ocr(result: CallToolResult, data: dict[str, Any]) -> None:
    assert "# Invoice INV-2024-0042" in data["text"]


def check_moderation(result: CallToolResult, data: dict[str, Any]) -> None:
    (output,) = data["outputs"]
    assert output["type"] == "labels"
    top = output["items"][0]
    assert (top["label"], top["flagged"]) == ("violence", True)
    assert all(0 <= item["score"] <= 1 for item in output["items"])
    assert "Flagged: violence" in text_of(result)


def check_classify(result: CallToolResult, data: dict[str, Any]) -> None:
    (output,) = data["outputs"]
    assert output["type"] == "labels"
    assert output["items"][0]["label"] == "billing"
    assert output["items"][0]["score"] > output["items"][1]["score"]
    assert text_of(result).startswith("Labels: billing ")


def check_vision(result: CallToolResult, data: dict[str, Any]) -> None:
    assert "1 image" in data["text"]


CHECKS = {name: globals()[f"check_{name}"] for name in CALLS}


async def test_every_model_type_answers_in_mcp_form_over_stdio(
    emulator: EmulatorThread, emulator_state: EmulatorState, tmp_path: Path
) -> None:
    results: dict[str, CallToolResult] = {}
    async with stdio_session(tmp_path / "stderr.log", ORQ_API_KEY=API_KEY, ORQ_BASE_URL=emulator.base_url) as client:
        for model_type, arguments in CALLS.items():
            results[model_type] = await client.call_tool("invoke_deployment", arguments)
    assert set(results) == {
        "chat", "completion", "embedding", "image", "tts", "stt", "rerank", "ocr", "moderation", "classify", "vision"
    }  # fmt: skip
    for model_type, result in results.items():
        assert not result.is_error, (model_type, text_of(result))
        assert result.structured_content is not None
        assert "returned no text" not in text_of(result), model_type
        assert "None" not in text_of(result), model_type
        CHECKS[model_type](result, result.structured_content)
    streamed = {r.body["key"] for r in emulator_state.requests_for("stream")}
    assert streamed == {"faq-assistant", "subject-line-generator"}  # orq streams only chat and completion


async def test_a_speech_link_comes_back_as_a_resource_link(client: Client, emulator_state: EmulatorState) -> None:
    with deployment_variant(emulator_state, "support-voice", "support-voice-link", format="url"):
        result = await client.call_tool("invoke_deployment", {"key": "support-voice-link", "inputs": {"text": "Hi"}})
    assert not result.is_error, text_of(result)
    (link,) = [block for block in result.content if isinstance(block, ResourceLink)]
    assert link.uri.startswith("https://audio.orq-sandbox.invalid/")
    assert link.mime_type == "audio/mpeg"
    assert not any(isinstance(block, ImageContent | AudioContent) for block in result.content)


async def test_a_base64_embedding_is_decoded_for_its_size_and_values(
    client: Client, emulator_state: EmulatorState
) -> None:
    with deployment_variant(emulator_state, "catalog-embedder", "catalog-embedder-b64", encoding_format="base64"):
        floats = await client.call_tool("invoke_deployment", {"key": "catalog-embedder", "inputs": {"text": "x"}})
        result = await client.call_tool("invoke_deployment", {"key": "catalog-embedder-b64", "inputs": {"text": "x"}})
    assert result.structured_content is not None
    assert floats.structured_content is not None
    (output,) = result.structured_content["outputs"]
    assert output["dimensions"] == 8
    assert output["preview"] == pytest.approx(floats.structured_content["outputs"][0]["preview"], abs=1e-6)


def test_base64_vectors_are_little_endian_float32() -> None:
    vector = [0.25, -1.5, 3.0]
    body = {
        "choices": [],
        "provider_response": {
            "data": [{"index": 0, "embedding": base64.b64encode(struct.pack("<3f", *vector)).decode()}]
        },
    }
    (embedding,) = describe_invocation(CompletionChunk.model_validate(body)).embeddings
    assert (embedding.dimensions, embedding.vector) == (3, vector)


async def test_an_unknown_answer_comes_back_whole_when_small(client: Client, emulator_state: EmulatorState) -> None:
    unknown = {"labels": ["a", "b"], "note": "a shape orq-mcp does not know"}
    emulator_state.add_fault(Fault("invoke", "status", status=200, body=invoke_body(unknown)))
    result = await client.call_tool("invoke_deployment", {"key": "ticket-classifier", "inputs": {"ticket": "x"}})
    assert result.structured_content is not None
    assert result.structured_content["outputs"] == [{"type": "response", "data": unknown}]
    assert json.dumps(unknown, separators=(",", ":")) in text_of(result)


@pytest.mark.parametrize("limit", [None, 5_000], ids=["default-cap", "small-cap"])
async def test_a_large_unknown_answer_is_fitted_to_the_result_cap(
    connect: Any, emulator_state: EmulatorState, limit: int | None
) -> None:
    """About a megabyte of provider answer in a shape we do not read: long strings and long lists."""
    rows = [{"id": i, "text": f"row {i} " + "lorem ipsum " * 40, "scores": list(range(50))} for i in range(2_000)]
    emulator_state.add_fault(Fault("invoke", "status", status=200, body=invoke_body({"rows": rows, "id": "r-1"})))
    client = await (connect() if limit is None else connect(max_result_chars=limit))
    started = time.monotonic()
    result = await client.call_tool("invoke_deployment", {"key": "ticket-classifier", "inputs": {"ticket": "x"}})
    elapsed = time.monotonic() - started
    cap = limit or 20_000  # ORQ_MCP_MAX_RESULT_CHARS's default
    assert not result.is_error, text_of(result)
    assert result_size(result) <= cap
    assert result_size(result) > cap // 2  # it is fitted, not dropped
    assert result.structured_content is not None
    (output,) = result.structured_content["outputs"]
    assert output["type"] == "response"
    assert output["data"]["id"] == "r-1"
    assert output["data"]["rows"][-1].endswith("cut by orq-mcp]")
    assert elapsed < 10  # generous on a busy machine; the fitting itself takes well under a second


def invoke_body(provider_response: Any) -> dict[str, Any]:
    """A complete `/invoke` answer (valid for the SDK's model) that carries `provider_response` and no choices."""
    return {
        "id": "01JQ3M7R2T9W4Y6B8D0F2H5K7N",
        "created": "2025-04-03T10:21:07.392Z",
        "object": "completion",
        "model": "gpt-4.1-mini",
        "provider": "openai",
        "is_final": True,
        "telemetry": {"trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "b7ad6b7169203331"},
        "choices": [],
        "provider_response": provider_response,
    }
