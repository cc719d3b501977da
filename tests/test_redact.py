"""Redaction rules (orq/redact.py): runs of 12+ key characters, base64 forms, and text cut into pieces."""

from __future__ import annotations

import base64
import logging

import pytest

from orq_mcp.orq.redact import FRAGMENT, REPLACEMENT, RedactingFilter, Redactor

KEY = "sk-orq-canary-7f3b9c2e41d04a8b"


def test_the_whole_key_and_any_run_of_twelve_of_its_characters_are_redacted() -> None:
    redactor = Redactor([KEY])
    assert redactor.text(f"a {KEY} b") == f"a {REPLACEMENT} b"
    assert redactor.text(f"masked {KEY[:-6]}****** end") == f"masked {REPLACEMENT}****** end"
    assert redactor.text(f"tail {KEY[-FRAGMENT:]}.") == f"tail {REPLACEMENT}."
    short = KEY[5 : 5 + FRAGMENT - 1]
    assert redactor.text(f"just {short} here") == f"just {short} here"  # 11 characters are ordinary text


@pytest.mark.parametrize("prefix", ["", "B", "Be", "Bearer "])
def test_base64_forms_of_the_key_are_redacted(prefix: str) -> None:
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        encoded = encode((prefix + KEY).encode()).decode()
        scrubbed = Redactor([KEY]).text(encoded)
        assert REPLACEMENT in scrubbed
        assert len(scrubbed) < len(encoded)


def test_values_are_redacted_everywhere_keys_included() -> None:
    value = {KEY: [KEY, {"note": f"x{KEY}"}], "n": 3, "ok": None}
    assert Redactor([KEY]).value(value) == {REPLACEMENT: [REPLACEMENT, {"note": f"x{REPLACEMENT}"}], "n": 3, "ok": None}


@pytest.mark.parametrize("size", [1, 2, 5, 11, 12, 13, 40])
def test_a_stream_cut_anywhere_is_redacted_like_the_whole_text(size: int) -> None:
    text = f"hello {KEY} and {KEY[:15]}.. then {KEY[-14:]} bye {KEY}"
    stream = Redactor([KEY]).stream()
    pieces = [stream.feed(text[i : i + size]) for i in range(0, len(text), size)]
    joined = "".join(pieces) + stream.flush()
    assert joined == Redactor([KEY]).text(text)
    assert all(KEY[i : i + FRAGMENT] not in joined for i in range(len(KEY) - FRAGMENT + 1))


def test_without_secrets_nothing_is_held_back() -> None:
    stream = Redactor([]).stream()
    assert stream.feed("abc") == "abc"
    assert stream.flush() == ""
    assert not Redactor(["short"])  # shorter than any real key: not treated as a secret


def test_the_log_filter_redacts_messages_arguments_and_bearer_tokens() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "key %s and Bearer othertoken123", (KEY,), None)
    RedactingFilter(Redactor([KEY])).filter(record)
    assert record.getMessage() == f"key {REPLACEMENT} and Bearer {REPLACEMENT}"
