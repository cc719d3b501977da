"""Sample non-chat deployments: images (a link or inline data) and embeddings, served by ``/invoke`` only."""

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

MEDIA_DEPLOYMENTS: tuple[dict[str, Any], ...] = (PRODUCT_PHOTO, STICKER_MAKER, CATALOG_EMBEDDER)
