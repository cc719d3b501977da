"""What a tool's annotations tell a host about it: whether it only reads, spends, or writes."""

from __future__ import annotations

from mcp_types import ToolAnnotations

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=True)
# Invoking calls a paid model and is not idempotent; it changes nothing in the workspace though.
INVOKE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True)
# Writing feedback stores something in orq (not idempotent: each call adds one), and calls no model.
WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True)
