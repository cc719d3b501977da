"""The package's layout as the Development map describes it: every module listed, none that is gone."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "orq_mcp"


def map_block() -> str:
    """The map: the fenced block that lays out orq_mcp/ (in the README, or wherever the docs moved it)."""
    for document in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        found = re.search(r"^```\n(orq_mcp/\n.*?)^```$", document.read_text(encoding="utf-8"), re.S | re.M)
        if found:
            return found.group(1)
    raise AssertionError("no map of orq_mcp/ in README.md or docs/")


def mapped_modules(block: str) -> set[str]:
    """Paths the map names, from its indentation: `orq_mcp/surface/` then `  toolsets/` then `    deployments.py`."""
    found: set[str] = set()
    folders: list[str] = []
    for line in block.splitlines():
        name = line.split()[0] if line.strip() else ""
        if not name:
            continue
        depth = (len(line) - len(line.lstrip())) // 2
        if depth == 0:
            folders = [name.rstrip("/")]
            continue
        folders = folders[:depth]
        if name.endswith("/"):
            folders.append(name.rstrip("/"))
        elif name.endswith(".py"):
            found.add("/".join([*folders, name]))
    return found


def test_the_map_lists_every_module_and_no_other() -> None:
    modules = {
        path.relative_to(ROOT).as_posix()
        for path in PACKAGE.rglob("*.py")
        if path.name != "__init__.py" or path.parent == PACKAGE
    }
    mapped = mapped_modules(map_block())
    assert sorted(modules - mapped) == [], "modules the map does not list"
    assert sorted(mapped - modules) == [], "modules the map lists that do not exist"
