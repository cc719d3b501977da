"""Sample non-chat deployments, one or more of each model type the SDK lists besides chat and completion
(`DeploymentsModelType`: image, embedding, tts, stt, rerank, ocr, moderation, classify, vision), served by
``/invoke`` only. What each answers is in ``media`` and ``modalities``."""

from __future__ import annotations

from typing import Any

PRODUCT_PHOTO: dict[str, Any] = {
    "id": "d4a6c8e0-2b4d-4f6a-8c0e-1a3c5e7b9d02",
    "created": "2024-10-04T11:30:00.000Z",
    "updated": "2025-04-04T11:30:00.000Z",
    "key": "product-photo",
    "description": "Generates a product photo for the web shop (returns a link)",
    "prompt_config": {
        "tools": [],
        "model": "dall-e-3",
        "model_type": "image",
        "model_parameters": {"quality": "standard", "style": "natural", "format": "url"},
        "provider": "openai",
        "messages": [{"role": "user", "content": "A studio photo of {{product_name}} on a white background"}],
    },
    "version": "v1",
}

STICKER_MAKER: dict[str, Any] = {
    "id": "e5b7d9f1-3c5e-4a7b-9d1f-2b4d6f8a0c13",
    "created": "2024-10-03T08:15:00.000Z",
    "updated": "2025-04-03T08:15:00.000Z",
    "key": "sticker-maker",
    "description": "Draws a small sticker (returns the image data)",
    "prompt_config": {
        "tools": [],
        "model": "gpt-image-1",
        "model_type": "image",
        "model_parameters": {"quality": "low", "format": "b64_json"},
        "provider": "openai",
        "messages": [{"role": "user", "content": "A flat sticker of {{subject}}"}],
    },
    "version": "v1",
}

CATALOG_EMBEDDER: dict[str, Any] = {
    "id": "f6c8e0a2-4d6f-4b8c-8e0a-3c5e7a9b1d24",
    "created": "2024-10-02T07:00:00.000Z",
    "updated": "2025-04-02T07:00:00.000Z",
    "key": "catalog-embedder",
    "description": "Embeds a product description for semantic search",
    "prompt_config": {
        "tools": [],
        "model": "text-embedding-3-small",
        "model_type": "embedding",
        "model_parameters": {"encoding_format": "float"},
        "provider": "openai",
        "messages": [{"role": "user", "content": "{{text}}"}],
    },
    "version": "v1",
}


def _deployment(number: int, key: str, model_type: str, provider: str, model: str, **config: Any) -> dict[str, Any]:
    """A deployment older than the ones above (so list pages keep their order), numbered for unique ids."""
    return {
        "id": f"c{number}d9f1b3-5e7a-4c9d-9f1b-3d5f7a9c1e{number:02d}",
        "created": f"2024-09-{30 - number:02d}T07:00:00.000Z",
        "updated": f"2025-03-{30 - number:02d}T07:00:00.000Z",
        "key": key,
        "description": config["description"],
        "prompt_config": {
            "tools": [],
            "model": model,
            "model_type": model_type,
            "model_parameters": config.get("parameters", {}),
            "provider": provider,
            "messages": config["messages"],
        },
        "version": "v1",
    }


SUPPORT_VOICE = _deployment(
    1,
    "support-voice",
    "tts",
    "openai",
    "tts-1",
    description="Reads a support answer aloud (returns MP3 audio)",
    parameters={"format": "b64_json"},
    messages=[{"role": "user", "content": "{{text}}"}],
)
CALL_TRANSCRIBER = _deployment(
    2,
    "call-transcriber",
    "stt",
    "openai",
    "whisper-1",
    description="Transcribes a recorded support call (send the audio as an input_audio or file part)",
    messages=[{"role": "user", "content": "Transcribe the customer's call."}],
)
HELP_ARTICLE_RANKER = _deployment(
    3,
    "help-article-ranker",
    "rerank",
    "cohere",
    "rerank-v3.5",
    description="Ranks help-center articles (sent as documents) by relevance to a question",
    messages=[{"role": "user", "content": "{{query}}"}],
)
INVOICE_READER = _deployment(
    4,
    "invoice-reader",
    "ocr",
    "mistral",
    "mistral-ocr-latest",
    description="Reads a scanned invoice (send it as a file or image part) as Markdown",
    messages=[{"role": "user", "content": "Read the invoice."}],
)
REVIEW_MODERATOR = _deployment(
    5,
    "review-moderator",
    "moderation",
    "openai",
    "omni-moderation-latest",
    description="Checks a product review against the content policy",
    messages=[{"role": "user", "content": "{{text}}"}],
)
TICKET_CLASSIFIER = _deployment(
    6,
    "ticket-classifier",
    "classify",
    "openai",
    "gpt-4.1-mini",
    description="Labels a support ticket: billing, shipping, returns or other",
    messages=[
        {"role": "system", "content": "Label the ticket as billing, shipping, returns or other."},
        {"role": "user", "content": "{{ticket}}"},
    ],
)
DAMAGE_INSPECTOR = _deployment(
    7,
    "damage-inspector",
    "vision",
    "openai",
    "gpt-4o",
    description="Describes transport damage in a customer's photo (send it as an image_url part)",
    messages=[{"role": "system", "content": "You inspect photos of bikes for transport damage."}],
)

MEDIA_DEPLOYMENTS: tuple[dict[str, Any], ...] = (
    PRODUCT_PHOTO,
    STICKER_MAKER,
    CATALOG_EMBEDDER,
    SUPPORT_VOICE,
    CALL_TRANSCRIBER,
    HELP_ARTICLE_RANKER,
    INVOICE_READER,
    REVIEW_MODERATOR,
    TICKET_CLASSIFIER,
    DAMAGE_INSPECTOR,
)
