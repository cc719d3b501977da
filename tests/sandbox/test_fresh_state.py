"""The shared emulator is handed to each test fresh, and handed on fresh, whatever the test did to it.

Files run one per worker, each after the last; servers of a module-scoped fixture keep using the
session emulator between tests. A test that left it slow (a 3 s trickle) once made such a module's
200-chunk reply outlast its 20 s answer timeout in CI.
"""

from __future__ import annotations

import pytest

from orq_mcp.sandbox import EmulatorState, EmulatorThread, Fault
from tests.conftest import SESSION_CHUNK_DELAY, fresh_state


def slowed_and_faulted(state: EmulatorState) -> None:
    state.chunk_delay = 3.0
    state.add_fault(Fault("stream", "hang"))


def fail_half_way(state: EmulatorState) -> None:
    with fresh_state(state):
        slowed_and_faulted(state)
        raise RuntimeError("the test failed half way")


def test_a_test_that_fails_leaves_the_session_pace_and_no_faults(emulator: EmulatorThread) -> None:
    with pytest.raises(RuntimeError):
        fail_half_way(emulator.state)
    assert emulator.state.chunk_delay == SESSION_CHUNK_DELAY
    assert emulator.state.pending_faults == []


def test_a_test_that_passes_leaves_the_session_pace_and_no_faults(emulator: EmulatorThread) -> None:
    with fresh_state(emulator.state) as state:
        slowed_and_faulted(state)
    assert emulator.state.chunk_delay == SESSION_CHUNK_DELAY
    assert emulator.state.pending_faults == []


def test_a_test_finds_the_session_pace_whatever_came_before(emulator: EmulatorThread) -> None:
    emulator.state.chunk_delay = 3.0  # as a test written without `emulator_state` might leave it
    with fresh_state(emulator.state) as state:
        assert state.chunk_delay == SESSION_CHUNK_DELAY
