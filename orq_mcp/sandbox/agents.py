"""How the emulator's agents answer: deterministic turns, their tool calls, and tasks that remember them [EMU].

orq runs an agent's tools itself and streams what happened; the emulator does the same for its sample
agents: ``lookup_order`` reads ``SAMPLE_ORDERS``, a ``retrieve_knowledge_bases`` tool searches the agent's
knowledge bases. A task keeps every turn, so a turn that continues it (`task_id`) sees the earlier ones:
an order number asked about before is looked up again, and any agent recalls the first message.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .ids import iso_now, new_ulid, span_id, tool_call_id, trace_id

ORDER_NUMBER = re.compile(r"\b[A-Z]{2}-\d{4,6}\b")
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")
MAX_TASKS = 1_000


@dataclass
class ToolRun:
    tool_id: str
    name: str
    arguments: dict[str, Any]
    result: Any
    call_id: str = field(default_factory=tool_call_id)


@dataclass
class Turn:
    """One response of a task: the user's message, the tools the agent ran, and its reply."""

    message: str
    reply: str
    tool_runs: list[ToolRun]
    prompt_tokens: int
    model: str
    response_id: str = field(default_factory=new_ulid)
    trace_id: str = field(default_factory=trace_id)
    span_id: str = field(default_factory=span_id)
    created_at: str = field(default_factory=iso_now)

    @property
    def usage(self) -> dict[str, int]:
        completion = len(self.reply.split())
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }


@dataclass
class Task:
    agent_key: str
    turns: list[Turn] = field(default_factory=list)
    id: str = field(default_factory=new_ulid)
    created_at: str = field(default_factory=iso_now)


class TaskStore:
    """Tasks by id, the newest `MAX_TASKS` kept."""

    def __init__(self, limit: int = MAX_TASKS) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._tasks: OrderedDict[str, Task] = OrderedDict()

    def add(self, task: Task) -> None:
        with self._lock:
            self._tasks[task.id] = task
            self._tasks.move_to_end(task.id)
            while len(self._tasks) > self._limit:
                self._tasks.popitem(last=False)

    def get(self, task_id: str) -> Task | None:
        with self._lock:
            return self._tasks.get(task_id)


Search = Callable[[str, str], list[dict[str, Any]]]  # (knowledge id, query) -> chunks with metadata


def render(instructions: str, defaults: Mapping[str, Any], given: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    """The instructions with `{{name}}` filled (the request's value, else the agent's default, else empty)."""
    values = {name: str(given.get(name, default) or "") for name, default in defaults.items()}
    values.update({name: str(value) for name, value in given.items()})
    return _VARIABLE.sub(lambda m: values.get(m.group(1), ""), instructions), values


def run_turn(
    agent: Mapping[str, Any],
    task: Task,
    message: str,
    variables: Mapping[str, Any],
    orders: Mapping[str, Any],
    search: Search,
) -> Turn:
    instructions, values = render(agent.get("instructions", ""), agent.get("variables") or {}, variables)
    tools = (agent.get("settings") or {}).get("tools") or []
    runs: list[ToolRun] = []
    for tool in tools:
        run = _use_tool(tool, agent, task, message, orders, search)
        if run is not None:
            runs.append(run)
    reply = _reply(agent, task, message, values, runs)
    history = sum(len(t.message.split()) + len(t.reply.split()) for t in task.turns)
    prompt_tokens = len(instructions.split()) + history + len(message.split())
    return Turn(message=message, reply=reply, tool_runs=runs, prompt_tokens=prompt_tokens, model=_model_of(agent))


def _model_of(agent: Mapping[str, Any]) -> str:
    model = agent.get("model")
    return model.get("id", "") if isinstance(model, dict) else str(model or "")


def _use_tool(
    tool: Mapping[str, Any],
    agent: Mapping[str, Any],
    task: Task,
    message: str,
    orders: Mapping[str, Any],
    search: Search,
) -> ToolRun | None:
    if tool.get("key") == "lookup_order":
        number = _order_number(message, task)
        if number is None:
            return None
        found = orders.get(number)
        result = dict(found) if found else {"error": f"No order {number} was found."}
        return ToolRun(tool["id"], "lookup_order", {"order_number": number}, result)
    if tool.get("action_type") == "retrieve_knowledge_bases":
        hits = []
        for base in agent.get("knowledge_bases") or []:
            hits += search(base["knowledge_id"], message)
        result = [
            {"text": h["text"], "file_name": h["metadata"]["file_name"], "page": h["metadata"]["page_number"]}
            for h in hits[:3]
        ]
        return ToolRun(tool["id"], "retrieve_knowledge_bases", {"query": message}, result)
    return None


def _order_number(message: str, task: Task) -> str | None:
    """The order in this message, else the latest one the task talked about (the second turn sees the first)."""
    for text in [message, *(turn.message for turn in reversed(task.turns))]:
        found = ORDER_NUMBER.findall(text)
        if found:
            return found[-1]
    return None


def _reply(agent: Mapping[str, Any], task: Task, message: str, values: Mapping[str, str], runs: list[ToolRun]) -> str:
    parts = []
    if task.turns:
        first = task.turns[0].message
        parts.append(f'(Turn {len(task.turns) + 1} of this task; you first said: "{_short(first)}".)')
    company = values.get("company_name")
    if company:
        parts.append(f"{company} support here.")
    for run in runs:
        parts.append(_describe(run))
    if not runs:
        parts.append(_plain(agent, message, values))
    return " ".join(parts)


def _describe(run: ToolRun) -> str:
    result = run.result
    if run.name == "lookup_order":
        if "error" in result:
            return str(result["error"])
        carrier = f" with {result['carrier']}" if result.get("carrier") else ""
        return f"Order {result['order_number']} is {result['status']}{carrier}; expected by {result['eta']}."
    if not result:
        return "The help centre has nothing on that."
    best = result[0]
    return f"{best['text']} (Source: {best['file_name']}, page {best['page']}.)"


def _plain(agent: Mapping[str, Any], message: str, values: Mapping[str, str]) -> str:
    if agent.get("key") == "order-assistant":
        return "Tell me your order number (like NL-20391) and I will look it up."
    language = values.get("language")
    subject = _short(message.strip().rstrip(".!?"), 60)
    prefix = f"[{language}] " if language else ""
    return f"{prefix}{subject}: made simple, made for you."


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
