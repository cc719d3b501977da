"""Where the tests find the repository, their recorded data and their snapshots, wherever a test file sits."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
DATA = TESTS / "data"
SNAPSHOTS = TESTS / "snapshots"
