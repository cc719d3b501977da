"""`{{variable}}` placeholders in orq prompt messages (reference §7)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from orq_mcp.orq.models import Message

# Spaces inside the braces and dotted names are undocumented; accept them rather than miss a variable.
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}")


def message_texts(messages: Iterable[Message]) -> Iterator[str]:
    """Every piece of text in the messages: string contents and `text` parts."""
    for message in messages:
        content = message.content
        if isinstance(content, str):
            yield content
        elif isinstance(content, list):
            for part in content:
                text = part.get("text") if isinstance(part, dict) else None
                if isinstance(text, str):
                    yield text


def find_variables(messages: Iterable[Message]) -> list[str]:
    """Placeholder names in order of first appearance, without duplicates."""
    seen: dict[str, None] = {}
    for text in message_texts(messages):
        for name in PLACEHOLDER.findall(text):
            seen.setdefault(name, None)
    return list(seen)
