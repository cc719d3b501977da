"""What can be an orq API key: a placeholder standing in for one, a pasted key, a caller's key worth serving.

Read by the settings (ORQ_API_KEY) and by the tenant lookup (a caller's key), below both, so that every reader
judges a key the same way. No message here ever repeats the key itself: it may be a real key with a typo in it.
"""

from __future__ import annotations

import re

# Text that stands for a key without being one. Variable references that a client passed on unexpanded:
# `${ORQ_API_KEY}`, `$ORQ_API_KEY`, `%ORQ_API_KEY%` (Windows), `{{ORQ_API_KEY}}`, `${input:...}`.
UNEXPANDED = re.compile(r"\$\{[^{}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|%[A-Za-z_][A-Za-z0-9_]*%|\{\{[^{}]*\}\}")
# Example text copied as is: `<your key>`, or the placeholder of the docs and `orq-mcp config`.
EXAMPLE = re.compile(r"<[^<>]*>|your[-_ ]?(orq[-_ ]?)?(api[-_ ]?)?key", re.IGNORECASE)
KEY_SOURCE = "orq.ai: Settings > API Keys"

# orq's keys are `sk-orq-<key id>-<secret>` (the SDK's API-key and management-key docs: a 26-character ULID
# and a secret, about 100 characters) or, for keys made before those, JWTs (the API spec's bearerFormat),
# a few hundred characters. A caller's key longer than this, or with a character outside the bearer-token
# alphabet (RFC 6750), is no orq key: it is refused before anything is built for it, since what the server
# builds per key (its redactor) grows with the key's length. The shortest is the redactor's shortest secret.
MAX_KEY_CHARS = 1024
MIN_KEY_CHARS = 8
KEY_CHARACTERS = re.compile(r"[A-Za-z0-9._~+/=-]+")
KEY_ALPHABET = "letters, digits and - . _ ~ + / ="


def key_problem(key: str) -> str | None:
    """Why `key` cannot be an orq API key, or None when it could be one. Cheap for a key of any length."""
    if len(key) > MAX_KEY_CHARS:
        return f"it is {len(key):,} characters long; orq keys are at most {MAX_KEY_CHARS:,}"
    if len(key) < MIN_KEY_CHARS:
        return f"it is {len(key)} characters long; orq keys are longer"
    if not KEY_CHARACTERS.fullmatch(key):
        return f"it has characters no orq key has (keys use only {KEY_ALPHABET})"
    return None


def stand_in_for_key(value: str) -> str | None:
    """What `value` is when it stands for a key without being one (the value itself is never repeated:
    it may be a real key in angle brackets), or None."""
    key = value.strip()
    if UNEXPANDED.fullmatch(key):
        return "an unexpanded variable reference"
    if EXAMPLE.fullmatch(key):
        return "the example placeholder"
    return None


def stand_in_advice(stand_in: str) -> str:
    """What to do about a stand-in key, after "ORQ_API_KEY is {stand_in}"."""
    if stand_in.startswith("an unexpanded"):
        return (
            f", not a key: the program that started orq-mcp passed it on as written. Replace it with the key "
            f"itself ({KEY_SOURCE})"
        )
    return f", not a key. Replace it with your orq.ai API key ({KEY_SOURCE})"


def check_pasted_key(value: str) -> str:
    """The key without the whitespace a paste brings along; refused when broken over lines or spaces.

    The message never contains the value: it may be a real key with a typo in it.
    """
    key = value.strip()
    if any(char.isspace() for char in key):
        raise ValueError("contains spaces or line breaks inside it; paste the key again, on one line")
    return key
