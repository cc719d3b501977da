"""What ``/invoke`` answers for speech, transcription, rerank, OCR, moderation, classification and vision.

The SDK's invoke response (``DeploymentInvokeResponseBody``, 4.17) types three messages (content, tool calls,
image) and leaves ``provider_response`` untyped. [INFER] Vision answers like chat, in a ``content`` message.
[EMU] The others answer with no choices and the provider's answer in ``provider_response``, in the shape of
orq's own router response for that modality, which is also the providers' shape (SDK:
``CreateTranscriptionResponseBody``, ``CreateRerankResponseBody``, ``PostV2RouterOcrResponseBody``,
``CreateModerationResponseBody``, ``CreateClassifyResponseBody``). Speech, which the router answers as raw
audio bytes, comes as a ``data:audio/mpeg;base64,`` URI, or as a link when the deployment's ``format`` is url.
``check --live`` records what orq really sends (docs/orq-api.md, Unverified).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable
from typing import Any, Final

from .model import canned_reply
from .render import message_text
from .validation import DeploymentRequest

# One silent MPEG-1 Layer III frame (128 kbit/s, 44.1 kHz): stands in for generated speech.
MP3_FRAME: Final = b"\xff\xfb\x90\x64" + bytes(413)
_WORDS: Final = re.compile(r"[a-z0-9]+")
_MODERATION_CATEGORIES: Final = (
    "hate",
    "hate/threatening",
    "harassment",
    "harassment/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
# Words that push a category's score up; everything else scores low, deterministically.
_MODERATION_WORDS: Final = {"violence": {"hurt", "kill", "attack", "beat"}, "harassment": {"scam", "idiot", "liar"}}
_TICKET_LABELS: Final = {
    "billing": {"charged", "charge", "invoice", "payment", "paid", "refund"},
    "shipping": {"delivery", "shipped", "arrive", "arrived", "tracking", "shipping"},
    "returns": {"return", "returned", "exchange", "broken"},
}

Answer = tuple[list[dict[str, Any]], Any]  # (choices, provider_response)


def modality_answer(
    model_type: str, config: dict[str, Any], messages: list[dict[str, Any]], request: DeploymentRequest
) -> Answer | None:
    """The answer for ``model_type``, or None for a type this module does not serve (image, embedding)."""
    build = _BUILDERS.get(model_type)
    return build(config, messages, request) if build is not None else None


def _speech(config: dict[str, Any], messages: list[dict[str, Any]], request: DeploymentRequest) -> Answer:
    text = "\n".join(message_text(m) for m in messages)
    if (config.get("model_parameters") or {}).get("format") == "url":
        return [], f"https://audio.orq-sandbox.invalid/{_digest(text)[:16]}.mp3"
    return [], "data:audio/mpeg;base64," + base64.b64encode(MP3_FRAME).decode()


def _transcription(config: dict[str, Any], messages: list[dict[str, Any]], request: DeploymentRequest) -> Answer:
    audio = [_decoded(data) for data in _parts(messages, "input_audio", "data") + _parts(messages, "file", "file_data")]
    size = sum(len(clip) for clip in audio)
    text = (
        "Caller: Hello, I'm calling about order NL-20391. It still hasn't arrived. "
        f"(The sandbox transcribed {len(audio)} recording(s), {size} bytes; no model was called.)"
    )
    return [], {"text": text, "task": "transcribe", "language": "english", "duration": round(size / 16_000, 2)}


def _rerank(config: dict[str, Any], messages: list[dict[str, Any]], request: DeploymentRequest) -> Answer:
    users = [message_text(m) for m in messages if m.get("role") == "user"]
    query = set(_WORDS.findall(users[-1].lower())) if users else set()
    results = []
    for index, document in enumerate(request.documents):
        words = set(_WORDS.findall(document.lower()))
        overlap = len(query & words) / len(query) if query else 0.0
        score = round(min(1.0, 0.05 + 0.9 * overlap) - index * 1e-4, 4)  # ties keep the documents' order
        results.append({"object": "rerank", "index": index, "relevance_score": score, "document": {"text": document}})
    results.sort(key=lambda result: result["relevance_score"], reverse=True)
    return [], {"object": "list", "id": _digest(str(query))[:24], "results": results, "usage": {"total_tokens": 0}}


def _ocr(config: dict[str, Any], messages: list[dict[str, Any]], request: DeploymentRequest) -> Answer:
    sources = (("file", "file_data"), ("file", "uri"), ("file", "file_id"), ("image_url", "url"))
    scans = [scan for part_type, field in sources for scan in _parts(messages, part_type, field)]
    pages = [
        {
            "index": number,
            "markdown": f"# Invoice INV-2024-0042\n\nPage {number + 1} of {len(scans)}. Supplier: Acme Bikes B.V.\n\n"
            "| Item | Amount |\n|---|---|\n| City bike | EUR 899.00 |\n| VAT 21% | EUR 188.79 |",
            "images": [],
            "dimensions": {"dpi": 200, "height": 2200, "width": 1700},
        }
        for number in range(len(scans))
    ]
    return [], {"model": config["model"], "pages": pages, "usage": {"type": "pages", "pages_processed": len(pages)}}


def _moderation(config: dict[str, Any], messages: list[dict[str, Any]], request: DeploymentRequest) -> Answer:
    text = "\n".join(message_text(m) for m in messages if m.get("role") == "user")
    words = set(_WORDS.findall(text.lower()))
    scores = {}
    for category in _MODERATION_CATEGORIES:
        hits = words & _MODERATION_WORDS.get(category, set())
        scores[category] = 0.91 if category == "violence" and hits else 0.38 if hits else _low(text + category)
    categories = {category: score > 0.5 for category, score in scores.items()}
    result = {"flagged": any(categories.values()), "categories": categories, "category_scores": scores}
    return [], {"id": "modr-" + _digest(text)[:24], "model": config["model"], "results": [result]}


def _classification(config: dict[str, Any], messages: list[dict[str, Any]], request: DeploymentRequest) -> Answer:
    text = message_text(messages[-1]) if messages else ""
    words = set(_WORDS.findall(text.lower()))
    weights = {label: 1 + 4 * len(words & cue) for label, cue in _TICKET_LABELS.items()}
    weights["other"] = 1
    total = sum(weights.values())
    probabilities = {label: round(weight / total, 4) for label, weight in weights.items()}
    choice = max(probabilities, key=lambda label: probabilities[label])
    answer = {"type": "choice", "choice": choice, "confidence": probabilities[choice], "probabilities": probabilities}
    tokens = len(text.split())
    usage = {"input_tokens": tokens, "output_tokens": 1}
    return [], {"answers": {"label": answer}, "model": config["model"], "usage": usage}


def _vision(config: dict[str, Any], messages: list[dict[str, Any]], request: DeploymentRequest) -> Answer:
    images = len(_parts(messages, "image_url", "url"))
    text = f"I see {images} image(s). {canned_reply(config['model'], messages)}"
    message = {"type": "content", "role": "assistant", "content": text}
    return [{"index": 0, "message": message, "finish_reason": "stop"}], None


_BUILDERS: Final[dict[str, Callable[[dict[str, Any], list[dict[str, Any]], DeploymentRequest], Answer]]] = {
    "tts": _speech,
    "stt": _transcription,
    "rerank": _rerank,
    "ocr": _ocr,
    "moderation": _moderation,
    "classify": _classification,
    "vision": _vision,
}


def _parts(messages: list[dict[str, Any]], part_type: str, field: str) -> list[str]:
    """Each `part_type` part's `field` (inside the part's own object), across all messages."""
    found = []
    for message in messages:
        content = message.get("content")
        for part in content if isinstance(content, list) else []:
            inner = part.get(part_type) if isinstance(part, dict) and part.get("type") == part_type else None
            if isinstance(inner, dict) and isinstance(inner.get(field), str):
                found.append(inner[field])
    return found


def _decoded(data: str) -> bytes:
    try:
        return base64.b64decode(data.partition(",")[2] if data.startswith("data:") else data)
    except (binascii.Error, ValueError):
        return b""


def _low(seed: str) -> float:
    return round(int(_digest(seed)[:4], 16) / 65535 * 0.02, 5)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
