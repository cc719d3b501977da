"""What a generated image may bring into a tool result, at default settings, through a real server and client.

Inline image data is bounded in bytes (ORQ_MCP_MAX_MEDIA_BYTES, per result): past it the image is left out with a
note saying so and how to get it. A link is passed on as a `resource_link` only when it is http(s); any other scheme
(file:, javascript:, data: without base64, ...) becomes a note, and the URL itself never reaches the client.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp_types import CallToolResult, ImageContent, ResourceLink, TextContent
from orq_ai_sdk.models import DeploymentInvokeResponseBody

from orq_mcp.config.settings import DEFAULT_MAX_MEDIA_BYTES, Settings, SettingsError
from orq_mcp.sandbox import EmulatorState, EmulatorThread
from orq_mcp.sandbox.faults import Fault
from tests.conftest import API_KEY, held_open
from tests.helpers import deployment_variant
from tests.processes import MODULE, server_env

SEVEN_MB = 7_000_000  # a large generated image (a 4K PNG); 9.3 MB once base64-encoded
ONE_MB = 1_000_000
DEFAULT_RESULT_CHARS = Settings().max_result_chars


@pytest.fixture
async def client(emulator: EmulatorThread, emulator_state: EmulatorState, tmp_path: Path) -> AsyncIterator[Client]:
    """A real `python -m orq_mcp` over stdio, at default settings, against the emulator."""
    env = server_env(emulator.base_url)
    params = StdioServerParameters(command=MODULE[0], args=MODULE[1:], env=env)
    with (tmp_path / "stderr.log").open("w") as errlog:
        async with held_open(Client(stdio_client(params, errlog=errlog))) as connected:
            yield connected
    assert "Traceback" not in (tmp_path / "stderr.log").read_text()


async def draw(client: Client, key: str = "sticker-maker") -> CallToolResult:
    # Each sample image deployment names its one variable differently; give both.
    inputs = {"subject": "a red bike", "product_name": "a red bike"}
    result = await client.call_tool("invoke_deployment", {"key": key, "inputs": inputs})
    assert not result.is_error, result.content
    return result


def texts(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def images(result: CallToolResult) -> list[ImageContent]:
    return [block for block in result.content if isinstance(block, ImageContent)]


async def test_a_7_mb_image_is_left_out_with_a_note_at_default_settings(
    client: Client, emulator_state: EmulatorState
) -> None:
    emulator_state.add_fault(Fault("invoke", "huge_response", size=SEVEN_MB))
    result = await draw(client)
    assert images(result) == []
    wire = len(result.model_dump_json())
    assert wire < 2 * DEFAULT_RESULT_CHARS, wire  # was a 9.3 MB image block
    assert result.structured_content is not None
    (output,) = result.structured_content["outputs"]
    assert output["size_bytes"] == SEVEN_MB
    assert set(output) == {"type", "mime_type", "size_bytes", "note"}
    note = output["note"]
    assert "not attached" in note
    assert f"{SEVEN_MB:,} bytes" in note
    assert f"{DEFAULT_MAX_MEDIA_BYTES:,}" in note
    assert "ORQ_MCP_MAX_MEDIA_BYTES" in note
    assert "trace" in note  # where to find it
    assert note in texts(result)  # the model reads it too


async def test_an_image_under_the_cap_is_attached_whole(client: Client, emulator_state: EmulatorState) -> None:
    emulator_state.add_fault(Fault("invoke", "huge_response", size=ONE_MB))
    result = await draw(client)
    (image,) = images(result)
    assert image.mime_type == "image/png"
    assert len(base64.b64decode(image.data)) == ONE_MB
    assert result.structured_content is not None
    (output,) = result.structured_content["outputs"]
    assert output["size_bytes"] == ONE_MB
    assert "note" not in output


async def test_images_share_the_cap_in_order(client: Client, emulator_state: EmulatorState) -> None:
    """Three 1.5 MB images: the first two fit the default 3.75 MiB; the third is left out, saying so."""
    emulator_state.add_fault(Fault("invoke", "huge_response", size=1_500_000))
    with deployment_variant(emulator_state, "sticker-maker", "sticker-triple", numImages=3):
        result = await draw(client, "sticker-triple")
    assert len(images(result)) == 2
    assert result.structured_content is not None
    outputs = result.structured_content["outputs"]
    assert ["note" in output for output in outputs] == [False, False, True]
    assert outputs[2]["note"].startswith("Image 3 ")
    assert "the media before it took 3,000,000" in outputs[2]["note"]


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "javascript:alert(document.cookie)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://files.example/image.png",
        "//cdn.example/no-scheme.png",
    ],
)
async def test_a_link_that_is_not_http_is_not_passed_on(
    client: Client, emulator_state: EmulatorState, url: str
) -> None:
    emulator_state.add_fault(Fault("invoke", "image_url", body=url))
    result = await draw(client, "product-photo")
    assert not any(isinstance(block, ResourceLink) for block in result.content)
    assert url not in result.model_dump_json()
    assert result.structured_content is not None
    (output,) = result.structured_content["outputs"]
    assert "url" not in output
    assert "only http and https links are passed on" in output["note"]
    assert output["note"] in texts(result)


@pytest.mark.parametrize("url", ["https://cdn.example/a.png", "HTTP://cdn.example/b.png"])
async def test_an_http_link_is_a_resource_link(client: Client, emulator_state: EmulatorState, url: str) -> None:
    emulator_state.add_fault(Fault("invoke", "image_url", body=url))
    result = await draw(client, "product-photo")
    (link,) = [block for block in result.content if isinstance(block, ResourceLink)]
    assert link.uri == url


def test_the_media_cap_is_a_setting_with_a_floor() -> None:
    assert Settings().max_media_bytes == DEFAULT_MAX_MEDIA_BYTES == 3_932_160  # 5 MiB once base64-encoded
    assert Settings.load({"ORQ_MCP_MAX_MEDIA_BYTES": "0"}).max_media_bytes == 0  # never inline
    with pytest.raises(SettingsError, match="ORQ_MCP_MAX_MEDIA_BYTES"):
        Settings.load({"ORQ_MCP_MAX_MEDIA_BYTES": "-1"})


def test_an_image_url_fault_needs_its_url() -> None:
    with pytest.raises(ValueError, match="needs the URL"):
        Fault("invoke", "image_url")


@pytest.mark.parametrize(
    "fault", [Fault("invoke", "huge_response", size=ONE_MB), Fault("invoke", "image_url", body="file:///x")]
)
def test_the_emulators_odd_images_are_still_answers_the_sdk_reads(
    emulator: EmulatorThread, emulator_state: EmulatorState, fault: Fault
) -> None:
    emulator_state.add_fault(fault)
    response = httpx2.post(
        f"{emulator.base_url}/v2/deployments/invoke",
        json={"key": "sticker-maker", "inputs": {"subject": "a bell"}},
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=30,
    )
    assert response.status_code == 200
    (choice,) = DeploymentInvokeResponseBody.model_validate(response.json()).choices
    url = choice.message.url  # type: ignore[union-attr]
    if fault.kind == "image_url":
        assert url == "file:///x"
    else:
        assert len(base64.b64decode(url.removeprefix("data:image/png;base64,"))) == ONE_MB
