"""Server configuration: environment variables, overridden by command-line flags."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from orq_mcp.client import RetryPolicy, Timeouts

DEFAULT_BASE_URL = "https://api.orq.ai"
Transport = Literal["stdio", "http", "sse"]

# Environment variable -> setting. Flags use the same names (see cli.py).
ENV_VARS: dict[str, str] = {
    "ORQ_API_KEY": "api_key",
    "ORQ_BASE_URL": "base_url",
    "ORQ_MCP_TRANSPORT": "transport",
    "ORQ_MCP_HOST": "host",
    "ORQ_MCP_PORT": "port",
    "ORQ_MCP_PROGRESS_INTERVAL": "progress_interval",
    "ORQ_TIMEOUT": "read_timeout",
    "ORQ_STREAM_TIMEOUT": "stream_timeout",
    "ORQ_MAX_RETRIES": "max_retries",
}


class SettingsError(ValueError):
    """A setting has an invalid value; the message names the setting, never its value."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    api_key: SecretStr | None = None
    base_url: str = DEFAULT_BASE_URL
    transport: Transport = "stdio"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    sandbox: bool = False
    verbose: bool = False
    # Coalescing window for streamed text: at most one progress notification per interval.
    progress_interval: float = Field(0.05, ge=0, le=5)
    connect_timeout: float = Field(5.0, gt=0)
    read_timeout: float = Field(30.0, gt=0)
    stream_timeout: float = Field(300.0, gt=0)
    max_retries: int = Field(2, ge=0, le=10)

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
    def timeouts(self) -> Timeouts:
        return Timeouts(connect=self.connect_timeout, read=self.read_timeout, stream=self.stream_timeout)

    @property
    def retry(self) -> RetryPolicy:
        return RetryPolicy(max_retries=self.max_retries)


def _describe(exc: ValidationError) -> str:
    names = {field: var for var, field in ENV_VARS.items()}
    problems = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "settings"
        label = f"{names[field]} / --{field.replace('_', '-')}" if field in names else f"--{field.replace('_', '-')}"
        problems.append(f"{label}: {error['msg']}")
    return "Invalid configuration: " + "; ".join(problems)
