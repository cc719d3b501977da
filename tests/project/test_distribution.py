"""The distribution files agree with the package: one version, the registry name, the variables the server reads.

Their formats are checked by the ecosystems' own tools in CI (.ci/release-checks.sh: the MCP Registry's schema;
clients/bundle-check.sh: `mcpb validate`); these tests catch drift between them and the code, in the suite.
"""

from __future__ import annotations

import json
import re
import tomllib
from importlib.metadata import requires, version
from typing import Any

from packaging.requirements import Requirement

import orq_mcp
from orq_mcp.config.settings import ENV_VARS
from tests.paths import REPO

ROOT = REPO


def load(name: str) -> dict[str, Any]:
    return json.loads((ROOT / name).read_text())


def test_one_version_everywhere() -> None:
    server, manifest = load("server.json"), load("manifest.json")
    assert version("orq-mcp") == orq_mcp.__version__  # the wheel's metadata comes from orq_mcp/__init__.py
    assert server["version"] == orq_mcp.__version__
    assert [p["version"] for p in server["packages"]] == [orq_mcp.__version__]
    assert manifest["version"] == orq_mcp.__version__
    assert f"## [{orq_mcp.__version__}]" in (ROOT / "CHANGELOG.md").read_text()


def test_registry_entry_names_this_package_and_the_readme_claims_it() -> None:
    server = load("server.json")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (package,) = server["packages"]
    assert (package["registryType"], package["identifier"]) == ("pypi", project["name"])
    assert package["transport"] == {"type": "stdio"}
    # The registry checks ownership of a PyPI package by this marker in its description (the README).
    assert f"mcp-name: {server['name']}" in (ROOT / "README.md").read_text()


def test_registry_variables_are_the_ones_the_server_reads() -> None:
    (package,) = load("server.json")["packages"]
    variables = {v["name"]: v for v in package["environmentVariables"]}
    assert set(variables) <= set(ENV_VARS)
    assert variables["ORQ_API_KEY"]["isSecret"] is True
    assert variables["ORQ_API_KEY"]["isRequired"] is True
    assert not any(v.get("isSecret") for name, v in variables.items() if name != "ORQ_API_KEY")


def test_bundle_passes_its_user_config_to_variables_the_server_reads() -> None:
    manifest = load("manifest.json")
    server, user_config = manifest["server"], manifest["user_config"]
    assert (ROOT / server["entry_point"]).is_file()
    env = server["mcp_config"]["env"]
    assert set(env) <= set(ENV_VARS)
    referenced = {name: re.fullmatch(r"\$\{user_config\.(\w+)\}", value) for name, value in env.items()}
    assert all(referenced.values()), env
    assert {match.group(1) for match in referenced.values() if match} <= set(user_config)
    key_field = user_config[referenced["ORQ_API_KEY"].group(1)]  # type: ignore[union-attr]
    assert key_field["sensitive"] is True
    assert key_field["required"] is True


def test_the_published_metadata_names_no_tool_of_ours() -> None:
    """Test, bench and framework tools are dependency groups (PEP 735): no user's resolver ever sees them."""
    published = [Requirement(text) for text in requires("orq-mcp") or []]
    extras = {
        str(r.marker).split("extra == ")[1].strip("\"'") for r in published if r.marker and "extra" in str(r.marker)
    }
    assert extras == {"redis", "otel"}
    names = {r.name.lower() for r in published}
    for group in tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"].values():
        for tool in {Requirement(text).name.lower() for text in group} - {"redis", "opentelemetry-sdk"}:
            assert tool not in names, tool
