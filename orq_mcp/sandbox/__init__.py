"""A faithful local emulator of the orq.ai deployments and prompts API (``orq-mcp --sandbox`` and the tests).

This package is independent of the rest of ``orq_mcp`` and of ``mcp``.
"""

from .app import create_app
from .data import sample_state, sample_workspace
from .faults import Fault, FaultKind
from .serve import EmulatorThread, serve_emulator
from .state import EmulatorState, RequestRecord, SdkViolation, Workspace

__all__ = [
    "EmulatorState",
    "EmulatorThread",
    "Fault",
    "FaultKind",
    "RequestRecord",
    "SdkViolation",
    "Workspace",
    "create_app",
    "sample_state",
    "sample_workspace",
    "serve_emulator",
]
