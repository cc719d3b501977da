"""A deterministic knowledge search: chunks scored by word overlap with the query [EMU].

orq embeds the query and compares vectors; the emulator scores a chunk by the share of the query's words
(of three letters or more) it contains, so a test can tell which chunk wins and why. `filter_by` is applied to
chunk metadata with the operators of the SDK's `FilterBy` (eq, ne, gt, gte, lt, lte, in, nin, exists; and/or).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .error_bodies import bad_request

_WORD = re.compile(r"[a-z0-9]{3,}")


def words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def search(chunks: Sequence[dict[str, Any]], body: Any, default_top_k: int, default_threshold: float) -> dict[str, Any]:
    """The `SearchKnowledgeResponse` for `body` (checked here; the SDK check runs before in strict mode)."""
    if not isinstance(body, dict) or not isinstance(body.get("query"), str) or not body["query"].strip():
        raise bad_request("'query' is required and must be a non-empty string")
    top_k = body.get("top_k", default_top_k)
    threshold = body.get("threshold", default_threshold)
    if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1:
        raise bad_request("'top_k' must be a positive integer")
    if not isinstance(threshold, int | float) or isinstance(threshold, bool):
        raise bad_request("'threshold' must be a number")
    options = body.get("search_options") or {}
    wanted = words(body["query"])
    scored = []
    for chunk in chunks:
        try:
            kept = _matches(chunk["metadata"], body.get("filter_by"))
        except (AttributeError, KeyError, TypeError, ValueError):  # outside strict mode nothing checked it before
            raise bad_request("'filter_by' must be {field: {operator: value}} or {and|or: [...]}") from None
        if not kept:
            continue
        score = round(len(wanted & words(chunk["text"])) / len(wanted), 4) if wanted else 0.0
        if score > 0 and score >= threshold:
            scored.append((score, chunk))
    scored.sort(key=lambda pair: (-pair[0], pair[1]["id"]))
    return {"matches": [_match(chunk, score, options) for score, chunk in scored[:top_k]]}


def _match(chunk: dict[str, Any], score: float, options: Mapping[str, Any]) -> dict[str, Any]:
    match: dict[str, Any] = {"id": chunk["id"], "text": chunk["text"]}
    if options.get("include_metadata"):
        match["metadata"] = dict(chunk["metadata"])
    if options.get("include_scores"):
        match["scores"] = {"search_score": score}
    return match


def _matches(metadata: Mapping[str, Any], condition: Any) -> bool:
    if not condition:
        return True
    if "and" in condition:
        return all(_matches(metadata, clause) for clause in condition["and"])
    if "or" in condition:
        return any(_matches(metadata, clause) for clause in condition["or"])
    return all(_holds(metadata, field, test) for field, test in condition.items())


def _holds(metadata: Mapping[str, Any], field: str, test: Mapping[str, Any]) -> bool:
    [(operator, operand)] = test.items()
    present = field in metadata
    value = metadata.get(field)
    if operator == "exists":
        return present == operand
    if operator in ("in", "nin"):
        return (value in operand) == (operator == "in")
    if operator == "eq":
        return present and value == operand
    if operator == "ne":
        return value != operand
    if not isinstance(value, int | float):
        return False
    return {"gt": value > operand, "gte": value >= operand, "lt": value < operand, "lte": value <= operand}[operator]
