"""Which CPythons CI tests: `claimed` (pyproject.toml's classifiers) and `found ROOT` (under a pyenv root).

python3 .ci/pythons.py claimed          -> "3.11 3.12 3.13 3.14"
python3 .ci/pythons.py found ~/.pyenv   -> one "3.X /path/to/bin/python3.X" line per minor version >= 3.11
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

OLDEST = (3, 11)
CLASSIFIER = re.compile(r"Programming Language :: Python :: (3\.\d+)")
RELEASE = re.compile(r"(3)\.(\d+)\.(\d+)")  # a plain CPython release: not 3.13.0t, pypy3.10-..., 3.14-dev


def claimed(pyproject: Path) -> list[str]:
    classifiers = tomllib.loads(pyproject.read_text())["project"]["classifiers"]
    return [m.group(1) for c in classifiers if (m := CLASSIFIER.fullmatch(c))]


def found(root: Path) -> dict[str, Path]:
    """The newest release of each minor version >= 3.11 under root/versions, with a working interpreter path."""
    newest: dict[tuple[int, int], tuple[int, Path]] = {}
    for folder in (root / "versions").glob("3.*"):
        match = RELEASE.fullmatch(folder.name)
        if not match:
            continue
        major, minor, patch = (int(part) for part in match.groups())
        interpreter = folder / "bin" / f"python{major}.{minor}"
        if (major, minor) < OLDEST or not interpreter.is_file():
            continue
        if (major, minor) not in newest or patch > newest[major, minor][0]:
            newest[major, minor] = (patch, interpreter)
    return {f"{major}.{minor}": path for (major, minor), (_, path) in sorted(newest.items())}


def main(argv: list[str]) -> int:
    if argv[:1] == ["claimed"] and len(argv) == 1:
        print(" ".join(claimed(Path("pyproject.toml"))))
        return 0
    if argv[:1] == ["found"] and len(argv) == 2:
        for minor, path in found(Path(argv[1])).items():
            print(minor, path)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
