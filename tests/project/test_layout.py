"""The package's layout as docs/development.md maps it: the map is generated from the modules' docstrings
(tests/readme_blocks.py `module_map`, held current by tests/project/test_readme_figures.py), so every module must have
one to be listed, and the map then lists every module and none that is gone."""

from __future__ import annotations

from pathlib import Path

from tests import readme_blocks as blocks

PACKAGE = blocks.ROOT / "orq_mcp"


def test_every_module_says_what_it_is_so_the_map_lists_it() -> None:
    unsaid = [
        path.relative_to(blocks.ROOT).as_posix()
        for path in sorted(PACKAGE.rglob("*.py"))
        if "__pycache__" not in path.parts and path.name != "__init__.py" and not blocks.summary(path)
    ]
    assert unsaid == [], "modules without a docstring, which the map would leave out"


def test_the_map_names_each_module_in_its_folder() -> None:
    generated = blocks.module_map()
    for path in sorted(PACKAGE.rglob("*.py")):
        if "__pycache__" in path.parts or path.name == "__init__.py":
            continue
        folder = path.parent.relative_to(blocks.ROOT).as_posix()
        section = generated.split(f"### `{folder}/`", 1)
        assert len(section) == 2, f"no section for {folder}/"
        assert f"- `{path.name}`:" in section[1].split("\n### ", 1)[0], f"{folder}/{path.name} is not mapped"


def test_the_package_is_the_map_root() -> None:
    assert Path("orq_mcp") in [Path(name) for name in blocks.MAP_ROOTS]


# The tests mirror the package: each test file sits in the folder of the part it tests; tests/ itself holds only the
# helpers those folders share (CONTRIBUTING.md).
TEST_FOLDERS = {"orq", "config", "surface", "serving", "cli", "sandbox", "e2e", "project"}


def test_each_test_file_sits_in_the_folder_of_its_part() -> None:
    tests = blocks.ROOT / "tests"
    assert [path.name for path in sorted(tests.glob("test_*.py"))] == [], "move these under tests/<part>/"
    folders = {path.parent.name for path in tests.glob("*/test_*.py")}
    assert folders <= TEST_FOLDERS, f"test folders the layout does not name: {sorted(folders - TEST_FOLDERS)}"
    for folder in TEST_FOLDERS:
        assert (tests / folder / "__init__.py").exists(), f"tests/{folder} is not a package"
