"""Feedback on a generation (`POST /v2/feedback`, SDK `feedback.create`), checked before orq is called.

The SDK's `PostV2FeedbackRequestBody` (orq-ai-sdk 4.17.13, `post_v2_feedbackop.py`): `property` (a string),
`value` (a string, a number or a list of strings), `trace_id` ("the id returned by get_config or invoke"),
`product` (an enum, default `deployments`) and `id`. The SDK types `property` as any string, since a
workspace may define its own (human-review) properties. orq's docs ("Feedback types") define the built-in ones
and their values, and those are checked here too, so a misspelt rating is refused by us with the list of
what is allowed rather than stored as a new property: `rating` good | bad; `defects` a list of grammatical,
spelling, hallucination, repetition, inappropriate, off_topic, incompleteness, ambiguity; `interactions`
a list of saved, selected, deleted, shared, copied, reported; `correction` a string (the SDK's docstring).
Stricter than the SDK: a boolean value is refused (the SDK would coerce it to a number).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, model_validator

from orq_mcp.orq.requests import _rule, _Strict

Product = Literal[
    "remoteconfigs",
    "deployments",
    "experiments",
    "playgrounds",
    "spreadsheets",
    "spreadsheet_run",
    "llm_evaluator",
    "knowledge",
    "router",
    "workflows",
    "external_events",
    "agents",
    "memory-stores",
    "generic",
    "evaluators",
    "otel",
    "ai-chat",
    "mcp_gateway",
]
RATINGS = ("good", "bad")
DEFECTS = (
    "grammatical",
    "spelling",
    "hallucination",
    "repetition",
    "inappropriate",
    "off_topic",
    "incompleteness",
    "ambiguity",
)
INTERACTIONS = ("saved", "selected", "deleted", "shared", "copied", "reported")
# Built-in property -> (kind of value, allowed values or None for free text) [DOCS: docs.orq.ai, Feedback types].
BUILT_IN: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "rating": ("one", RATINGS),
    "defects": ("list", DEFECTS),
    "interactions": ("list", INTERACTIONS),
    "correction": ("text", None),
}


class Feedback(_Strict):
    """One rating of one generation."""

    trace_id: str = Field(min_length=1, description="The generation's id, as the invocation returned it.")
    property: str = Field(
        min_length=1, description="rating, defects, interactions, correction, or a property defined in orq."
    )
    value: StrictStr | StrictInt | StrictFloat | list[StrictStr] = Field(
        description="rating: good or bad; defects, interactions: a list; correction: the corrected text."
    )
    product: Product | None = Field(None, description="What was rated (orq's default: deployments).")
    id: str | None = Field(None, min_length=1, description="A feedback id, to replace feedback given before.")

    @model_validator(mode="after")
    def _built_in_values(self) -> Feedback:
        rule = BUILT_IN.get(self.property)
        if rule is None:
            return self
        kind, allowed = rule
        value = self.value
        if kind == "text" and not isinstance(value, str):
            raise _rule(f"'{self.property}' takes the corrected text as a string")
        if kind == "one" and value not in (allowed or ()):
            raise _rule(f"'{self.property}' takes one of: {', '.join(allowed or ())}")
        if kind == "list":
            if not isinstance(value, list) or not value:
                raise _rule(f"'{self.property}' takes a non-empty list of: {', '.join(allowed or ())}")
            unknown = [item for item in value if item not in (allowed or ())]
            if unknown:
                raise _rule(f"'{self.property}' does not take {unknown}; it takes: {', '.join(allowed or ())}")
        return self


class FeedbackReceipt(BaseModel):
    """orq's answer (`PostV2FeedbackResponseBody`): the feedback as stored."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    property: str = ""
    value: Any = None
    trace_id: str = ""
    id: str | None = None
    product: str | None = None
