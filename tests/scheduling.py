"""The order the suite runs in: files that hold slow tests first, the most slow tests first.

pytest-xdist (pyproject's addopts) hands each worker one whole file at a time (`--dist loadfile`, so a module's
servers start once), in collection order (`--no-loadscope-reorder`). Putting the files with the long timers
first starts them at once, side by side, and lets the many short files fill in around them; otherwise the
90-second generation could start last and run alone. Run without workers (`-n 0`), the order changes nothing a
test may rely on: each file's tests keep their own order.
"""

from __future__ import annotations

from collections import Counter

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    slow_tests = Counter(item.path for item in items if item.get_closest_marker("slow"))
    items.sort(key=lambda item: -slow_tests[item.path])  # stable: files stay whole, and the others in their order
