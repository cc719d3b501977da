"""Names every major MCP client accepts: `[a-z0-9_]`, starting with a letter, at most 48 characters.

Names must stay stable while the workspace changes, so a suffix is derived from the original
key alone (never from its position in a list), and a key that is already a valid name keeps it.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable

MAX_LENGTH = 48
_SUFFIX_LENGTH = 7  # "_" + 6 hex digits
_INVALID = re.compile(r"[^a-z0-9]+")


def slug(text: str) -> str:
    name = _INVALID.sub("_", text.lower()).strip("_") or "deployment"
    return name if name[0].isalpha() else f"d_{name}"


def _suffixed(name: str, original: str) -> str:
    digest = hashlib.sha1(original.encode(), usedforsecurity=False).hexdigest()[:6]
    return f"{name[: MAX_LENGTH - _SUFFIX_LENGTH]}_{digest}"


def unique_names(originals: Iterable[str], reserved: Iterable[str] = ()) -> dict[str, str]:
    """Map each original (a deployment key, a prompt name) to a valid, unique tool-style name."""
    originals = list(dict.fromkeys(originals))
    taken = set(reserved)
    slugs = {original: slug(original) for original in originals}
    counts = Counter(slugs.values())
    names: dict[str, str] = {}
    for original, name in slugs.items():
        shared = counts[name] > 1 and name != original  # the key that already is this name keeps it
        if shared or name in taken or len(name) > MAX_LENGTH:
            name = _suffixed(name, original)
        names[original] = name
    return names
