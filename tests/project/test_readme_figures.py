"""Every figure the README (and CONTRIBUTING.md, docs/, clients/README.md) states is what the code or the running
sandbox says, and a number nobody checks fails the test.

Three ways a figure is held:
- generated parts (`<!-- generated: NAME -->`, tests/readme_blocks.py): the sizes measured on `orq-mcp --sandbox`
  over stdio, the live examples, the `orq-mcp check` example, the map of the code, the benchmark tables. Stale
  parts fail; `ORQ_MCP_UPDATE_SNAPSHOTS=1` rewrites them;
- phrases (`figures`): each a sentence of the document with its numbers computed from the settings' defaults, the
  modules' constants, the sandbox or another test's bounds; a stale number fails, and the message says what the
  sentence should read;
- the accounting (`test_every_number_is_checked`): what remains of each document once the generated parts, the
  examples other tests check and the checked phrases are taken out may hold no digit, and no number word, that
  `NOT_FIGURES` does not explain (an address, a protocol code, an identifier in an example).
Timings from the benchmarks are held to bench/RESULTS.md and bench/workers.json, never measured here.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, KNOWN_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
from sse_starlette import EventSourceResponse

from bench import common as bench_common
from bench import run as bench_run
from orq_mcp import __version__
from orq_mcp.config import keys as credentials
from orq_mcp.config.settings import DEFAULT_MAX_MEDIA_BYTES, DEFAULT_TOOLSETS, ENV_VARS, MIN_AUTH_TOKEN_CHARS, Settings
from orq_mcp.orq import client as orq_client
from orq_mcp.orq import redact, slots
from orq_mcp.sandbox import EmulatorThread
from orq_mcp.serving import workers
from orq_mcp.serving.http import connections, memory_events, nesting, throttle
from orq_mcp.serving.http import resume as events
from orq_mcp.surface import edge, naming, outputs, results, tool_errors
from orq_mcp.surface import tenants as tenant
from orq_mcp.surface.toolsets import BY_NAME
from tests import readme_blocks as blocks
from tests.e2e.test_long_generations import NINETY_SECONDS
from tests.processes import server_env
from tests.serving.test_scale_events import ANSWER_CHARS, ANSWERS, RSS_SLACK
from tests.surface.test_toolsets import DEFAULT_TOOLS_LIST_BUDGET
from tests.surface.test_workspace_surface import PER_DEPLOYMENT_TOOL_BUDGET, TOOLS_LIST_BUDGET

ROOT = blocks.ROOT
README = ROOT / "README.md"
CONTRIBUTING = ROOT / "CONTRIBUTING.md"
DEVELOPMENT = ROOT / "docs" / "development.md"
PERFORMANCE = ROOT / "docs" / "performance.md"
CLIENTS = ROOT / "clients" / "README.md"
DOCS = (README, CONTRIBUTING, DEVELOPMENT, PERFORMANCE, CLIENTS)
UPDATE = bool(os.environ.get("ORQ_MCP_UPDATE_SNAPSHOTS"))
MIB = 2**20


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def flat(text: str) -> str:
    """Whitespace as single spaces: a phrase may be wrapped anywhere in the Markdown source."""
    return " ".join(text.split())


# What the sandbox answers (the real server over stdio) and what `orq-mcp check` prints against it --------------------


@pytest.fixture(scope="module")
def sandbox() -> blocks.Sandbox:
    return asyncio.run(blocks.measure_sandbox())


@pytest.fixture(scope="module")
def check_output(emulator: EmulatorThread) -> str:
    env = server_env(emulator.base_url)
    done = subprocess.run(
        [sys.executable, "-m", "orq_mcp", "check"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return blocks.check_example(done.stdout, emulator.base_url, Settings().base_url)


def generated(sandbox: blocks.Sandbox, check_output: str) -> dict[Path, dict[str, str]]:
    """Every generated part, by document."""
    return {
        README: {
            "sizes": blocks.sizes_table(sandbox, TOOLS_LIST_BUDGET, PER_DEPLOYMENT_TOOL_BUDGET),
            "toolsets": blocks.toolsets_table(sandbox),
            "exposed-tool": blocks.exposed_tool_example(sandbox),
            "missing-inputs": blocks.error_example(sandbox.errors["missing"]),
            "not-found": blocks.error_example(sandbox.errors["not-found"]),
            "check": check_output,
            "prompt-config": blocks.prompt_config_example(sandbox.prompt_config),
        },
        DEVELOPMENT: {"map": blocks.module_map()},
        PERFORMANCE: {
            "bench-summary": blocks.bench_summary(read(ROOT / "bench" / "RESULTS.md")),
            "workers": blocks.workers_table(json.loads(read(ROOT / "bench" / "workers.json"))),
        },
    }


def test_the_generated_parts_are_current(sandbox: blocks.Sandbox, check_output: str) -> None:
    stale = []
    for path, wanted in generated(sandbox, check_output).items():
        text = read(path)
        found = blocks.blocks_in(text)
        assert set(found) == set(wanted), f"{path.name}: generated parts {sorted(found)}, expected {sorted(wanted)}"
        if UPDATE:
            path.write_text(blocks.with_blocks(text, wanted), encoding="utf-8")
            continue
        for name, body in wanted.items():
            same = blocks.same_but_timing(found[name], body) if name == "check" else found[name] == body
            if not same:
                stale.append(f"{path.relative_to(ROOT)}: {name}")
    assert not stale, f"stale generated parts {stale}: regenerate with ORQ_MCP_UPDATE_SNAPSHOTS=1 and review the diff"


# Phrases: each figure, computed --------------------------------------------------------------------------------------


def _pyproject() -> dict[str, Any]:
    return tomllib.loads(read(ROOT / "pyproject.toml"))


def claimed_pythons() -> list[str]:
    prefix = "Programming Language :: Python :: "
    return [c.removeprefix(prefix) for c in _pyproject()["project"]["classifiers"] if re.fullmatch(r".*3\.\d+", c)]


def minimum_python() -> str:
    return _pyproject()["project"]["requires-python"].removeprefix(">=")


def readme_test_command() -> str:
    return read(README).split("## Running the tests", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]


def pip_floor() -> str:
    found = re.search(r'"pip>=([\d.]+)"', readme_test_command())
    assert found, "the README's test command no longer upgrades pip"
    return found[1]


def xdist_workers() -> str:
    """How many pytest-xdist workers the suite runs on (pyproject.toml's `addopts`: `-n N`)."""
    addopts: list[str] = _pyproject()["tool"]["pytest"]["ini_options"]["addopts"]
    return addopts[addopts.index("-n") + 1]


def limit_of(sandbox: blocks.Sandbox, tool: str) -> dict[str, Any]:
    limit: dict[str, Any] = sandbox.tool(tool)["inputSchema"]["properties"]["limit"]
    return limit


def limit_range(sandbox: blocks.Sandbox, tool: str) -> str:
    limit = limit_of(sandbox, tool)
    return f"{limit['minimum']}-{limit['maximum']}"


def mib(size: int) -> str:
    return f"{size / MIB:g} MiB"


def conformance_versions() -> list[str]:
    found = re.search(r"const DEFAULT_VERSIONS = \[(.*?)\]", read(ROOT / "clients" / "conformance" / "run.mjs"))
    assert found
    return re.findall(r'"([\d-]+)"', found[1])


def node_version() -> str:
    found = re.search(r"^NODE_VERSION=([\d.]+)", read(ROOT / "clients" / "run-checks.sh"), re.M)
    assert found
    return found[1]


def node_sdk_versions() -> tuple[str, str]:
    """The protocol revisions the TypeScript SDK check speaks: the v1 handshake's and the one v2 is pinned to."""
    script = read(ROOT / "clients" / "node-stdio-check.mjs")
    handshake = re.search(r'negotiated: \(\) => "([\d-]+)', script)
    pinned = re.search(r'pin: "([\d-]+)"', script)
    assert handshake, "no v1 handshake revision in node-stdio-check.mjs"
    assert pinned, "no pinned revision in node-stdio-check.mjs"
    return handshake[1], pinned[1]


def npm_packages() -> int:
    """The packages `npm ci` installs for the client checks: every entry of the lock but the root."""
    return len([name for name in json.loads(read(ROOT / "clients" / "package-lock.json"))["packages"] if name])


def words(n: int) -> str:
    return ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"][n]


def figures(sandbox: blocks.Sandbox) -> list[tuple[Path, str]]:
    """(document, phrase) for every figure stated outside the generated parts, its numbers computed."""
    defaults = Settings()
    pythons = claimed_pythons()
    media = DEFAULT_MAX_MEDIA_BYTES
    image_mb = 7  # an image past the default media budget, and what base64 would make of it
    tools = len(BY_NAME["deployments"].tool_names)  # the default toolset's
    legacy, modern = HANDSHAKE_PROTOCOL_VERSIONS[-1], MODERN_PROTOCOL_VERSIONS[-1]
    assert image_mb * 10**6 > media
    deployments = len(sandbox.all_deployments)
    prompts = len(sandbox.prompts["prompts"])
    retry = orq_client.RetryPolicy()
    statuses = sorted(orq_client._RETRYABLE_STATUSES)
    versions = conformance_versions()
    (grace_ceiling,) = [bound.le for bound in Settings.model_fields["resume_grace"].metadata if hasattr(bound, "le")]
    return [
        # README: what it is, how to start and install
        (README, f"- {words(tools).capitalize()} tools: `list_deployments`"),
        (README, f"the default `tools/list` stays within {DEFAULT_TOOLS_LIST_BUDGET:,} characters (a test holds it)"),
        (README, f"with a sample workspace of {deployments} deployments and {prompts} prompts."),
        (
            README,
            f"orq-mcp needs Python {minimum_python()} or newer; CI tests it on CPython "
            f"{', '.join(pythons[:-1])} and {pythons[-1]}",
        ),
        (README, f"{pythons[-1]} is Debian unstable's build"),
        # .ci/run: the full suite on the machine's python3 (the oldest claimed) and on the newest claimed.
        (README, f"(the full suite on {pythons[0]}\nand on {pythons[-1]}, the newest, which `uvx` picks;"),
        (README, f"(`uvx orq-mcp@{__version__}` pins one)"),
        (README, f"On a fresh machine with Python {minimum_python()} or newer"),
        (README, f'python -m pip install --upgrade "pip>={pip_floor()}"'),
        # README: the tools
        (README, f"### `list_deployments(limit={limit_of(sandbox, 'list_deployments')['default']}, cursor=None)`"),
        (README, f"`limit` is {limit_range(sandbox, 'list_deployments')}."),
        (README, f"### `list_prompts(limit={limit_of(sandbox, 'list_prompts')['default']}, cursor=None)`"),
        (README, f"newest first (`limit` {limit_range(sandbox, 'list_prompts')})"),
        (README, f"text cut to {results.CITATION_CHARS} characters"),
        (README, f"its dimensions and first {outputs.EMBEDDING_PREVIEW} values"),
        (README, f"(default {media:,} bytes, {mib(media)}: {mib(media * 4 // 3)} once base64-encoded"),
        (README, f"at most {naming.MAX_LENGTH} characters, a stable {suffix_length()}-character suffix"),
        (README, f"`ORQ_MCP_CACHE_TTL` seconds (default {defaults.cache_ttl:g})"),
        (README, f"(protocol {legacy} and earlier)"),
        (README, f"{modern} clients receive the same events"),
        (
            README,
            f"(default {defaults.max_result_chars:,} characters, about {defaults.max_result_chars // 4:,} tokens)",
        ),
        (README, f"(a {image_mb} MB image is left out with a note, not sent as a {image_mb * 4 / 3:.1f} MB block)"),
        # README: configuration (the tables' defaults are held by test_every_default_in_the_tables_is_wired_in)
        (README, f"(below the {orq_client.POOL_LIMITS.max_connections}-connection pool"),
        (README, f"({mib(media)}, {mib(media * 4 // 3)} in base64: the Claude API's per-image limit)"),
        (README, f"over a cap a call waits up to {slots.DEFAULT_WAIT:g} s"),
        (README, f"retried on {', '.join(map(str, statuses))} and connection failures"),
        (README, f"honouring `Retry-After` up to {retry.max_retry_after:g} s"),
        # README: deploying
        (README, f"gives the calls in flight {connections.SHUTDOWN_GRACE:g} s to finish"),
        (README, f"kills one still running {workers.STOP_TIMEOUT:g} s later"),
        (
            README,
            f"bounded per stream ({events.MAX_EVENTS_PER_STREAM:,} events, "
            f"{mib(memory_events.MAX_STREAM_BYTES)}), in total ({events.MAX_EVENTS:,} events, "
            f"{mib(memory_events.MAX_BYTES)}) and by age ({events.EVENT_TTL / 60:g} minutes)",
        ),
        (
            README,
            f"{ANSWERS} answers of {ANSWER_CHARS // 10**6} MB stay within the store's {mib(memory_events.MAX_BYTES)} "
            f"plus what a busy process adds (a test holds the growth under {mib(memory_events.MAX_BYTES + RSS_SLACK)})",
        ),
        (README, f"an address gets the same {throttle.FAILURE_BURST} wrong tokens"),
        (README, f"ORQ_MCP_INVOKE_TIMEOUT ({defaults.invoke_timeout:g} s)"),
        (README, f"carries a ping every {EventSourceResponse.DEFAULT_PING_INTERVAL} s even while the model is silent"),
        (README, f"idle timeout above {EventSourceResponse.DEFAULT_PING_INTERVAL} s is enough"),
        (
            README,
            f"The tests run a {NINETY_SECONDS.lasts:.0f}-second generation, silent for {NINETY_SECONDS.stall:.0f} s",
        ),
        (README, f"(default {defaults.resume_grace:g}, at most {grace_ceiling:g})"),
        (README, f"seconds a dropped stream stays worth resuming (0-{grace_ceiling:g})"),
        # README: security
        (README, f"any run of {redact.FRAGMENT} or more of its consecutive characters"),
        (README, f"quote at most {tool_errors.MAX_QUOTED} characters of what the client sent"),
        (README, f"no text of a protocol error passes {edge.MAX_ERROR_TEXT:,} characters"),
        (README, f"{credentials.MIN_KEY_CHARS} to {credentials.MAX_KEY_CHARS:,} characters"),
        (README, f"over {connections_header_kib()} KiB are refused with 400"),
        (
            README,
            f"kept for the {tenant.MAX_TENANTS} most recent callers and at most {tenant.MAX_KEPT_KEY_CHARS:,} "
            "characters",
        ),
        (README, f"`ORQ_MCP_AUTH_TOKEN` must be at least {MIN_AUTH_TOKEN_CHARS} characters"),
        (README, f"After {throttle.FAILURE_BURST} refused requests an address gets 429"),
        (README, f"earns {throttle.FAILURES_PER_MINUTE:g} attempts a minute back"),
        (README, f"**Messages nest at most {nesting.MAX_DEPTH} levels deep**"),
        (README, f"{nesting.MAX_DEPTH} is what the MCP SDK's JSON parser reads"),
        (README, f"`ORQ_MCP_RESUME_GRACE` seconds ({defaults.resume_grace:g} by default"),
        (README, f"kept under {connections.FD_SHARE_FOR_CLIENTS * 4:g}/4 of the open-file limit"),
        (README, f"The image is built in {words(dockerfile_stages())} stages"),
        (README, f"listens on {defaults.host} by default"),
        (README, f"http://{defaults.host}:{defaults.port}/mcp"),
        (README, f"$(openssl rand -hex {token_bytes(2)})"),
        (README, f"print(secrets.token_urlsafe({token_bytes(4 / 3)}))"),
        (README, f"answered 503 with `Retry-After: {busy_retry_after()}`"),
        (README, f"{words(deploy_shapes()).capitalize()} shapes, from simplest to largest"),
        # README: the rest
        (README, f"{words(len(list((ROOT / 'examples').glob('*_agent.py')))).capitalize()} are tested in CI"),
        (
            README,
            f"`langchain-mcp-adapters` (up to {langchain_ceiling()}) requires the MCP SDK 1.x, while orq-mcp is "
            f"built on {mcp_major()}.x",
        ),
        (README, f"It needs Node.js {node_version().split('.')[0]} or newer"),
        (README, f"`nvm install {node_version().split('.')[0]}`"),
        (README, f"`--port {defaults.port + 1}` or `ORQ_MCP_PORT={defaults.port + 1}`"),
        (README, f"**`port {defaults.port} on {defaults.host} is already in use`.**"),
        # CONTRIBUTING.md
        (CONTRIBUTING, f"With Python {minimum_python()} or newer"),
        (CONTRIBUTING, f'python -m pip install --upgrade "pip>={pip_floor()}"'),
        (CONTRIBUTING, f"which pip reads from {pip_floor()} on"),
        (CONTRIBUTING, f"pytest-xdist runs it on {xdist_workers()} workers"),
        # clients/README.md
        (CLIENTS, f"it installs Node {node_version()} into `.ci/node`"),
        (CLIENTS, f"every server scenario at {', '.join(versions[:-1])} and {versions[-1]}"),
        (CLIENTS, f"`@modelcontextprotocol/sdk`, {node_sdk_versions()[0]} handshake)"),
        (CLIENTS, f"pinned {node_sdk_versions()[1]})"),
        (CLIENTS, f"These checks download Node and ~{round(npm_packages(), -1)} npm packages"),
        (CLIENTS, f"(with Node {node_version().split('.')[0]} first on `PATH`"),
        # docs/performance.md
        (PERFORMANCE, f"`--workers N` and {words(balanced_replicas())} replicas behind HAProxy"),
        (PERFORMANCE, f"({bench_common.PACED_PIECES} pieces, {bench_common.PACED_DELAY * 1000:g} ms apart)"),
        (PERFORMANCE, f"at {' and '.join(map(str, sorted(bench_run.QUICK.streamed_levels)))} concurrent calls"),
    ]


def suffix_length() -> int:
    """How long the suffix is that tells two colliding tool names apart."""
    names = naming.unique_names(["support-triage", "support_triage"])
    (suffixed,) = [name for name in names.values() if name != "support_triage"]
    return len(suffixed.rsplit("_", 1)[1])


def dockerfile_stages() -> int:
    return len(re.findall(r"^FROM ", read(ROOT / "Dockerfile"), re.M))


def token_bytes(chars_per_byte: float) -> int:
    """The random bytes the README's token recipes ask for, when they make a token the server accepts."""
    random_bytes = 32
    assert random_bytes * chars_per_byte >= MIN_AUTH_TOKEN_CHARS
    return random_bytes


def busy_retry_after() -> int:
    found = re.search(r"Retry-After: (\d+)", read(ROOT / "orq_mcp" / "serving" / "http" / "connections.py"))
    assert found
    return int(found[1])


def deploy_shapes() -> int:
    """The columns of the README's table of deployment shapes, after its row labels."""
    header = read(README).split("**The two protocol eras.**", 1)[1].split("\n|", 1)[1].split("\n", 1)[0]
    return len([cell for cell in header.split("|") if cell.strip()])


def langchain_ceiling() -> str:
    found = re.search(
        r"langchain-mcp-adapters is left out: up to ([\d.]+) it needs mcp < 2", read(ROOT / "pyproject.toml")
    )
    assert found
    return found[1]


def mcp_major() -> str:
    found = re.search(r'"mcp>=(\d+)\.', read(ROOT / "pyproject.toml"))
    assert found
    return found[1]


def balanced_replicas() -> int:
    rows = json.loads(read(ROOT / "bench" / "workers.json"))["rows"]
    (row,) = [r["configuration"] for r in rows if "HAProxy" in r["configuration"]]
    return int(row.split()[0])


def connections_header_kib() -> int:
    """The request line and headers allowed, in KiB (uvicorn's h11 limit as the command line sets it)."""
    run_py = read(ROOT / "orq_mcp" / "serving" / "http" / "run.py")
    found = re.search(r"h11_max_incomplete_event_size=(\d+) \* 1024", run_py)
    assert found
    return int(found[1])


def test_each_figure_is_what_the_code_says(sandbox: blocks.Sandbox) -> None:
    texts = {path: flat(read(path)) for path in DOCS}
    missing = [
        f"{path.relative_to(ROOT)}: {phrase!r}" for path, phrase in figures(sandbox) if flat(phrase) not in texts[path]
    ]
    assert not missing, "these sentences no longer read as the code says:\n" + "\n".join(missing)


# The defaults in the README's configuration tables --------------------------------------------------------------------

ROW = re.compile(r"^\| `(ORQ_[A-Z_]+)` \|(.*)\|$", re.MULTILINE)
# A row up to its meaning: `| `ORQ_X` | flag | default |` or `| `ORQ_X` | default |`.
ROW_HEAD = re.compile(r"^\| `ORQ_[A-Z_]+` \|(?:[^|]*\|){1,2}(?=[^|]*\|$)", re.MULTILINE)


def table_defaults() -> dict[str, str]:
    """Each configuration table row's default cell, by variable (the column after the flag's, when there is one)."""
    found = {}
    for variable, rest in ROW.findall(read(README)):
        cells = [cell.strip() for cell in rest.split("|")]
        found[variable] = cells[1] if len(cells) == 3 else cells[0]
    return found


# How the tables write a default that is not a plain value, and why.
WORDED_DEFAULTS = {
    "ORQ_DEPLOYMENTS": "all",  # no allow-list: every deployment
    "ORQ_MCP_AGENTS": "all",  # no allow-list: every agent
    "ORQ_MCP_TOOLSETS": f"`{','.join(DEFAULT_TOOLSETS)}`",  # unset: the default toolsets
    "ORQ_MCP_ALLOWED_HOSTS": "loopback names",  # nothing extra: the loopback names the HTTP guard always accepts
    "ORQ_MCP_ALLOWED_ORIGINS": "loopback origins",
}


def written(value: Any) -> str:
    if value is None or value == ():
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int):
        return f"`{value}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    return f"`{getattr(value, 'get_secret_value', lambda: value)()}`"


def test_every_default_in_the_tables_is_wired_in() -> None:
    shown = table_defaults()
    assert set(shown) == set(ENV_VARS), f"not in the README's tables: {set(ENV_VARS) - set(shown)}"
    defaults = Settings()
    wired = {var: WORDED_DEFAULTS.get(var) or written(getattr(defaults, field)) for var, field in ENV_VARS.items()}
    assert shown == wired
    # Where a table says `0` switches something off, 0 is a value the setting takes.
    assert Settings(progress_interval=0, cache_ttl=0, max_media_bytes=0)


# Accounting: nothing numeric left unexplained ------------------------------------------------------------------------

LIVE_EXAMPLE = re.compile(r"<!-- live: .*? -->\n```json\n.*?\n```", re.S)
HAPROXY = re.compile(r"HAProxy, as the tests run it.*?\n```\n(.*?)```", re.S)
NUMBER = re.compile(
    r"(?<![\w.-])\d+(?:[.,]\d+)*(?![\w])|\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"twenty|hundred|thousand|twice|half)\b",
    re.I,
)


def unexplained(path: Path, phrases: list[str]) -> list[str]:
    text = blocks.GENERATED.sub("", read(path))
    text = LIVE_EXAMPLE.sub("", text)  # tests/project/test_readme.py calls each tool and compares
    if path == README:
        text = HAPROXY.sub("", text)  # tests/scale_tools.py runs exactly this configuration
        text = ROW_HEAD.sub("|", text)  # the variable, flag and default: test_every_default_in_the_tables_is_wired_in
    text = flat(text)
    for phrase in phrases:
        text = text.replace(flat(phrase), " ")
    for pattern, _reason in NOT_FIGURES.get(path, []) + NOT_FIGURES_ANYWHERE:
        text = re.sub(pattern, " ", text)
    return [f"{m.group(0)!r} in …{text[max(0, m.start() - 60) : m.end() + 40]}…" for m in NUMBER.finditer(text)]


STATUS = r"\b(?:200|400|401|403|404|408|421|429|503)\b"
# (pattern, why it is not a figure to check here). Each pattern matches only what its reason covers.
NOT_FIGURES: dict[Path, list[tuple[str, str]]] = {
    README: [
        (
            STATUS,
            "an HTTP status answered, each asserted where it is produced: test_exposure.py, test_attacks_http.py, "
            "test_scale_health.py, test_protocol_abuse.py, test_faults.py",
        ),
        (r"`-32602`|`-32700`", "JSON-RPC error codes, asserted in test_protocol_abuse.py and test_server.py"),
        (r"still exits 2 without a key|`check` exits 1 with the reason", "exit statuses, asserted in test_commands.py"),
        (r"PEP 668", "a standard's number"),
        (
            r"\(0: as fast as|`0` turns caching|`0`: never inline",
            "zero switching a setting off (the table test checks each setting takes 0)",
        ),
        (r"if two keys would collide", "not a count"),
        (r"would be charged twice", "not a count"),
        (
            r"The two protocol eras|the two protocol eras",
            "MCP's handshake era and 2026-07-28, the versions checked below",
        ),
        (r"--host 0\.0\.0\.0", "the any-address, in an example command"),
        (r"--workers 4\b", "an example command's value"),
        (r"redis://host:6379/0", "an example Redis URL (Redis's own default port and database)"),
        (r"`sk-abc…1234\*\*\*\*`", "an example of a masked key"),
        (r"http://proxy\.example\.com:3128", "an example proxy URL"),
    ],
    CONTRIBUTING: [
        (r"PEP 735", "a standard's number"),
        (r"`-n 0`|pytest -n 0 ", "pytest-xdist's own flag for no workers (the tests in this process)"),
    ],
    CLIENTS: [
        (r"\(issue #5\)", "an issue number"),
        (r"on free 127\.0\.0\.1 ports", "the loopback address the checks bind (clients/run-checks.sh)"),
    ],
}
# Anywhere: an environment flag switched on in a command, and a protocol revision MCP defines.
NOT_FIGURES_ANYWHERE: list[tuple[str, str]] = [
    (r"\b[A-Z_]+=1\b", "a flag switched on"),
    (r"|".join(map(re.escape, KNOWN_PROTOCOL_VERSIONS)), "a protocol revision MCP defines (mcp_types.version)"),
]


def test_every_number_is_checked(sandbox: blocks.Sandbox) -> None:
    by_doc: dict[Path, list[str]] = {path: [] for path in DOCS}
    for path, phrase in figures(sandbox):
        by_doc[path].append(phrase)
    found = {path.relative_to(ROOT).as_posix(): unexplained(path, phrases) for path, phrases in by_doc.items()}
    found = {path: numbers for path, numbers in found.items() if numbers}
    assert not found, "numbers no test checks (add a phrase to figures(), or explain it in NOT_FIGURES):\n" + "\n".join(
        f"{path}: {number}" for path, numbers in found.items() for number in numbers
    )
