"""The Starlette application emulating the orq.ai API: deployments and prompts here, agents, knowledge bases,
feedback and traces in runtime.py."""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import runtime
from .error_bodies import (
    ApiError,
    bad_request,
    deployment_not_found,
    prompt_not_found,
    server_error_body,
    unauthorized_body,
)
from .event_stream import SSEResponse, sse_events
from .faults import (
    GENERATION_KINDS,
    MEDIA_KINDS,
    REQUEST_KINDS,
    STREAM_KINDS,
    Fault,
    non_json_response,
    status_response,
)
from .media import STREAMABLE_TYPES, media_body, stream_not_supported
from .model import Completion, complete
from .pagination import paginate
from .payloads import Generation
from .render import assemble_messages, check_variant
from .state import BodyCheck, EmulatorState, RequestRecord, SdkViolation, Workspace
from .template_engines import template_filler
from .thinking import check_replayed_reasoning
from .traces import generation_trace
from .validation import DeploymentRequest, parse_deployment_request
from .versions import template_settings

logger = logging.getLogger("orq_mcp.sandbox")

CLIENT_CLOSED = 499  # recorded status of a "hang" request the client gave up on (nginx convention)
# Routes whose body strict mode checks against the SDK before anything else (the deployment routes check after
# their own validation, in `_resolve`).
SDK_CHECKED_FIRST = frozenset({"agent_response", "knowledge_search", "feedback"})


@dataclass
class Context:
    request: Request
    state: EmulatorState
    workspace: Workspace
    record: RequestRecord
    body: Any
    route: str


Handler = Callable[[Context], Awaitable[Response]]


def create_app(state: EmulatorState) -> Starlette:
    """An ASGI app serving ``state``. Every /v2 route authenticates, logs, and honours queued faults."""

    def endpoint(route: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            return await _dispatch(state, route, handler, request)

        return run

    routes = [
        Route("/v2/deployments", endpoint("list_deployments", _list_deployments), methods=["GET"]),
        Route("/v2/deployments/get_config", endpoint("get_config", _get_config), methods=["POST"]),
        Route("/v2/deployments/invoke", endpoint("invoke", _invoke), methods=["POST"]),
        Route("/v2/deployments/stream", endpoint("stream", _stream), methods=["POST"]),
        Route("/v2/deployments/{key_or_id}/versions", endpoint("versions", _list_versions), methods=["GET"]),
        Route("/v2/prompts", endpoint("list_prompts", _list_prompts), methods=["GET"]),
        Route("/v2/prompts/{prompt_id}", endpoint("get_prompt", _get_prompt), methods=["GET"]),
        Route("/v2/agents", endpoint("list_agents", runtime.list_agents), methods=["GET"]),
        Route("/v2/agents/{agent_key}", endpoint("get_agent", runtime.get_agent), methods=["GET"]),
        Route("/v2/agents/{agent_key}/responses", endpoint("agent_response", runtime.agent_response), methods=["POST"]),
        Route(
            "/v2/agents/{agent_key}/responses/{task_id}",
            endpoint("get_agent_task", runtime.get_agent_task),
            methods=["GET"],
        ),
        Route("/v2/knowledge", endpoint("list_knowledge", runtime.list_knowledge), methods=["GET"]),
        Route(
            "/v2/knowledge/{knowledge_id}/search",
            endpoint("knowledge_search", runtime.search_knowledge),
            methods=["POST"],
        ),
        Route("/v2/feedback", endpoint("feedback", runtime.submit_feedback), methods=["POST"]),
        Route("/v3/traces/{trace_id}", endpoint("get_trace", runtime.get_trace), methods=["GET"]),
        Route("/v3/traces/{trace_id}/spans", endpoint("list_spans", runtime.list_spans), methods=["GET"]),
    ]
    return Starlette(routes=routes)


async def _dispatch(state: EmulatorState, route: str, handler: Handler, request: Request) -> Response:
    raw = await request.body()
    api_key = _bearer_token(request)
    record = state.record_request(
        RequestRecord(
            route=route,
            method=request.method,
            path=request.url.path,
            query=dict(request.query_params),
            body=_decode_json(raw),
            api_key=api_key,
            started_at=time.monotonic(),
            headers={name: value for name, value in request.headers.items() if name != "authorization"},
        )
    )
    try:
        response = await _respond(state, route, handler, request, record)
    except ApiError as error:
        response = error.response()
    except Exception:
        logger.exception("emulator error on %s %s", request.method, request.url.path)
        response = JSONResponse(server_error_body(route), status_code=500)
    if record.status is None:
        record.status = response.status_code
    if not isinstance(response, SSEResponse) and record.finished_at is None:
        record.finished_at = time.monotonic()
    return response


async def _respond(
    state: EmulatorState, route: str, handler: Handler, request: Request, record: RequestRecord
) -> Response:
    workspace = state.workspace_for(record.api_key)
    if workspace is None:
        return JSONResponse(unauthorized_body(), status_code=401)
    fault = state.take_fault(route, REQUEST_KINDS)
    if fault is not None:
        record.faults.append(fault.kind)
        replaced = await _apply_request_fault(fault, route, request, record)
        if replaced is not None:
            return replaced
    ctx = Context(request, state, workspace, record, record.body, route)
    if state.check_body is not None and route in SDK_CHECKED_FIRST:
        _check_strictly(ctx, state.check_body)
    return await handler(ctx)


async def _apply_request_fault(fault: Fault, route: str, request: Request, record: RequestRecord) -> Response | None:
    if fault.kind == "status":
        return status_response(fault, route)
    if fault.kind == "non_json_body":
        return non_json_response(fault)
    if fault.kind == "no_content":
        return Response(status_code=204)
    if fault.kind == "slow_first_byte":
        await anyio.sleep(fault.delay)
        return None
    # "hang": never answer; wait until the client disconnects.
    while (await request.receive())["type"] != "http.disconnect":
        pass
    record.disconnected_at = time.monotonic()
    record.status = CLIENT_CLOSED
    return Response(status_code=CLIENT_CLOSED)


def _bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _decode_json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None


# Handlers ---------------------------------------------------------------------------------------------------------


async def _list_deployments(ctx: Context) -> Response:
    page = paginate(ctx.workspace.deployments, ctx.request.query_params, id_field="id", max_limit=50)
    return JSONResponse(copy.deepcopy(page))


async def _list_versions(ctx: Context) -> Response:
    key_or_id = ctx.request.path_params["key_or_id"]
    deployment = ctx.workspace.deployment_by_key_or_id(key_or_id)
    if deployment is None:
        raise deployment_not_found(key_or_id)
    versions = ctx.workspace.versions.get(deployment["key"], [])
    variant = ctx.request.query_params.get("variant_id")
    if variant is not None:
        versions = [v for v in versions if v.get("variant_id") == variant]
    page = paginate(versions, ctx.request.query_params, id_field="_id", max_limit=50, order_field="timestamp")
    return JSONResponse(copy.deepcopy(page))


async def _list_prompts(ctx: Context) -> Response:
    page = paginate(ctx.workspace.prompts, ctx.request.query_params, id_field="_id", max_limit=200)
    # Like the real list, items leave out the deprecated ``prompt_config`` that GET /v2/prompts/{id} returns.
    page["data"] = [{k: copy.deepcopy(v) for k, v in item.items() if k != "prompt_config"} for item in page["data"]]
    return JSONResponse(page)


async def _get_prompt(ctx: Context) -> Response:
    prompt_id = ctx.request.path_params["prompt_id"]
    prompt = ctx.workspace.prompt(prompt_id)
    if prompt is None:
        raise prompt_not_found(prompt_id)
    return JSONResponse(copy.deepcopy(prompt))


def _resolve(ctx: Context) -> tuple[DeploymentRequest, dict[str, Any], list[Any]]:
    request = parse_deployment_request(ctx.body)
    if ctx.state.check_body is not None:
        _check_strictly(ctx, ctx.state.check_body)
    deployment = ctx.workspace.deployment(request.key)
    if deployment is None:
        raise deployment_not_found(request.key)
    check_variant(request.key, ctx.workspace.variant_rules.get(request.key, {}), request.context)
    config = deployment["prompt_config"]
    settings = template_settings(deployment, ctx.workspace.versions.get(request.key, []))
    fill = template_filler(settings, ctx.workspace.references)
    messages = assemble_messages(config["messages"], request.inputs, request.prefix_messages, request.messages, fill)
    return request, deployment, messages


def _check_strictly(ctx: Context, check: BodyCheck) -> None:
    """Strict mode: a body the check rejects (the SDK's request models, in the tests) is recorded and answered 400
    with the check's reason."""
    problem = check(ctx.route, ctx.body)
    if problem is not None:
        ctx.state.record_violation(SdkViolation(ctx.route, ctx.body, problem))
        raise bad_request(f"rejected by the SDK's request model: {problem}")


async def _get_config(ctx: Context) -> Response:
    """[INFER] The messages come back rendered with `inputs`, `prefix_messages` and `messages` placed as an
    invocation would place them: the SDK's model says neither (`check --live`: get_config_renders_inputs)."""
    _, deployment, messages = _resolve(ctx)
    config = deployment["prompt_config"]
    tools = []
    for tool in config.get("tools") or []:
        function = tool.get("function", {})
        spec = {key: copy.deepcopy(function[key]) for key in ("name", "description", "parameters") if key in function}
        tools.append({"type": "function", "function": spec})
    body = {
        "id": Generation.for_deployment(deployment).id,
        "provider": config["provider"],
        "model": config["model"],
        "version": deployment["version"],
        "type": config["model_type"],
        "messages": messages,
        "parameters": copy.deepcopy(config.get("model_parameters") or {}),
        "tools": tools,
    }
    return JSONResponse(body)


async def _invoke(ctx: Context) -> Response:
    """One JSON answer, even for `"stream": true`: the SDK declares only application/json for /invoke (and its
    hook forces false); the spec's prose promising SSE there is unverified (`check --live`: invoke_stream_flag)."""
    return await _generate(ctx, streamed=False)


async def _stream(ctx: Context) -> Response:
    return await _generate(ctx, streamed=True)


async def _generate(ctx: Context, *, streamed: bool) -> Response:
    request, deployment, messages = _resolve(ctx)
    check_replayed_reasoning(deployment["prompt_config"], request.messages)
    model_type = deployment["prompt_config"]["model_type"]
    if model_type not in STREAMABLE_TYPES:
        if streamed:
            raise stream_not_supported(request.key, model_type)
        shaping = ctx.state.take_fault(ctx.route, MEDIA_KINDS) if model_type == "image" else None
        if shaping is not None:
            ctx.record.faults.append(shaping.kind)
        body = media_body(deployment, messages, request, shaping)
        config = deployment["prompt_config"]
        trace = generation_trace(body["telemetry"]["trace_id"], request.key, config["model"], config["provider"], 0, 0)
        ctx.workspace.traces.add(trace, body["id"])
        return JSONResponse(body)
    shaping = ctx.state.take_fault(ctx.route, GENERATION_KINDS)
    if shaping is not None:
        ctx.record.faults.append(shaping.kind)
    huge = shaping if shaping is not None and shaping.kind == "huge_response" else None
    deltas = shaping.pieces if shaping is not None and shaping.kind == "scripted_deltas" else None
    completion: Completion = complete(deployment, messages, request, huge.size if huge else None, deltas)
    generation = Generation.for_deployment(deployment)
    trace = generation_trace(
        generation.telemetry["trace_id"],
        request.key,
        generation.model,
        generation.provider,
        completion.prompt_tokens,
        completion.completion_tokens,
    )
    ctx.workspace.traces.add(trace, generation.id)
    if not streamed:
        return JSONResponse(generation.invoke_body(completion, request, messages))
    ctx.record.streamed = True
    fault = ctx.state.take_fault(ctx.route, STREAM_KINDS)
    if fault is not None:
        ctx.record.faults.append(fault.kind)
    events = sse_events(
        ctx.state,
        ctx.record,
        generation,
        completion,
        request,
        messages,
        fault=fault,
        chunk_size=huge.chunk_size if huge else None,
    )
    return SSEResponse(events, ctx.record)
