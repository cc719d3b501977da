"""Redaction rules (orq/redact.py): runs of 12+ key characters, base64 forms, and text cut into pieces."""

from __future__ import annotations

import base64
import logging
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orq_mcp.orq.redact import FRAGMENT, REPLACEMENT, RedactingFilter, Redactor, secret_forms

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
def test_a_stream_cut_anywhere_is_redacted_as_the_stream_rule_says(size: int) -> None:
    text = f"hello {KEY} and {KEY[:15]}.. then {KEY[-14:]} bye {KEY}"
    stream = Redactor([KEY]).stream()
    pieces = [text[i : i + size] for i in range(0, len(text), size)]
    passed = [stream.feed(piece) for piece in pieces]
    joined = "".join(passed)
    assert passed == stream_rule(pieces, [KEY])
    assert all(KEY[i : i + FRAGMENT] not in joined for i in range(len(KEY) - FRAGMENT + 1))
    if size >= len(text):  # one piece: the whole text's redaction
        assert joined == Redactor([KEY]).text(text)


def test_without_secrets_nothing_is_changed() -> None:
    stream = Redactor([]).stream()
    assert stream.feed("abc") == "abc"
    assert not Redactor(["short"])  # shorter than any real key: not treated as a secret


def test_a_piece_ending_in_key_characters_is_passed_on_whole_at_once() -> None:
    stream = Redactor([KEY]).stream()
    assert stream.feed("your key: sk-orq") == "your key: sk-orq"  # 6 characters of the key: ordinary text
    # The next piece makes it a run: the client has seen at most 11 of its characters, then [redacted].
    assert stream.feed(KEY[6:] + " done") == f"{REPLACEMENT} done"
    assert stream.feed(" more") == " more"


def test_a_run_reaching_the_end_of_a_piece_is_redacted_at_once_and_its_continuation_never_shown() -> None:
    stream = Redactor([KEY]).stream()
    assert stream.feed(f"key {KEY[:20]}") == f"key {REPLACEMENT}"
    assert stream.feed(KEY[20:24]) == ""  # the same run, already replaced
    assert stream.feed(KEY[24:] + ". next") == ". next"
    assert stream.feed(f" {KEY[:FRAGMENT]}") == f" {REPLACEMENT}"  # a new run gets its own


def test_the_log_filter_redacts_messages_arguments_and_bearer_tokens() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "key %s and Bearer othertoken123", (KEY,), None)
    RedactingFilter(Redactor([KEY])).filter(record)
    assert record.getMessage() == f"key {REPLACEMENT} and Bearer {REPLACEMENT}"


# Property tests: the sampled scan finds exactly what looking at every window would -------------------------------

SECRETS = [KEY, "eyJhbGciOiJIUzI1NiJ9.eyJ3b3Jrc3BhY2UiOiJhY21lIn0.c2lnbmF0dXJl-_x"]


def every_window(text: str, secrets: list[str]) -> list[tuple[int, int]]:
    """The rule, spelled out: each window of FRAGMENT characters that is a piece of a secret or of its base64 forms
    (either alphabet), merged where windows overlap or touch."""
    forms = set(secret_forms(secrets))
    normal = str.maketrans("-_", "+/")
    pieces = {f.translate(normal)[i : i + FRAGMENT] for f in forms for i in range(len(f) - FRAGMENT + 1)}
    plain = text.translate(normal)
    spans: list[tuple[int, int]] = []
    for i in range(len(plain) - FRAGMENT + 1):
        if plain[i : i + FRAGMENT] in pieces:
            if spans and i <= spans[-1][1]:
                spans[-1] = (spans[-1][0], i + FRAGMENT)
            else:
                spans.append((i, i + FRAGMENT))
    return spans


def _forms(secret: str) -> list[str]:
    """The secret and its base64 encodings after other bytes, either alphabet, as they would appear in a text."""
    forms = [secret]
    for prefix in ("", "x", "xy"):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            forms.append(encode((prefix + secret).encode()).decode()[4:-4])
    return forms


@st.composite
def texts_with_pieces(draw: st.DrawFn) -> str:
    """Ordinary text, pieces of the secrets (plain and base64), and characters next to them that are not."""
    secret = draw(st.sampled_from(SECRETS))
    encoded = base64.b64encode(secret.encode()).decode()
    parts = st.one_of(
        st.text(alphabet=st.characters(codec="utf-8"), max_size=30),
        st.builds(
            lambda s, a, n: s[a : a + n], st.sampled_from([secret, encoded]), st.integers(0, 60), st.integers(1, 40)
        ),
        st.sampled_from(["-", "_", "+", "/", "é", "\n", " "]),
    )
    return "".join(draw(st.lists(parts, max_size=12)))


@settings(max_examples=400, deadline=None)
@given(texts_with_pieces())
def test_the_scan_finds_exactly_the_windows_of_the_rule(text: str) -> None:
    assert list(Redactor(SECRETS).spans(text)) == every_window(text, SECRETS)


def stream_rule(pieces: list[str], secrets: list[str]) -> list[str]:
    """What a stream passes on for each piece, the rule spelled out on the whole text so far: the piece at once,
    with the part of each key run (`every_window`) that falls in it replaced; a run whose [redacted] already ends
    what was passed on goes on unseen."""
    passed, text, open_run = [], "", False
    for piece in pieces:
        start, text = len(text), text + piece
        if not piece:
            passed.append("")
            continue
        runs = [(s, e) for s, e in every_window(text, secrets) if e > start]
        parts, position = [], start
        for s, e in runs:
            parts.append(text[position : max(s, start)])
            if not (s <= start and open_run):
                parts.append(REPLACEMENT)
            position = e
        parts.append(text[position:])
        open_run = bool(runs) and runs[-1][1] == len(text)
        passed.append("".join(parts))
    return passed


def cut(text: str, cuts: list[int]) -> list[str]:
    pieces, position = [], 0
    for size in cuts * (len(text) // max(1, sum(cuts)) + 1):
        pieces.append(text[position : position + size])
        position += size
    return [*pieces, text[position:]]


@settings(max_examples=300, deadline=None)
@given(texts_with_pieces(), st.lists(st.integers(0, 25), min_size=1, max_size=8))
def test_a_stream_cut_at_random_passes_each_piece_on_at_once_by_the_rule(text: str, cuts: list[int]) -> None:
    """Nothing is held back: each piece comes out as the rule says the moment it goes in, and a piece holding no
    run of the text so far comes out as it went in."""
    pieces = cut(text, cuts)
    stream = Redactor(SECRETS).stream()
    passed = [stream.feed(piece) for piece in pieces]
    assert passed == stream_rule(pieces, SECRETS)
    so_far = ""
    for piece, out in zip(pieces, passed, strict=True):
        start, so_far = len(so_far), so_far + piece
        if all(e <= start for _, e in every_window(so_far, SECRETS)):
            assert out == piece


@settings(max_examples=300, deadline=None)
@given(texts_with_pieces(), st.lists(st.integers(0, 25), min_size=1, max_size=8))
def test_what_a_stream_cut_at_random_passes_on_never_holds_twelve_key_characters_in_a_row(
    text: str, cuts: list[int]
) -> None:
    stream = Redactor(SECRETS).stream()
    joined = "".join(stream.feed(piece) for piece in cut(text, cuts))
    assert every_window(joined, SECRETS) == []
    for form in (f for s in SECRETS for f in _forms(s)):
        assert not any(form[i : i + FRAGMENT] in joined for i in range(len(form) - FRAGMENT + 1))
    if cuts[0] >= len(text):  # one piece: the whole text's redaction
        assert joined == Redactor(SECRETS).text(text)


@settings(max_examples=200, deadline=None)
@given(texts_with_pieces())
def test_no_run_of_twelve_key_characters_survives(text: str) -> None:
    scrubbed = Redactor(SECRETS).text(text)
    for form in (f for s in SECRETS for f in _forms(s)):
        assert not any(form[i : i + FRAGMENT] in scrubbed for i in range(len(form) - FRAGMENT + 1))


@pytest.mark.parametrize("length", [12, 100, 1024, 15_000])
def test_keys_of_any_length_are_found_in_long_text_at_any_offset(length: int) -> None:
    key = (string.ascii_letters * (length // 52 + 1))[:length]
    redactor = Redactor([key])
    filler = "lorem ipsum " * 20_000
    for offset in (0, 1, 5, 6, 7, len(filler) // 2 + 3):
        start = min(length // 3, length - FRAGMENT)
        text = filler[:offset] + key[start : start + FRAGMENT] + filler[offset:]
        assert redactor.text(text) == filler[:offset] + REPLACEMENT + filler[offset:]


@pytest.mark.parametrize(
    "query",
    [
        "?orqApiKey=abcdefgh1234",
        "?orq%41piKey=abcdefgh1234",
        "?x=1&%63onfig=eyJhYmMiOiIxMjMifQ%3D%3D",
        "?ORQ%5fAPI%5FKEY=k",
    ],
)
def test_the_log_filter_reads_query_names_decoded(query: str) -> None:
    line = f'127.0.0.1:5 - "POST /mcp{query}&other=kept HTTP/1.1" 200'
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, line, None, None)
    RedactingFilter(Redactor([]), ["config", "orqApiKey", "ORQ_API_KEY"]).filter(record)
    name = query.rpartition("=")[0].rpartition("&")[2].lstrip("?")
    assert record.getMessage() == line.replace(query.rpartition("=")[2], REPLACEMENT, 1)
    assert f"{name}={REPLACEMENT}&other=kept" in record.getMessage()
