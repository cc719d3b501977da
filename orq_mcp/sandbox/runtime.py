"""The emulator's routes for orq's runtime beyond deployments: agents, knowledge bases, feedback and traces.

Paths and shapes from orq-ai-sdk 4.17.13 (docs/orq-api.md, Agents, knowledge, feedback and traces):

- `GET /v2/agents`, `GET /v2/agents/{agent_key}` (`agents.list`, `agents.retrieve`)
- `POST /v2/agents/{agent_key}/responses`, `GET /v2/agents/{agent_key}/responses/{task_id}`
  (`agents.responses.create`, `agents.responses.get`)
- `GET /v2/knowledge`, `POST /v2/knowledge/{knowledge_id}/search` (`knowledge.list`, `knowledge.search`)
- `POST /v2/feedback` (`feedback.create`)
- `GET /v3/traces/{trace_id}`, `GET /v3/traces/{trace_id}/spans` (`traces.get`, `traces.list_spans`)
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response

from .agent_payloads import failed_event, response_body, stream_events, task_body, turn_trace
from .agents import Task, run_turn
from .data_agents import PROJECT_ID, SAMPLE_ORDERS
from .error_bodies import bad_request, not_found
from .event_stream import SSEResponse, agent_sse_events
from .faults import STREAM_KINDS
from .ids import new_ulid
from .knowledge import search
from .pagination import paginate

if TYPE_CHECKING:
    from .app import Context

# [EMU] the SDK gives no bounds for a page of spans.
MAX_SPAN_PAGE = 500
DEFAULT_SPAN_PAGE = 50
AGENT_FAILURE = "The model provider returned an error while the agent was running."


async def list_agents(ctx: Context) -> Response:
    """Newest first; the SDK: limit 1-200, and without a limit every agent, unpaged."""
    page = paginate(ctx.workspace.agents, ctx.request.query_params, id_field="_id", max_limit=200, default_limit=None)
    return JSONResponse(copy.deepcopy(page))


async def get_agent(ctx: Context) -> Response:
    agent = _agent(ctx)
    return JSONResponse({**copy.deepcopy(agent), "project_id": PROJECT_ID})


async def agent_response(ctx: Context) -> Response:
    agent = _agent(ctx)
    message, variables, task_id, streamed = _parse_agent_request(ctx.body)
    task = _task_to_continue(ctx, agent["key"], task_id)
    chunks = ctx.workspace.knowledge_chunks

    def find(knowledge_id: str, query: str) -> list[dict[str, Any]]:
        options = {"include_metadata": True}
        return search(chunks.get(knowledge_id, ()), {"query": query, "search_options": options}, 3, 0.0)["matches"]

    turn = run_turn(agent, task, message, variables, SAMPLE_ORDERS, find)
    task.turns.append(turn)
    ctx.workspace.tasks.add(task)
    ctx.workspace.traces.add(turn_trace(agent["key"], turn), turn.response_id)
    if not streamed:
        return JSONResponse(response_body(task, turn))
    ctx.record.streamed = True
    fault = ctx.state.take_fault(ctx.route, STREAM_KINDS)
    if fault is not None:
        ctx.record.faults.append(fault.kind)
    failure = failed_event(500, AGENT_FAILURE)
    events = agent_sse_events(ctx.state, ctx.record, stream_events(task, turn), fault=fault, failure=failure)
    return SSEResponse(events, ctx.record)


async def get_agent_task(ctx: Context) -> Response:
    agent = _agent(ctx)
    task_id = ctx.request.path_params["task_id"]
    task = ctx.workspace.tasks.get(task_id)
    if task is None or task.agent_key != agent["key"] or not task.turns:
        raise not_found(f"Task '{task_id}' of agent '{agent['key']}'")
    return JSONResponse(task_body(task))


async def list_knowledge(ctx: Context) -> Response:
    """Newest first; the SDK: limit 1-300, 25 by default."""
    bases = ctx.workspace.knowledge_bases
    page = paginate(bases, ctx.request.query_params, id_field="_id", max_limit=300, default_limit=25)
    return JSONResponse(copy.deepcopy(page))


async def search_knowledge(ctx: Context) -> Response:
    wanted = ctx.request.path_params["knowledge_id"]
    base = ctx.workspace.knowledge_base(wanted)
    if base is None:
        raise not_found(f"Knowledge base '{wanted}'")
    settings = base.get("retrieval_settings") or {}
    chunks = ctx.workspace.knowledge_chunks.get(base["_id"], ())
    return JSONResponse(search(chunks, ctx.body, settings.get("top_k", 5), settings.get("threshold", 0.0)))


async def submit_feedback(ctx: Context) -> Response:
    """Stored on the workspace (`Workspace.feedback`); the trace is named by its id or its response's id."""
    body = ctx.body
    if not isinstance(body, dict) or not all(isinstance(body.get(name), str) for name in ("property", "trace_id")):
        raise bad_request("'property' and 'trace_id' are required strings")
    value = body.get("value")
    if not (isinstance(value, str | int | float) and not isinstance(value, bool)) and not (
        isinstance(value, list) and all(isinstance(item, str) for item in value)
    ):
        raise bad_request("'value' must be a string, a number or an array of strings")
    trace = ctx.workspace.traces.resolve(body["trace_id"])
    if trace is None:
        raise not_found(f"Trace '{body['trace_id']}'")
    stored = {
        "property": body["property"],
        "value": value,
        "trace_id": body["trace_id"],
        "id": body.get("id") or new_ulid(),
        "product": body.get("product") or "deployments",
    }
    ctx.workspace.add_feedback(stored)
    return JSONResponse(stored)


async def get_trace(ctx: Context) -> Response:
    return JSONResponse({"trace": _trace(ctx).summary()})


async def list_spans(ctx: Context) -> Response:
    """Pages of spans; `page_token` is the offset of the next page [EMU: orq's token is opaque]."""
    spans = _trace(ctx).spans()
    query = ctx.request.query_params
    limit = _span_limit(query.get("limit"))
    token = query.get("page_token") or "0"
    if not token.isdigit() or int(token) > len(spans):
        raise bad_request(f"'page_token' {token!r} is not a token this list gave", what="Invalid request")
    start = int(token)
    page = spans[start : start + limit]
    more = start + limit < len(spans)
    body: dict[str, Any] = {"object": "list", "data": page, "has_more": more}
    if more:
        body["next_page_token"] = str(start + limit)
    return JSONResponse(body)


def _agent(ctx: Context) -> dict[str, Any]:
    key = ctx.request.path_params["agent_key"]
    agent = ctx.workspace.agent(key)
    if agent is None:
        raise not_found(f"Agent with key '{key}'")
    return agent


def _trace(ctx: Context) -> Any:
    trace_id = ctx.request.path_params["trace_id"]
    trace = ctx.workspace.traces.get(trace_id)
    if trace is None:
        raise not_found(f"Trace '{trace_id}'")
    return trace


def _span_limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_SPAN_PAGE
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_SPAN_PAGE:
        raise bad_request(f"'limit' must be an integer between 1 and {MAX_SPAN_PAGE}", what="Invalid request")
    return int(raw)


def _parse_agent_request(body: Any) -> tuple[str, dict[str, Any], str | None, bool]:
    """(message text, variables, task_id, stream) from an `AgentResponseRequest` body, or a 400."""
    if not isinstance(body, dict) or not isinstance(body.get("message"), dict):
        raise bad_request("'message' is required: {role, parts}")
    message = body["message"]
    parts = message.get("parts")
    if message.get("role") != "user":
        # A `tool` message answers pending tool calls; the sample agents run their tools themselves [EMU].
        raise bad_request("this task has no pending tool calls to answer; send a 'user' message")
    if not isinstance(parts, list) or not parts:
        raise bad_request("'message.parts' must be a non-empty array")
    text_parts = [p for p in parts if isinstance(p, dict) and p.get("kind") == "text"]
    texts = [t for p in text_parts if isinstance(t := p.get("text"), str)]
    if not texts or len(texts) != len(text_parts):
        raise bad_request("'message.parts' needs at least one text part {kind: 'text', text}")
    variables = body.get("variables") or {}
    if not isinstance(variables, dict):
        raise bad_request("'variables' must be an object")
    task_id = body.get("task_id")
    if task_id is not None and not isinstance(task_id, str):
        raise bad_request("'task_id' must be a string")
    streamed = body.get("stream", False)
    if not isinstance(streamed, bool):
        raise bad_request("'stream' must be a boolean")
    return "\n".join(texts), variables, task_id, streamed


def _task_to_continue(ctx: Context, agent_key: str, task_id: str | None) -> Task:
    if task_id is None:
        return Task(agent_key)
    task = ctx.workspace.tasks.get(task_id)
    if task is None or task.agent_key != agent_key:
        raise not_found(f"Task '{task_id}' of agent '{agent_key}'")
    return task
