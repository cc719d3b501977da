"""How orq-mcp is installed: dependency floors, the lock file, and the Dockerfile's locked install.

No Docker engine runs here (nor in CI), so the Dockerfile is checked in two ways: its structure (two stages, a
locked install, an unprivileged user, a health check), and its own commands run on this machine: the build
stage's `uv sync` lines into a fresh environment from a copy of exactly what it COPYs, then the image's CMD
from that environment, and the HEALTHCHECK against it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from importlib.metadata import requires
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

from tests.paths import REPO
from tests.processes import free_port, server_env, stop_process

ROOT = REPO
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
UV = [sys.executable, "-m", "uv"]  # the uv of the test dependency group, pinned like the Dockerfile's
Instruction = tuple[str, str]


def floors(requirements: list[str]) -> dict[str, Version]:
    """Each requirement's lowest allowed version (`>=` or `==`), by normalised name, across all its markers."""
    found: dict[str, Version] = {}
    for text in requirements:
        requirement = Requirement(text)
        if requirement.marker is not None and "extra" in str(requirement.marker):
            continue
        for spec in requirement.specifier:
            if spec.operator in (">=", "==", "~="):
                name = requirement.name.lower().replace("_", "-")
                found[name] = max(found.get(name, Version(spec.version)), Version(spec.version))
    return found


def test_our_floors_are_no_lower_than_what_mcp_requires() -> None:
    """A floor below mcp's claims a version that cannot be installed with it (pydantic 2.11 where mcp needs 2.12).

    Compared with the installed mcp's metadata, every marker's floor taken (anyio 4.9 below Python 3.14 and 4.10
    from it count as 4.10): when a new mcp raises one, this fails and ours is raised with it.
    """
    ours = floors(PYPROJECT["project"]["dependencies"])
    theirs = floors(requires("mcp") or [])
    shared = sorted(ours.keys() & theirs.keys())
    assert {"pydantic", "anyio", "starlette", "uvicorn", "httpx2"} <= set(shared), shared
    lower = {name: f"ours {ours[name]} < mcp's {theirs[name]}" for name in shared if ours[name] < theirs[name]}
    assert not lower, lower


# uv.lock ------------------------------------------------------------------------------------------------------------


def uv(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*UV, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)


def test_ci_runs_the_readmes_test_command_verbatim() -> None:
    section = (ROOT / "README.md").read_text().split("## Running the tests", 1)[1]
    command = section.split("```bash\n", 1)[1].split("```", 1)[0].strip().splitlines()
    assert command[0] == "python3 -m venv .venv && . .venv/bin/activate"
    assert "--group test" in command[1]
    assert command[1] in (ROOT / ".ci" / "run").read_text().splitlines()


def test_one_uv_version_for_the_image_the_bundle_and_the_tests() -> None:
    (pin,) = [pin for group in PYPROJECT["dependency-groups"].values() for pin in group if pin.startswith("uv==")]
    version = pin.removeprefix("uv==")
    assert f'pip install --no-cache-dir "uv=={version}"' in (ROOT / "Dockerfile").read_text()
    assert f"UV_VERSION={version}\n" in (ROOT / "clients" / "bundle-check.sh").read_text()


def test_the_lock_is_in_step_with_pyproject(tmp_path: Path) -> None:
    checked = uv("lock", "--check", "--offline", cwd=ROOT)
    assert checked.returncode == 0, checked.stderr  # after changing dependencies: run `uv lock`, commit uv.lock
    # The check can fail: a raised floor the lock was not made for.
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy(ROOT / name, tmp_path / name)
    stale = (tmp_path / "pyproject.toml").read_text().replace('"jinja2>=3.1"', '"jinja2>=3.1.5"')
    (tmp_path / "pyproject.toml").write_text(stale)
    assert uv("lock", "--check", "--offline", cwd=tmp_path).returncode != 0


# The Dockerfile -----------------------------------------------------------------------------------------------------


def dockerfile_stages() -> list[list[Instruction]]:
    """The Dockerfile's instructions, continuation lines joined, split into stages at each FROM."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    stages: list[list[Instruction]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            stages.append([])
        stages[-1].append((word.upper(), rest.strip()))
    return stages


def arguments(instruction: str) -> list[str]:
    return json.loads(instruction) if instruction.startswith("[") else shlex.split(instruction)


def test_the_dockerfile_installs_the_locked_set_in_a_build_stage_and_runs_unprivileged() -> None:
    build, final = dockerfile_stages()
    assert build[0] == ("FROM", "python:3.12-slim AS build")
    assert final[0] == ("FROM", "python:3.12-slim")  # the same base: the environment's interpreter path holds
    runs = [rest for word, rest in build if word == "RUN"]
    syncs = [run for run in runs if run.startswith("uv sync")]
    assert len(syncs) == 2  # dependencies in a layer of their own, then the package
    assert all("--locked" in run and "--no-default-groups" in run for run in syncs)
    (uv_pin,) = [pin for group in PYPROJECT["dependency-groups"].values() for pin in group if pin.startswith("uv==")]
    assert f'pip install --no-cache-dir "{uv_pin}"' in runs
    # The final stage: the environment from the build stage, no installer, not root, a health check on /healthz.
    assert ("COPY", "--from=build /app/.venv /app/.venv") in final
    words = [word for word, _ in final]
    assert "RUN" not in words[words.index("COPY") :]
    (user,) = [rest for word, rest in final if word == "USER"]
    assert user not in ("root", "0")
    (health,) = [rest for word, rest in final if word == "HEALTHCHECK"]
    assert "/healthz" in health
    assert all(option in health for option in ("--interval=", "--timeout=", "--retries="))
    # What the build copies is what .dockerignore lets through.
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    for word, rest in build:
        if word == "COPY":
            for source in arguments(rest)[:-1]:
                assert (ROOT / source).exists(), source
                assert f"!{source}" in ignore or f"!{source}/" in ignore, source


def env_of(stage: list[Instruction]) -> dict[str, str]:
    return dict(item.split("=", 1) for word, rest in stage if word == "ENV" for item in shlex.split(rest))


def test_the_dockerfiles_commands_install_start_and_pass_the_health_check(tmp_path: Path) -> None:
    """The build stage's `uv sync` lines, the CMD and the HEALTHCHECK, run here as the image would run them."""
    build, final = dockerfile_stages()
    app, environment = tmp_path / "app", tmp_path / "venv"
    app.mkdir()
    for word, rest in build:  # exactly what the build copies, nothing more
        if word == "COPY":
            *sources, _ = arguments(rest)
            for source in sources:
                copy = shutil.copytree if (ROOT / source).is_dir() else shutil.copy
                copy(ROOT / source, app / source)
    # The image's environment path is /app/.venv; here a fresh one, on this interpreter, with uv on PATH.
    build_env = {**os.environ, **env_of(build), "UV_PROJECT_ENVIRONMENT": str(environment), "UV_PYTHON": sys.executable}
    build_env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{build_env['PATH']}"
    started = time.monotonic()
    for word, rest in build:
        if word == "RUN" and rest.startswith("uv "):
            done = subprocess.run(rest, shell=True, cwd=app, env=build_env, capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, (rest, done.stderr)
    installed = time.monotonic() - started
    shutil.rmtree(app / "orq_mcp")  # the final stage has no source tree: the package must be in the environment
    python = environment / "bin" / "python"
    assert subprocess.run([python, "-c", "import pytest"], capture_output=True, check=False).returncode != 0
    version = subprocess.run([environment / "bin" / "orq-mcp", "--version"], capture_output=True, text=True)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("orq-mcp ")

    port = free_port()
    run_env = server_env(key=None, **{**env_of(final), "PORT": str(port)})
    run_env["PATH"] = run_env["PATH"].replace("$PATH", os.environ["PATH"]).replace("/app/.venv", str(environment))
    (cmd,) = [arguments(rest) for word, rest in final if word == "CMD"]
    (health,) = [rest for word, rest in final if word == "HEALTHCHECK"]
    probe = arguments(health.split(" CMD ", 1)[1])
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(cmd, cwd=tmp_path, env=run_env, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 30
        while (checked := subprocess.run(probe, env=run_env, capture_output=True, check=False)).returncode != 0:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, checked.stderr
            time.sleep(0.2)
    finally:
        stop_process(server)
    assert subprocess.run(probe, env=run_env, capture_output=True, check=False).returncode != 0  # down: unhealthy
    assert "serving http on http://0.0.0.0:" in log.read_text()
    print(f"locked install: {installed:.1f} s")
