"""orq failures turned into tool errors that tell the agent what happened and what to do next."""

from __future__ import annotations

from dataclasses import dataclass, field

from mcp.server.mcpserver.exceptions import ToolError

from orq_mcp.orq.errors import (
    AgentRunError,
    AuthenticationError,
    BadRequestError,
    InvalidResponseError,
    InvocationTimeoutError,
    NotFoundError,
    OrqAPIError,
    OrqConnectionError,
    OrqError,
    OrqTimeoutError,
    PermissionDeniedError,
    RateLimitError,
    ResponseTooLargeError,
    ServerError,
    StreamError,
    StreamInterruptedError,
    TooManyStreamsError,
    UnprocessableError,
)

# Partial output is included so the agent keeps what was generated; the result cap still applies.
MAX_PARTIAL_CHARS = 8000
# What an error quotes of the client's own input (a name, a key, a URI): enough to recognise it by.
MAX_QUOTED = 200


def quoted(text: str, limit: int = MAX_QUOTED) -> str:
    """`text` to quote back in an error: as it is if short, else its start and end with the middle cut out, so an
    echo of what the client sent (a megabyte, maybe) never outgrows the message."""
    if len(text) <= limit:
        return text
    end = limit // 4
    return f"{text[: limit - end]}[... {len(text) - limit:,} characters cut ...]{text[-end:]}"


@dataclass
class Subject:
    """What the failed call was about, for messages like "Deployment 'x' was not found"."""

    kind: str = "deployment"  # or "agent", "prompt", "page", "knowledge base", "task", "trace"
    name: str | None = None
    suggestions: list[str] = field(default_factory=list)
    key_hint: str = "Check that ORQ_API_KEY holds a valid orq API key for this workspace and restart the server."

    @property
    def label(self) -> str:
        return f"{self.kind} '{quoted(self.name)}'" if self.name else f"the {self.kind}"


def tool_error(error: OrqError, subject: Subject) -> ToolError:
    return ToolError(explain(error, subject))


def not_found(subject: Subject) -> ToolError:
    """The same answer orq gives for a missing deployment, for one the allow-list hides."""
    return ToolError(_not_found(subject, ""))


def explain(error: OrqError, subject: Subject) -> str:
    message = _explain(error, subject)
    if error.partial_text:
        partial = error.partial_text
        if len(partial) > MAX_PARTIAL_CHARS:
            partial = partial[:MAX_PARTIAL_CHARS] + f"… [{len(error.partial_text) - MAX_PARTIAL_CHARS} more characters]"
        message += f"\n\nText generated before the failure ({len(error.partial_text)} characters):\n{partial}"
    return message


def _explain(error: OrqError, subject: Subject) -> str:
    detail = f" ({_status(error)}{error.message})"
    if isinstance(error, AuthenticationError):
        return f"orq rejected the API key{detail}. {subject.key_hint}"
    if isinstance(error, PermissionDeniedError):
        return (
            f"orq refused access to {subject.label}{detail}. The API key is valid but cannot use it: "
            "use a key from the workspace and project that owns it."
        )
    if isinstance(error, NotFoundError):
        return _not_found(subject, detail)
    if isinstance(error, RateLimitError):
        wait = f"Retry after {_seconds(error.retry_after)}." if error.retry_after else "Wait a few seconds and retry."
        return f"orq is rate limiting requests{detail}. {wait}"
    if isinstance(error, UnprocessableError):
        if subject.kind != "deployment":
            return f"orq could not serve {subject.label}{detail}. Check the arguments and call again."
        return (
            f"orq could not serve {subject.label}{detail}. If no variant matched, call again with a `context` "
            'that one of the deployment\'s variants accepts (for example {"environments": "production"}) '
            "or without `context`."
        )
    if isinstance(error, BadRequestError):
        if subject.kind != "deployment":
            return f"orq rejected the request{detail}. Check the arguments and call again."
        return (
            f"orq rejected the request{detail}. Check the arguments (inputs is an object of variable values, "
            "messages are {role, content} objects) and call again."
        )
    if isinstance(error, ServerError):
        return f"orq or the model provider failed{detail}. This is usually temporary: retry in a few seconds."
    if isinstance(error, OrqAPIError):
        return f"orq returned an error{detail}. Check the arguments and retry."
    return _explain_transport(error)


def _explain_transport(error: OrqError) -> str:
    if isinstance(error, ResponseTooLargeError):
        return (
            f"{error.message} Ask for a shorter answer (for example by adding a user message that limits "
            "the length) and call again."
        )
    if isinstance(error, StreamInterruptedError):
        return f"{error.message} The answer is incomplete: retry the call to get a full completion."
    if isinstance(error, AgentRunError):
        code = f" (code {error.code})" if error.code else ""
        task = f" get_agent_task with task_id '{error.task_id}' shows what the task holds." if error.task_id else ""
        return f"{error.message.rstrip('.')}{code}. Retry the call, or start a new task (without task_id).{task}"
    if isinstance(error, StreamError):
        code = f"{error.code}: " if error.code else ""
        return f"orq reported an error while generating ({code}{error.message}). Retry the call."
    if isinstance(error, InvocationTimeoutError):
        return (
            f"{error.message} Ask for a shorter answer, or ask the server's operator to raise ORQ_MCP_INVOKE_TIMEOUT."
        )
    if isinstance(error, TooManyStreamsError):
        return error.message
    if isinstance(error, OrqTimeoutError):
        return f"{error.message} orq may be overloaded or the generation very long: retry, or try a shorter request."
    if isinstance(error, OrqConnectionError):
        return (
            f"{error.message} Check the network connection and the ORQ_BASE_URL setting, then retry. "
            "The server keeps running."
        )
    if isinstance(error, InvalidResponseError):
        return f"{error.message} Retry the call; if it keeps happening, orq's API may have changed."
    return f"orq call failed: {error.message}"


# What to do about something orq does not find, by what it is.
_NOT_FOUND_HINTS = {
    "deployment": "Call list_deployments to see the available keys.",
    "agent": "Call list_agents to see the available keys.",
    "prompt": "Call list_prompts to see the available prompt ids.",
    "knowledge base": "Call list_knowledge_bases to see the available ids and keys.",
    "task": "Check the task_id (an invoke_agent result names it), or start a new task without one.",
    "trace": "Use a trace_id an invoke_deployment or invoke_agent result gave (a new one may take a moment to appear).",
}


def _not_found(subject: Subject, detail: str) -> str:
    hint = _NOT_FOUND_HINTS.get(subject.kind, "Start again without a cursor.")
    if subject.suggestions:
        hint += " Did you mean " + " or ".join(f"'{s}'" for s in subject.suggestions) + "?"
    return f"{subject.label[0].upper()}{subject.label[1:]} was not found{detail}. {hint}"


def _status(error: OrqError) -> str:
    return f"HTTP {error.status}: " if isinstance(error, OrqAPIError) and error.status else ""


def _seconds(value: float | None) -> str:
    seconds = max(1, round(value or 0))
    return f"{seconds} second{'s' if seconds != 1 else ''}"
