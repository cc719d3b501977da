"""Ask, don't fail: a call that lacks a deployment's variables asks the user for them with a form, or is refused.

The one rule of every invoking tool (`ask_or_refuse`, for the variables `missing_variables` finds): refused
before orq is called when the prompt needs a variable the inputs lack (no default, no value; an explicit "" is
a value), since orq would silently drop the text around the gap. A client that shows forms is asked first; a
form holds text only, so a missing list or object is refused straight away.

Both protocol eras are served. A 2026-07-28 client gets an `InputRequiredResult` carrying the form
and retries the call with the answers (`input_responses`); a handshake-era client that declared the
elicitation capability is sent `elicitation/create` mid-call. A client that cannot elicit, or a
user who declines or dismisses the form, gets the error the call would have had without asking.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from mcp.server.elicitation import render_elicitation_schema
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ElicitRequest, ElicitRequestFormParams, ElicitResult, InputRequiredResult
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel, ConfigDict, Field, create_model

from orq_mcp.orq.templates import Variable

# The key of our one form among a call's input requests.
FORM = "orq_mcp_missing_inputs"


@dataclass(frozen=True)
class Wanted:
    """A variable to ask for: its name, and what the prompt author wrote about it."""

    name: str
    description: str | None = None
    default: str | None = None


Answers = dict[str, str]
Kind = Literal["deployment", "agent"]
_SHAPES = {"array": "a list", "object": "an object", "any": "any JSON value"}


async def ask_or_refuse(
    ctx: Context, key: str, missing: list[Variable], inputs: dict[str, Any], kind: Kind = "deployment"
) -> dict[str, Any] | InputRequiredResult:
    """`inputs` with what the user filled in for the `missing` variables, a request to ask for them (2026-07-28),
    or the refusal naming each and where the prompt reads it. `kind`: whose variables (a deployment's prompt, or
    an agent's instructions)."""
    answered = None
    if can_ask(ctx) and all(v.type == "string" for v in missing):
        wanted = [Wanted(v.name, v.description, v.default) for v in missing]
        answered = await ask_for_inputs(ctx, key, wanted, kind)
    if answered is None:  # no form, declined or dismissed: orq would silently drop the text around the gaps
        raise missing_inputs(key, missing, kind)
    return answered if isinstance(answered, InputRequiredResult) else {**inputs, **answered}


def missing_inputs(key: str, missing: list[Variable], kind: Kind = "deployment") -> ToolError:
    named = ", ".join(_where(v) for v in missing)
    if kind == "agent":
        return ToolError(
            f"Missing variable(s) for agent '{key}': {named}. The agent's instructions read each one and it has no "
            'default, so orq was not called. Give each a value in `variables` (an explicit "" is one).'
        )
    return ToolError(
        f"Missing input(s) for deployment '{key}': {named}. orq would silently drop the text around a missing "
        'variable, so orq was not called. Give each a value (an explicit "" is one).'
    )


def _where(variable: Variable) -> str:
    """`customer (an object; used in message 2, user)`: what to send, and where the prompt reads it."""
    details = [_SHAPES[variable.type]] if variable.type in _SHAPES else []
    if variable.used_in:
        details.append("used in " + "; ".join(str(use) for use in variable.used_in))
    return f"{variable.name} ({'; '.join(details)})" if details else variable.name


def can_ask(ctx: Context) -> bool:
    """Whether this client shows forms (it declared the elicitation capability)."""
    capabilities = ctx.client_capabilities
    return capabilities is not None and capabilities.elicitation is not None


async def ask_for_inputs(
    ctx: Context, key: str, wanted: list[Wanted], kind: Kind = "deployment"
) -> Answers | InputRequiredResult | None:
    """The user's values for `wanted`, a request to ask for them, or None if the user would not say.

    Call only when `can_ask(ctx)`.
    """
    form = _form(wanted)
    message = f"The orq {kind} '{key}' needs a value for: {', '.join(w.name for w in wanted)}."
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
        answer = (ctx.input_responses or {}).get(FORM)
        if answer is None:
            schema = render_elicitation_schema(form)
            request = ElicitRequest(params=ElicitRequestFormParams(message=message, requested_schema=schema))
            return InputRequiredResult(input_requests={FORM: request})
        return _accepted(answer, form, wanted) if isinstance(answer, ElicitResult) else None
    outcome = await ctx.elicit(message, form)
    if outcome.action != "accept":
        return None
    return {w.name: str(getattr(outcome.data, _field(i))) for i, w in enumerate(wanted)}


def _accepted(answer: ElicitResult, form: type[BaseModel], wanted: list[Wanted]) -> Answers | None:
    if answer.action != "accept" or answer.content is None:
        return None
    try:
        data = form.model_validate(answer.content)
    except ValueError:
        return None
    return {w.name: str(getattr(data, _field(i))) for i, w in enumerate(wanted)}


def _form(wanted: list[Wanted]) -> type[BaseModel]:
    """One text field per variable, titled with its name (variable names need not be identifiers)."""
    fields: dict[str, Any] = {}
    for i, w in enumerate(wanted):
        describe = w.description or f"Fills {{{{{w.name}}}}} in the prompt."
        if w.default is None:
            fields[_field(i)] = (str, Field(alias=w.name, title=w.name, description=describe))
        else:
            fields[_field(i)] = (str, Field(w.default, alias=w.name, title=w.name, description=describe))
    return create_model("MissingInputs", __config__=ConfigDict(populate_by_name=False), **fields)


def _field(position: int) -> str:
    return f"v{position}"
