"""Mutable emulator state: workspaces per API key, stream pacing, the fault queue and the request log."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .agents import TaskStore
from .faults import Fault
from .traces import TraceStore

MAX_FEEDBACK = 10_000


@dataclass
class Workspace:
    """What one API key can see. ``variant_rules`` maps a deployment key to ``{context attribute: allowed values}``."""

    deployments: list[dict[str, Any]] = field(default_factory=list)
    prompts: list[dict[str, Any]] = field(default_factory=list)
    variant_rules: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    # Saved versions per deployment key (engine, declared variables), and what Skill/snippet references expand to.
    versions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    references: dict[str, str] = field(default_factory=dict)
    # orq's runtime beyond deployments: agents, knowledge bases (and their chunks by knowledge-base id), and what
    # running them leaves behind: tasks, traces, feedback (each bounded, newest kept).
    agents: list[dict[str, Any]] = field(default_factory=list)
    knowledge_bases: list[dict[str, Any]] = field(default_factory=list)
    knowledge_chunks: dict[str, tuple[dict[str, Any], ...]] = field(default_factory=dict)
    tasks: TaskStore = field(default_factory=TaskStore)
    traces: TraceStore = field(default_factory=TraceStore)
    feedback: list[dict[str, Any]] = field(default_factory=list)

    def agent(self, key: str) -> dict[str, Any] | None:
        return next((a for a in self.agents if a.get("key") == key), None)

    def knowledge_base(self, id_or_key: str) -> dict[str, Any] | None:
        """By id or by key: the SDK documents `knowledge_id` as "the unique identifier or key"."""
        return next((k for k in self.knowledge_bases if id_or_key in (k.get("_id"), k.get("key"))), None)

    def add_feedback(self, feedback: dict[str, Any]) -> None:
        self.feedback.append(feedback)
        del self.feedback[:-MAX_FEEDBACK]

    def deployment(self, key: str) -> dict[str, Any] | None:
        return next((d for d in self.deployments if d.get("key") == key), None)

    def deployment_by_key_or_id(self, key_or_id: str) -> dict[str, Any] | None:
        return self.deployment(key_or_id) or next((d for d in self.deployments if d.get("id") == key_or_id), None)

    def prompt(self, prompt_id: str) -> dict[str, Any] | None:
        return next((p for p in self.prompts if p.get("_id") == prompt_id), None)


# A stricter check of the get_config, invoke and stream bodies, on top of the emulator's own: the reason it refuses
# a body, or None. The tests pass the official SDK's request models (tests/sdk_schema.py), which the package does not
# depend on.
BodyCheck = Callable[[str, Any], str | None]


@dataclass(frozen=True)
class SdkViolation:
    """A body the emulator would have served but the strict check (the SDK's request models) rejects."""

    route: str
    body: Any
    problem: str


@dataclass
class RequestRecord:
    """One /v2 request as the emulator saw it. Times are ``time.monotonic()`` values."""

    route: str
    method: str
    path: str
    query: dict[str, str]
    body: Any
    api_key: str | None
    started_at: float
    status: int | None = None
    finished_at: float | None = None
    disconnected_at: float | None = None
    chunks_sent: int = 0
    streamed: bool = False
    faults: list[str] = field(default_factory=list)
    # Request headers by lower-case name, the Authorization header left out (its key is ``api_key``).
    headers: dict[str, str] = field(default_factory=dict)


class EmulatorState:
    """Shared by the app (uvicorn thread) and tests (main thread); mutations are guarded by a lock."""

    def __init__(
        self,
        workspaces: Mapping[str, Workspace] | None = None,
        *,
        chunk_delay: float = 0.005,
        log_limit: int | None = 10_000,
        check_body: BodyCheck | None = None,
    ) -> None:
        self.chunk_delay = chunk_delay
        self.check_body = check_body
        self.log_limit = log_limit  # oldest records are dropped beyond this many (None = unbounded)
        self._lock = threading.Lock()
        self._workspaces: dict[str, Workspace] = dict(workspaces or {})
        self._faults: list[Fault] = []
        self._log: list[RequestRecord] = []
        self._violations: list[SdkViolation] = []

    # Workspaces -----------------------------------------------------------------------------------------------
    def add_workspace(self, api_key: str, workspace: Workspace) -> None:
        with self._lock:
            self._workspaces[api_key] = workspace

    def workspace_for(self, api_key: str | None) -> Workspace | None:
        if not api_key:
            return None
        with self._lock:
            return self._workspaces.get(api_key)

    def add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending_faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take_fault(self, route: str, kinds: Iterable[str]) -> Fault | None:
        """Consume one use of the first queued fault of one of ``kinds`` that matches ``route``."""
        wanted = frozenset(kinds)
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.kind in wanted and fault.matches(route):
                    if fault.times > 0:
                        fault.times -= 1
                        if fault.times == 0:
                            del self._faults[index]
                    return fault
        return None

    # Request log ----------------------------------------------------------------------------------------------
    def record_request(self, record: RequestRecord) -> RequestRecord:
        with self._lock:
            self._log.append(record)
            if self.log_limit is not None and len(self._log) > self.log_limit:
                del self._log[: len(self._log) - self.log_limit]
        return record

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._log)

    def requests_for(self, route: str) -> list[RequestRecord]:
        with self._lock:
            return [r for r in self._log if r.route == route]

    def last_request(self, route: str | None = None) -> RequestRecord | None:
        with self._lock:
            matching = [r for r in self._log if route is None or r.route == route]
        return matching[-1] if matching else None

    # SDK strictness -----------------------------------------------------------------------------------------
    def record_violation(self, violation: SdkViolation) -> None:
        with self._lock:
            self._violations.append(violation)

    def take_violations(self) -> list[SdkViolation]:
        """The violations seen since the last call (a test that sends bad bodies on purpose takes them)."""
        with self._lock:
            taken, self._violations = self._violations, []
        return taken

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    def reset(self) -> None:
        """Forget queued faults, logged requests and violations (workspaces, chunk_delay and the body check stay)."""
        with self._lock:
            self._faults.clear()
            self._log.clear()
            self._violations.clear()
