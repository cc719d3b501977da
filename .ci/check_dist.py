"""The built wheel and sdist hold what users need and nothing else (run by .ci/release-checks.sh).

python .ci/check_dist.py DIST_DIR
"""

from __future__ import annotations

import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

# hatchling always adds .gitignore to an sdist (it decides what a rebuild from the sdist includes).
SDIST_TOP = {"orq_mcp", "README.md", "LICENSE", "CHANGELOG.md", "pyproject.toml", "PKG-INFO", ".gitignore"}
USER_EXTRAS = ("redis", "otel")
NEVER = ("tests/", "bench/", "clients/", ".ci/", "node_modules/", "__pycache__/", ".pyc")


def check(dist: Path) -> list[str]:
    problems: list[str] = []
    (sdist,) = dist.glob("*.tar.gz")
    (wheel,) = dist.glob("*.whl")
    with tarfile.open(sdist) as archive:
        names = [name.split("/", 1)[1] for name in archive.getnames() if "/" in name]
    top = {name.split("/", 1)[0] for name in names}
    problems += [f"sdist ships {extra!r}" for extra in sorted(top - SDIST_TOP)]
    problems += [f"sdist lacks {needed!r}" for needed in sorted(SDIST_TOP - top)]
    with zipfile.ZipFile(wheel) as archive:
        files = archive.namelist()
        metadata_name = next(name for name in files if name.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(metadata_name).decode())
    problems += [
        f"{kind} ships {name}"
        for kind, listed in (("sdist", names), ("wheel", files))
        for name in listed
        if any(part in name for part in NEVER)
    ]
    if not any(name.endswith(".dist-info/licenses/LICENSE") for name in files):
        problems.append("wheel lacks the LICENSE file")
    # Tools for working on orq-mcp are dependency groups (PEP 735); only these extras are for users.
    for requirement in metadata.get_all("Requires-Dist", []):
        marker = requirement.partition(";")[2]
        if "extra ==" in marker and not any(f"extra == {q}{name}{q}" in marker for name in USER_EXTRAS for q in "'\""):
            problems.append(f"the wheel's metadata requires {requirement!r}: a tool of ours, not a user's extra")
    if metadata["License-Expression"] != "MIT":
        problems.append(f"License-Expression is {metadata['License-Expression']!r}, not 'MIT'")
    if any(c.startswith("License ::") for c in metadata.get_all("Classifier", [])):
        problems.append("a deprecated License :: classifier is set (PEP 639: License-Expression only)")
    return problems


def main() -> int:
    problems = check(Path(sys.argv[1]))
    for problem in problems:
        print(f"check_dist: {problem}", file=sys.stderr)
    if not problems:
        print("check_dist: the sdist holds only the package and its documents; the wheel carries the license")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
