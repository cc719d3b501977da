"""Server configuration: environment variables, overridden by command-line flags."""

from __future__ import annotations

import importlib.util
import ipaddress
from collections.abc import Mapping
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from orq_mcp.config.keys import check_pasted_key, stand_in_for_key
from orq_mcp.orq.client import POOL_LIMITS, RequestDefaults, RetryPolicy, Timeouts
from orq_mcp.orq.slots import DEFAULT_PER_KEY, DEFAULT_TOTAL, StreamSlots

DEFAULT_BASE_URL = "https://api.orq.ai"
Transport = Literal["stdio", "http", "sse"]

# Environment variable -> setting. Flags use the same names (see cli/options.py).
ENV_VARS: dict[str, str] = {
    "ORQ_API_KEY": "api_key",
    "ORQ_BASE_URL": "base_url",
    "ORQ_MCP_TRANSPORT": "transport",
    "ORQ_MCP_HOST": "host",
    "ORQ_MCP_PORT": "port",
    "ORQ_MCP_PROGRESS_INTERVAL": "progress_interval",
    "ORQ_TIMEOUT": "read_timeout",
    "ORQ_STREAM_TIMEOUT": "stream_timeout",
    "ORQ_MCP_INVOKE_TIMEOUT": "invoke_timeout",
    "ORQ_MCP_MAX_STREAMS": "max_streams",
    "ORQ_MCP_MAX_STREAMS_PER_KEY": "max_streams_per_key",
    "ORQ_MAX_RETRIES": "max_retries",
    "ORQ_MCP_ALLOW_REMOTE": "allow_remote",
    "ORQ_MCP_ALLOWED_HOSTS": "allowed_hosts",
    "ORQ_MCP_ALLOWED_ORIGINS": "allowed_origins",
    "ORQ_MCP_AUTH_TOKEN": "auth_token",
    "ORQ_MCP_MULTI_TENANT": "multi_tenant",
    "ORQ_MCP_QUERY_CONFIG": "query_config",
    "ORQ_DEPLOYMENTS": "deployments",
    "ORQ_MCP_AGENTS": "agents",
    "ORQ_MCP_TOOLSETS": "toolsets",
    "ORQ_MCP_DYNAMIC_TOOLSETS": "dynamic_toolsets",
    "ORQ_MCP_MAX_RESPONSE_CHARS": "max_response_chars",
    "ORQ_MCP_CACHE_TTL": "cache_ttl",
    "ORQ_MCP_MAX_RESULT_CHARS": "max_result_chars",
    "ORQ_MCP_MAX_MEDIA_BYTES": "max_media_bytes",
    "ORQ_EXPOSE": "expose",
    "ORQ_MCP_READ_ONLY": "read_only",
    "ORQ_MCP_SESSION_IDLE_TIMEOUT": "session_idle_timeout",
    "ORQ_MCP_MAX_SESSIONS": "max_sessions",
    "ORQ_MCP_MAX_SESSIONS_PER_CLIENT": "max_sessions_per_client",
    "ORQ_MCP_MAX_CONNECTIONS": "max_connections",
    "ORQ_MCP_REQUEST_TIMEOUT": "request_timeout",
    "ORQ_MCP_WORKERS": "workers",
    "ORQ_MCP_STATELESS": "stateless",
    "ORQ_MCP_EVENT_STORE": "event_store",
    "ORQ_MCP_RESUME_GRACE": "resume_grace",
    "ORQ_ENVIRONMENT": "environment",
    "ORQ_CONTACT_ID": "contact_id",
}
# The toolsets (surface/toolsets/): what each offers is in the README. `all` names every one.
ToolsetName = Literal["deployments", "agents", "knowledge", "feedback", "traces"]
TOOLSET_NAMES: tuple[ToolsetName, ...] = get_args(ToolsetName)
# Offered when --toolsets is not given; chosen by measurement (tests/surface/test_toolsets.py): its tools/list stays
# within the default budget, 12,000 characters, and holds what most users of orq-mcp come for.
DEFAULT_TOOLSETS = ("deployments",)
# Inline image data one tool result may carry (decoded bytes, every image together): 3.75 MiB, whose base64 form is
# 5 MiB, the largest image the Claude API takes ("image exceeds 5 MB maximum"); a larger one would make the host's
# next model call fail, and would cost every hop (scrubbing, the event store, the wire) its size again.
DEFAULT_MAX_MEDIA_BYTES = 3_932_160
# Shorter access tokens can be guessed; the message that refuses one says how to make a good one.
MIN_AUTH_TOKEN_CHARS = 32
MAKE_A_TOKEN = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


# ORQ_ENVIRONMENT and ORQ_CONTACT_ID: names, not documents.
MAX_NAME_CHARS = 256

# Settings that also have a command-line flag (`--base-url` for base_url, ...); the rest are environment-only
# (a key on the command line would show in `ps`; tuning knobs stay out of --help).
# In --help order, which `orq-mcp config` keeps when it repeats the flags a user gave.
FLAGGED = ("transport", "host", "port", "base_url", "sandbox", "verbose", "toolsets", "dynamic_toolsets")
FLAGGED += ("deployments", "agents", "expose", "read_only")
FLAGGED += ("allow_remote", "multi_tenant", "query_config", "workers", "stateless")


class SettingsError(ValueError):
    """A setting has an invalid value; the message names the setting, never its value."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    api_key: SecretStr | None = None
    # What ORQ_API_KEY held instead of a key ("the example placeholder", ...); api_key is then None.
    api_key_stand_in: str | None = None
    base_url: str = DEFAULT_BASE_URL
    transport: Transport = "stdio"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    sandbox: bool = False
    verbose: bool = False
    # Minimum spacing of progress notifications. 0: coalesce by back-pressure alone (what arrives
    # while one notification is being sent rides in the next), which is both prompt and frugal.
    progress_interval: float = Field(0.0, ge=0, le=5)
    connect_timeout: float = Field(5.0, gt=0)
    read_timeout: float = Field(30.0, gt=0)
    stream_timeout: float = Field(300.0, gt=0)
    # A whole invocation's limit: a stream trickling a byte at a time never trips stream_timeout.
    invoke_timeout: float = Field(600.0, gt=0)
    # Concurrent invocations (each holds a pooled connection), in all and per orq API key; kept below the
    # pool's size so that lists and get_config always find a connection.
    max_streams: int = Field(DEFAULT_TOTAL, ge=1, le=(POOL_LIMITS.max_connections or 200) - 10)
    max_streams_per_key: int = Field(DEFAULT_PER_KEY, ge=1)
    max_retries: int = Field(2, ge=0, le=10)
    # A generation longer than this is cut off (no model writes this much; a runaway stream could).
    max_response_chars: int = Field(1_000_000, ge=1000)
    # How long the deployment and prompt lists behind tools/resources/prompts lists are reused.
    cache_ttl: float = Field(60.0, ge=0)
    # Tool results larger than this (in characters) are cut, with a notice, to spare the model's context.
    max_result_chars: int = Field(20_000, ge=1000)
    # Images past this (see DEFAULT_MAX_MEDIA_BYTES) are left out with a note; 0: never inline.
    max_media_bytes: int = Field(DEFAULT_MAX_MEDIA_BYTES, ge=0)
    # Deployment and agent keys that also get a tool of their own; "all" exposes every one.
    expose: tuple[str, ...] = ()
    # Look, don't spend: no tool that invokes a deployment or an agent, or writes feedback, is offered.
    read_only: bool = False
    # The toolsets offered (TOOLSET_NAMES); None: DEFAULT_TOOLSETS, or none at first with dynamic_toolsets.
    toolsets: tuple[str, ...] | None = None
    # Start with list_toolsets and enable_toolset (plus `toolsets` when given); each caller enables what it needs.
    dynamic_toolsets: bool = False
    # Sent with every call as the orq SDK sends its own settings: the routing environment (a caller's own
    # `context.environments` wins) and the contact the calls are made for (docs/orq-api.md, Request body).
    environment: str | None = None
    contact_id: str | None = None

    # -- exposure and access control (HTTP transports) ---------------------------------------------
    allow_remote: bool = False
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    auth_token: SecretStr | None = None
    multi_tenant: bool = False
    # Each connection's orq key comes from its URL's `config` query parameter (Smithery's HTTP hosting).
    query_config: bool = False
    # Allow-list of deployment keys; None means every deployment in the workspace.
    deployments: frozenset[str] | None = None
    # Allow-list of agent keys; None means every agent in the workspace.
    agents: frozenset[str] | None = None

    # -- limits (HTTP transports): one client must not exhaust the server for everyone ---------------
    # A Streamable HTTP session with no request in flight for this long is closed (its id then answers 404).
    session_idle_timeout: float = Field(900.0, gt=0, le=86_400)
    # Open Streamable HTTP sessions in all, and per client address (SSE: open streams per address).
    max_sessions: int = Field(1000, ge=1)
    max_sessions_per_client: int = Field(128, ge=1)
    # Open HTTP connections; past this uvicorn answers 503 (it is also kept below the open-file limit).
    max_connections: int = Field(1000, ge=8)
    # Seconds a client has to send a request's headers, and then its body; slower requests are dropped.
    request_timeout: float = Field(10.0, gt=0, le=300)
    # -- scaling (HTTP transport; see serving/workers.py and serving/http/event_stores.py) ------------
    # Server processes sharing the port; more than one implies `stateless`.
    workers: int = Field(1, ge=1, le=64)
    # Handshake-era requests each stand alone (no Mcp-Session-Id), so any process or replica may answer them.
    stateless: bool = False
    # Where resumable streams keep their events: "memory" (default), "off", or a redis:// URL shared by replicas.
    event_store: str = "memory"
    # How long a dropped stream stays worth resuming: a resume waits this long for a silent stream.
    resume_grace: float = Field(30.0, ge=0, le=30)

    @field_validator("allowed_hosts", "allowed_origins", "deployments", "agents", "expose", "toolsets", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return value

    @model_validator(mode="before")
    @classmethod
    def _stand_in_key(cls, values: Any) -> Any:
        """A placeholder where the key goes counts as no key, said why (a server that exits instead shows a
        GUI host's user only "Connection closed"); `orq-mcp check` refuses it (cli/main.py)."""
        key = values.get("api_key") if isinstance(values, dict) else None
        if isinstance(key, SecretStr):
            key = key.get_secret_value()
        if isinstance(key, str) and (stand_in := stand_in_for_key(key)):
            return {**values, "api_key": None, "api_key_stand_in": stand_in}
        return values

    @field_validator("environment", "contact_id")
    @classmethod
    def _sendable(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        value = value.strip()
        ascii_only = info.field_name == "contact_id"  # a header value; the environment travels in the JSON body
        if not 0 < len(value) <= MAX_NAME_CHARS or not all(_sendable_char(c, ascii_only) for c in value):
            kind = "printable ASCII characters" if ascii_only else "characters, none of them control characters"
            raise ValueError(f"must be 1 to {MAX_NAME_CHARS} {kind}")
        return value

    @field_validator("api_key", mode="before")
    @classmethod
    def _pasted_key(cls, value: Any) -> Any:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str):
            return check_pasted_key(value)
        return value

    @field_validator("deployments", "agents")
    @classmethod
    def _non_empty(cls, value: frozenset[str] | None, info: ValidationInfo) -> frozenset[str] | None:
        if value is not None and not value:
            raise ValueError(f"must name at least one {(info.field_name or '').removesuffix('s')} key")
        return value

    @field_validator("toolsets")
    @classmethod
    def _known_toolsets(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        unknown = [name for name in value if name not in (*TOOLSET_NAMES, "all")]
        if unknown or not value:
            named = f"{', '.join(repr(name) for name in unknown)}: no such toolset; " if unknown else ""
            raise ValueError(f"{named}name toolsets from {', '.join(TOOLSET_NAMES)}, or all")
        return TOOLSET_NAMES if "all" in value else tuple(name for name in TOOLSET_NAMES if name in value)

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.read_only and self.expose:
            raise ValueError("--expose adds tools that invoke deployments, which --read-only leaves out; pick one")
        if self.dynamic_toolsets and self.workers > 1:
            raise ValueError(
                "--dynamic-toolsets keeps each caller's toolsets in the process that enabled them, and --workers "
                "spreads a caller's requests over several: use one or the other (--toolsets names them for all)"
            )
        if self.workers > 1 and self.transport != "http":
            raise ValueError("--workers needs --transport http (an SSE or stdio connection lives in one process)")
        if self.transport == "stdio":
            if self.multi_tenant or self.query_config:
                raise ValueError("multi-tenant and query-config modes need --transport http (stdio has one client)")
            return self
        if not self.allow_remote and not is_loopback(self.host):
            raise ValueError(
                f"refusing to listen on {self.host}: other machines could reach the server and spend your orq "
                "credits. Pass --allow-remote (and set ORQ_MCP_AUTH_TOKEN) if that is what you want"
            )
        if self.query_config and self.transport != "http":
            raise ValueError("--query-config needs --transport http (the Streamable HTTP endpoint Smithery calls)")
        if self.multi_tenant and self.query_config:
            raise ValueError("choose one source of each caller's orq key: --multi-tenant or --query-config")
        if self.multi_tenant and self.auth_token is not None:
            raise ValueError("ORQ_MCP_AUTH_TOKEN and multi-tenant mode both use the Authorization header; choose one")
        return self

    @field_validator("auth_token")
    @classmethod
    def _strong_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_AUTH_TOKEN_CHARS:
            raise ValueError(
                f"must be at least {MIN_AUTH_TOKEN_CHARS} characters (a short token can be guessed); make one with "
                f"{MAKE_A_TOKEN}"
            )
        return value

    @field_validator("event_store")
    @classmethod
    def _event_store(cls, value: str) -> str:
        if value in ("memory", "off"):
            return value
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError('must be "memory", "off" or a redis://, rediss:// or unix:// URL')
        if importlib.util.find_spec("redis") is None:
            raise ValueError("a Redis event store needs the redis extra: pip install 'orq-mcp[redis]'")
        return value

    @property
    def sessionless(self) -> bool:
        """Whether handshake-era requests are served without sessions (always so with several workers)."""
        return self.stateless or self.workers > 1

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @classmethod
    def load(cls, env: Mapping[str, str], **overrides: Any) -> Settings:
        """Settings from `env`, with non-None `overrides` (command-line flags) taking precedence."""
        values: dict[str, Any] = {field: env[var] for var, field in ENV_VARS.items() if env.get(var, "").strip()}
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values)
        except ValidationError as exc:
            raise SettingsError(_describe(exc)) from None

    @property
    def per_caller_keys(self) -> bool:
        """Whether each caller brings its own orq key (the server's own key, if any, serves nobody)."""
        return self.multi_tenant or self.query_config

    def allows(self, key: str) -> bool:
        """Whether the deployment allow-list (ORQ_DEPLOYMENTS) lets agents see and invoke this deployment."""
        return self.deployments is None or key in self.deployments

    def allows_agent(self, key: str) -> bool:
        """Whether the agent allow-list (ORQ_MCP_AGENTS) lets agents see and invoke this agent."""
        return self.agents is None or key in self.agents

    def exposes(self, key: str) -> bool:
        """Whether --expose gives this deployment (or agent) a tool of its own."""
        return "all" in self.expose or key in self.expose

    @property
    def reachable_toolsets(self) -> tuple[str, ...]:
        """The toolsets some caller may have: every one when callers may enable them, else the offered ones."""
        return TOOLSET_NAMES if self.dynamic_toolsets else self.offered_toolsets

    @property
    def offered_toolsets(self) -> tuple[str, ...]:
        """The toolsets every caller starts with: the named ones, else the default (none, with dynamic toolsets)."""
        if self.toolsets is not None:
            return self.toolsets
        return () if self.dynamic_toolsets else DEFAULT_TOOLSETS

    @property
    def timeouts(self) -> Timeouts:
        return Timeouts(
            connect=self.connect_timeout, read=self.read_timeout, stream=self.stream_timeout, invoke=self.invoke_timeout
        )

    def stream_slots(self) -> StreamSlots:
        """The invocation caps, one set per server (shared by every tenant's client)."""
        return StreamSlots(total=self.max_streams, per_key=self.max_streams_per_key)

    @property
    def retry(self) -> RetryPolicy:
        return RetryPolicy(max_retries=self.max_retries)

    @property
    def request_defaults(self) -> RequestDefaults:
        return RequestDefaults(environment=self.environment, contact_id=self.contact_id)


def _sendable_char(char: str, ascii_only: bool) -> bool:
    if ascii_only:
        return " " <= char <= "~"
    return char.isprintable()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _describe(exc: ValidationError) -> str:
    names = {field: var for var, field in ENV_VARS.items()}
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        if not error["loc"]:  # a rule across settings: its message names them
            problems.append(error["msg"].removeprefix("Value error, "))
            continue
        field = str(error["loc"][0])
        flag = f"--{field.replace('_', '-')}" if field in FLAGGED else None
        label = " / ".join(part for part in (names.get(field), flag) if part) or field
        problems.append(f"{label}: {error['msg'].removeprefix('Value error, ')}")
    return "Invalid configuration: " + "; ".join(problems)
