"""Generated images and speech as they reach the client: bounded inline data and safe links only.

Inline data is bounded in bytes: the images and audio of one result share ORQ_MCP_MAX_MEDIA_BYTES (decoded),
in order, and a piece past it is left out. A link is passed on only when it is an absolute http(s) URL: a
`file:` or `javascript:` link from a hostile upstream must not reach a client that might open it. What is left
out is described by a note, in the structured result and in the text the model reads, saying what was dropped,
why, and how to get it; the dropped URL itself is never repeated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from mcp_types import AudioContent, ImageContent, ResourceLink

from orq_mcp.orq.outputs import Invocation
from orq_mcp.orq.provider_answers import Media as Generated
from orq_mcp.surface.outputs import MediaBlock, Output

LINK_SCHEMES = frozenset({"http", "https"})
MAX_LINK_CHARS = 8192  # longer than any real (signed) storage URL; past it, a link is a payload, not an address
DEFAULT_MIME = {"image": "image/png", "audio": "audio/mpeg"}
Kind = Literal["image", "audio"]


@dataclass
class Media:
    """The structured description of each piece, and the blocks that go with it (in the same order)."""

    outputs: list[Output] = field(default_factory=list)
    blocks: list[MediaBlock] = field(default_factory=list)
    used: int = 0  # inline bytes attached so far


def media_of(invocation: Invocation, max_bytes: int) -> Media:
    """Each image, then each piece of speech, as a block: inline data within `max_bytes` in all, or a link
    (http(s) only; never fetched here); else a note."""
    media = Media()
    where = _where(invocation.completion.trace_id)
    pieces: list[tuple[Kind, list[Generated]]] = [("image", invocation.images), ("audio", invocation.audio)]
    for kind, generated in pieces:
        for number, piece in enumerate(generated, start=1):
            if piece.data is not None:
                _inline(media, kind, number, piece, max_bytes, where)
            elif piece.url is not None:
                _link(media, kind, number, piece, where)
    return media


def _inline(media: Media, kind: Kind, number: int, piece: Generated, limit: int, where: str) -> None:
    """Attach the piece if it fits what is left of the byte budget; else note why not."""
    data = piece.data or ""
    mime = piece.mime_type or DEFAULT_MIME[kind]
    size = base64_size(data)
    if media.used + size <= limit:
        media.used += size
        media.outputs.append(Output(type=kind, mime_type=mime, size_bytes=size))
        if kind == "image":
            media.blocks.append(ImageContent(type="image", data=data, mime_type=mime))
        else:
            media.blocks.append(AudioContent(type="audio", data=data, mime_type=mime))
        return
    taken = f", and the media before it took {media.used:,}" if media.used else ""
    note = (
        f"{kind.capitalize()} {number} ({mime}, {size:,} bytes) was not attached: the images and audio of one "
        f"result may take {limit:,} bytes in all (ORQ_MCP_MAX_MEDIA_BYTES){taken}. Find it in orq's traces "
        f"{where}, have the deployment return links instead, or raise ORQ_MCP_MAX_MEDIA_BYTES."
    )
    media.outputs.append(Output(type=kind, mime_type=mime, size_bytes=size, note=note))


def _link(media: Media, kind: Kind, number: int, piece: Generated, where: str) -> None:
    url = piece.url or ""
    problem = link_problem(url)
    if problem is None:
        media.outputs.append(Output(type=kind, url=url, mime_type=piece.mime_type))
        media.blocks.append(
            ResourceLink(type="resource_link", uri=url, name=f"{kind}-{number}", mime_type=piece.mime_type)
        )
        return
    note = (
        f"{kind.capitalize()} {number} was not passed on: orq gave {problem}, and only http and https links are "
        f"passed on. Find it in orq's traces {where}."
    )
    media.outputs.append(Output(type=kind, mime_type=piece.mime_type, note=note))


def link_problem(url: str) -> str | None:
    """Why `url` must not reach a client (what orq gave instead of an http(s) link), or None when it may."""
    if len(url) > MAX_LINK_CHARS:
        return f"a link of {len(url):,} characters"
    if any(char.isspace() or not char.isprintable() for char in url):
        return "a link with spaces or control characters in it"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "a link that is not a valid URL"
    if parts.scheme not in LINK_SCHEMES:
        return f"a '{parts.scheme[:20]}:' link" if parts.scheme else "a link without a scheme"
    if not parts.hostname:
        return "a link without a host"
    return None


def base64_size(data: str) -> int:
    """The decoded size of base64 `data`, without decoding it."""
    return len(data.rstrip("=")) * 3 // 4


def _where(trace_id: str | None) -> str:
    return f"(trace_id {trace_id})" if trace_id else "for this call"
