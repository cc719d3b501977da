"""Knowledge bases: the list (`GET /v2/knowledge`) and a search (`POST /v2/knowledge/{knowledge_id}/search`).

From orq-ai-sdk 4.17.13: `knowledge.list` answers `KnowledgeBasesServiceListResponse` {object, data:
[`Knowledge`], has_more} (`knowledge.py`: an internal base `Knowledge1` or an external one `Knowledge2`);
`knowledge.search` takes `SearchKnowledgeRequest` (`searchknowledgerequest.py`) and answers
`SearchKnowledgeResponse` {matches: [`SearchKnowledgeMatch` {id, text, vector?, metadata?, scores?}]}.
The SDK documents `knowledge_id` as "the unique identifier or key of the knowledge base", so a key is sent
as it is, with nothing to resolve.

A match's `metadata` is "arbitrary chunk metadata, omitted unless requested": the search asks for it and for
the scores (`search_options`). Which metadata names hold the source file and page is not in the SDK; we read
`file_name` and `page_number`, the names orq uses for a deployment's retrievals (`DeploymentStreamRetrievals`
metadata) [INFER].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, field_validator

from orq_mcp.orq.knowledge_filter import SEARCH_OPERATORS, check_knowledge_filter
from orq_mcp.orq.models import _Lenient
from orq_mcp.orq.requests import _Strict


class RetrievalSettings(_Lenient):
    retrieval_type: str | None = None
    top_k: int | None = None
    threshold: float | None = None


class KnowledgeStats(_Lenient):
    document_count: int | None = None
    word_count: int | None = None


class KnowledgeBase(_Lenient):
    """One knowledge base (`Knowledge1` internal, with its embedding `model`; `Knowledge2` external)."""

    id: str = Field("", alias="_id")
    key: str
    description: str | None = None
    type: str | None = None  # internal or external
    model: str | None = None  # the embedding model, internal bases only
    path: str | None = None
    created: str | None = None
    updated: str | None = None
    retrieval_settings: RetrievalSettings | None = None
    metadata: KnowledgeStats | None = None


class SearchScores(_Lenient):
    search_score: float | None = None
    rerank_score: float | None = None


class SearchMatch(_Lenient):
    id: str = ""
    text: str = ""
    metadata: dict[str, Any] | None = None
    scores: SearchScores | None = None


class SearchAnswer(_Lenient):
    matches: list[SearchMatch] = Field(default_factory=list)


@dataclass(frozen=True)
class KnowledgeChunk:
    """One search result, as an agent would cite it."""

    id: str
    text: str
    file_name: str | None
    page: float | None
    score: float | None  # the rerank score when orq reranked, else the search score
    search_score: float | None
    rerank_score: float | None
    metadata: dict[str, Any]


def chunks_of(answer: SearchAnswer) -> list[KnowledgeChunk]:
    chunks = []
    for match in answer.matches:
        metadata = match.metadata or {}
        scores = match.scores or SearchScores()
        score = scores.rerank_score if scores.rerank_score is not None else scores.search_score
        file_name = metadata.get("file_name")
        page = metadata.get("page_number")
        chunks.append(
            KnowledgeChunk(
                id=match.id,
                text=match.text,
                file_name=file_name if isinstance(file_name, str) else None,
                page=page if isinstance(page, int | float) and not isinstance(page, bool) else None,
                score=score,
                search_score=scores.search_score,
                rerank_score=scores.rerank_score,
                metadata=metadata,
            )
        )
    return chunks


class KnowledgeSearch(_Strict):
    """A search of one knowledge base (SDK `SearchKnowledgeRequest`); the base's own settings fill what is left out."""

    query: str = Field(min_length=1, description="What to look for.")
    top_k: int | None = Field(None, ge=1, le=100, description="How many chunks to return (1-100).")
    threshold: float | None = Field(None, ge=0, le=1, description="The lowest similarity score to return (0-1).")
    search_type: Literal["vector_search", "keyword_search", "hybrid_search"] | None = None
    filter_by: dict[str, Any] | None = Field(
        None,
        description='Metadata filter: {"year": {"gte": 2024}}, {"lang": {"in": ["en", "nl"]}}, '
        '{"draft": {"exists": false}}, or {"and"|"or": [...]}.',
    )

    @field_validator("filter_by")
    @classmethod
    def _filter_shape(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return check_knowledge_filter(value, SEARCH_OPERATORS) if value is not None else None

    def to_orq(self) -> dict[str, Any]:
        body = super().to_orq()
        # Without these orq leaves out the metadata (file, page) and the scores an answer cites.
        body["search_options"] = {"include_metadata": True, "include_scores": True}
        return body
