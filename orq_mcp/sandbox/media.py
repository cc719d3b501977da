"""What ``/invoke`` answers for non-chat deployments: images and embeddings here, the other types in ``modalities``.

The SDK's ``DeploymentInvokeResponseBody`` (4.17) knows three message types: ``content``, ``tool_calls`` and
``image`` (``{type, role, url}``), and ``object`` is chat, completion or image. An image with
``format: b64_json`` is sent as a ``data:`` URI in ``url`` [EMU: the SDK has no other field for it].
An embedding has no typed place at all: the emulator returns no choices and the vectors in
``provider_response`` in orq's own embeddings shape (``CreateEmbeddingResponseBody``) [EMU], as floats or, with
``encoding_format: base64``, as little-endian float32 packed in base64 (OpenAI's encoding) [INFER].
"""

from __future__ import annotations

import base64
import hashlib
import random
import struct
from typing import Any, Final

from .error_bodies import ApiError, error_body
from .faults import Fault
from .ids import iso_now
from .modalities import modality_answer
from .payloads import Generation
from .render import message_text
from .validation import DeploymentRequest

STREAMABLE_TYPES: Final = frozenset({"chat", "completion"})
# A 1x1 PNG: stands in for generated image data.
PNG_BASE64: Final = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
EMBEDDING_DIMENSIONS: Final = 8


def stream_not_supported(key: str, model_type: str) -> ApiError:
    """[INFER] The SDK documents streaming for chat and completion only; the status orq uses is not documented.
    400 is the SDK's first declared 4XX for the stream operation's bad requests."""
    message = (
        f"Deployment '{key}' has model type '{model_type}': streaming is only supported for chat and completion "
        "deployments. Use /v2/deployments/invoke without stream."
    )
    return ApiError(400, error_body(message))


def media_body(
    deployment: dict[str, Any], messages: list[dict[str, Any]], request: DeploymentRequest, shaping: Fault | None = None
) -> dict[str, Any]:
    """The `/invoke` answer; `shaping` (a huge_response or image_url fault) changes what each image is."""
    config = deployment["prompt_config"]
    model_type = config["model_type"]
    prompt = "\n".join(message_text(m) for m in messages)
    kind = {"image": "image", "vision": "chat"}.get(model_type, "completion")
    body = Generation(model=config["model"], provider=config["provider"], object=kind).envelope(is_final=True)
    body["finalized"] = iso_now()
    body["provider_response"] = None
    answer = modality_answer(model_type, config, messages, request)
    if request.mock_response is not None:
        message = {"type": "content", "role": "assistant", "content": request.mock_response}
        body["choices"] = [{"index": 0, "message": message, "finish_reason": "stop"}]
    elif model_type == "image":
        count = int((config.get("model_parameters") or {}).get("numImages") or 1)
        body["choices"] = [_image_choice(i, config, prompt, shaping) for i in range(count)]
    elif answer is not None:
        body["choices"], body["provider_response"] = answer
    else:
        body["choices"] = []
        body["provider_response"] = _embeddings(config, prompt) if model_type == "embedding" else {}
    if request.include_usage:
        tokens = len(prompt.split())
        body["usage"] = {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens}
    return body


def _image_choice(index: int, config: dict[str, Any], prompt: str, shaping: Fault | None) -> dict[str, Any]:
    if shaping is not None and shaping.kind == "image_url":
        url = str(shaping.body)
    elif shaping is not None and shaping.kind == "huge_response":
        url = f"data:image/png;base64,{_image_data(shaping.size, _digest(prompt, index))}"
    elif (config.get("model_parameters") or {}).get("format") == "b64_json":
        url = f"data:image/png;base64,{PNG_BASE64}"
    else:
        url = f"https://images.orq-sandbox.invalid/{_digest(prompt, index).hex()[:16]}.png"
    return {"index": index, "message": {"type": "image", "role": "assistant", "url": url}, "finish_reason": "stop"}


def _image_data(size: int, seed: bytes) -> str:
    """`size` bytes standing for a large generated image (a PNG signature, then noise, which does not compress)."""
    noise = random.Random(seed).randbytes(max(0, size - len(PNG_SIGNATURE)))
    return base64.b64encode((PNG_SIGNATURE + noise)[:size]).decode()


def _embeddings(config: dict[str, Any], text: str) -> dict[str, Any]:
    raw = _digest(text, 0)
    vector = [round(struct.unpack_from(">h", raw, 2 * i)[0] / 32768, 6) for i in range(EMBEDDING_DIMENSIONS)]
    encoded: list[float] | str = vector
    if (config.get("model_parameters") or {}).get("encoding_format") == "base64":
        encoded = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    tokens = len(text.split())
    return {
        "object": "list",
        "model": config["model"],
        "data": [{"object": "embedding", "index": 0, "embedding": encoded}],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _digest(text: str, index: int) -> bytes:
    return hashlib.sha256(f"{index}:{text}".encode()).digest()
