"""A sample knowledge base in the SDK's `Knowledge1` shape (orq-ai-sdk 4.17.13, `knowledge.py`), and its chunks.

Each chunk carries `file_name`, `page_number` and `file_type` in its metadata, the names orq uses for a
deployment's retrievals [INFER: a search match's metadata is "arbitrary" in the SDK].
"""

from __future__ import annotations

from typing import Any

HELP_CENTER_ID = "01JQ7V9Z8Y7X6W5V4T3S2R1Q0P"
_DOMAIN_ID = "5d3b7a9e-1c2f-4e6a-8b0d-9f1e2a3c4b5d"

HELP_CENTER: dict[str, Any] = {
    "_id": HELP_CENTER_ID,
    "key": "acme-help-center",
    "description": "Acme Bikes help-centre articles: shipping, returns, warranty and care",
    "type": "internal",
    "model": "openai/text-embedding-3-small",
    "path": "Default Project/knowledge",
    "domain_id": _DOMAIN_ID,
    "created": "2025-03-01T09:00:00.000Z",
    "updated": "2025-05-30T16:20:00.000Z",
    "retrieval_settings": {"retrieval_type": "hybrid_search", "top_k": 5, "threshold": 0.0},
    "metadata": {"document_count": 3, "word_count": 412},
}

_ARCHIVE: dict[str, Any] = {
    "_id": "01JQ7VA0B1C2D3E4F5G6H7J8K9",
    "key": "acme-2023-catalogue",
    "description": "Last year's product catalogue (archived)",
    "type": "internal",
    "model": "openai/text-embedding-3-small",
    "path": "Default Project/knowledge",
    "domain_id": _DOMAIN_ID,
    "created": "2024-01-15T09:00:00.000Z",
    "updated": "2024-01-15T09:00:00.000Z",
    "retrieval_settings": {"retrieval_type": "vector_search", "top_k": 3, "threshold": 0.2},
    "metadata": {"document_count": 1, "word_count": 38},
}

SAMPLE_KNOWLEDGE_BASES: tuple[dict[str, Any], ...] = (HELP_CENTER, _ARCHIVE)


def _chunk(chunk_id: str, text: str, file_name: str, page: int, **extra: Any) -> dict[str, Any]:
    file_type = "application/pdf" if file_name.endswith(".pdf") else "text/markdown"
    metadata = {"file_name": file_name, "page_number": page, "file_type": file_type, **extra}
    return {"id": chunk_id, "text": text, "metadata": metadata}


SAMPLE_CHUNKS: dict[str, tuple[dict[str, Any], ...]] = {
    HELP_CENTER_ID: (
        _chunk(
            "01JQ7VB1C2D3E4F5G6H7J8K9M0",
            "Orders ship within 2 working days. Delivery in the Netherlands and Belgium takes 1 to 3 working "
            "days after shipping; you receive a tracking link by email.",
            "shipping-policy.pdf",
            1,
            year=2025,
        ),
        _chunk(
            "01JQ7VB2D3E4F5G6H7J8K9M0N1",
            "Express delivery costs 9.95 euro and arrives the next working day when ordered before 14:00.",
            "shipping-policy.pdf",
            2,
            year=2025,
        ),
        _chunk(
            "01JQ7VB3E4F5G6H7J8K9M0N1P2",
            "You may return a bike within 30 days of delivery for a full refund. Returns are free: print the "
            "return label from your account and drop the parcel at any PostNL point.",
            "returns-and-refunds.md",
            1,
            year=2025,
        ),
        _chunk(
            "01JQ7VB4F5G6H7J8K9M0N1P2Q3",
            "Refunds reach your account within 5 working days after we receive the returned bike.",
            "returns-and-refunds.md",
            2,
            year=2024,
        ),
        _chunk(
            "01JQ7VB5G6H7J8K9M0N1P2Q3R4",
            "Every frame has a 10-year warranty; parts and electrical components are covered for 2 years. "
            "Keep your receipt as proof of purchase.",
            "warranty.pdf",
            4,
            year=2023,
        ),
    ),
    _ARCHIVE["_id"]: (
        _chunk(
            "01JQ7VC1C2D3E4F5G6H7J8K9M0",
            "The 2023 City Cruiser came in three colours and weighed 17 kilograms.",
            "catalogue-2023.pdf",
            12,
            year=2023,
        ),
    ),
}
