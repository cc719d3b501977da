"""Unit tests of orq_mcp/surface/fit.py: text, lists and JSON values kept within a character budget."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import pytest

from orq_mcp.surface import fit
from orq_mcp.surface.fit import MIN_STRING, compact_json, fit_count, fit_json, fit_text, shrink_strings

HINT = "Ask for less."


# -- fit_text ---------------------------------------------------------------------------------------------------


def test_text_that_fits_is_unchanged() -> None:
    text = "a" * 500
    assert fit_text(text, 500, HINT) == text


def test_text_one_over_the_limit_is_cut_to_exactly_the_limit() -> None:
    text = "a" * 501
    cut = fit_text(text, 500, HINT)
    assert len(cut) == 500
    assert cut.startswith("a" * 100)
    assert cut != text


def test_the_notice_gives_the_size_the_limit_and_the_hint() -> None:
    cut = fit_text("b" * 12_345, 1000, HINT)
    assert cut.endswith(f"[orq-mcp cut this result: it has 12,345 characters, the limit is 1,000. {HINT}]")


def test_the_cut_keeps_the_start_of_the_text() -> None:
    text = "".join(chr(ord("a") + n % 26) for n in range(5000))
    cut = fit_text(text, 1000, HINT)
    notice_at = cut.index("\n\n[orq-mcp cut")
    assert cut[:notice_at] == text[:notice_at]
    assert notice_at == 1000 - len(cut[notice_at:])


def test_announced_names_the_whole_results_limit() -> None:
    cut = fit_text("c" * 5000, 1000, HINT, announced=20_000)
    assert "the limit is 20,000." in cut
    assert "the limit is 1,000." not in cut
    assert len(cut) == 1000  # the text still gets only its own part


def test_announced_does_not_cut_text_that_fits() -> None:
    assert fit_text("short", 10, HINT, announced=5) == "short"


def test_a_limit_smaller_than_the_notice_gives_the_notice_alone() -> None:
    cut = fit_text("d" * 5000, 10, HINT, announced=1000)
    assert cut == f"\n\n[orq-mcp cut this result: it has 5,000 characters, the limit is 1,000. {HINT}]"


# -- fit_count --------------------------------------------------------------------------------------------------


def render(items: Sequence[int]) -> str:
    return json.dumps(list(items))


def test_a_list_that_fits_is_counted_whole() -> None:
    items = list(range(10))
    assert fit_count(items, render, len(render(items))) == 10


def test_the_count_is_the_largest_prefix_that_fits() -> None:
    items = [10**n for n in range(12)]  # growing items: the prefix sizes are all different
    for limit in range(len(render(items[:1])), len(render(items)) + 1):
        fitting = [k for k in range(1, len(items) + 1) if len(render(items[:k])) <= limit]
        assert fit_count(items, render, limit) == max(fitting), limit


def test_at_least_one_item_is_counted_even_if_it_does_not_fit() -> None:
    assert fit_count(["x" * 100, "y"], lambda s: "".join(s), 10) == 1
    assert fit_count(["x" * 100], lambda s: "".join(s), 0) == 1


def test_the_count_takes_a_logarithmic_number_of_renders() -> None:
    items = list(range(1000))
    renders = 0

    def counted(s: Sequence[int]) -> str:
        nonlocal renders
        renders += 1
        return render(s)

    assert fit_count(items, counted, 1000) == 222  # "[0, 1, ..., 221]" is 1000 characters, one more is 1005
    assert renders <= 2 + math.ceil(math.log2(len(items)))


# -- shrink_strings ---------------------------------------------------------------------------------------------


def test_a_value_that_fits_is_unchanged() -> None:
    value = {"a": "x" * 1000, "b": [1, 2, 3]}
    assert shrink_strings(value, len(compact_json(value))) == value


def test_the_longest_string_is_shortened_first() -> None:
    value = {"long": "x" * 2000, "short": "y" * 600, "n": 7}
    limit = len(compact_json(value)) - 500
    fitted = shrink_strings(value, limit)
    assert len(compact_json(fitted)) <= limit
    assert fitted["short"] == "y" * 600
    assert fitted["n"] == 7
    assert fitted["long"] == "x" * 1000 + "… [1,000 characters cut by orq-mcp]"


def test_strings_are_shortened_until_the_value_fits() -> None:
    value = {"messages": [{"role": "user", "content": "z" * 3000} for _ in range(4)], "model": "m"}
    limit = 5000
    fitted = shrink_strings(value, limit)
    assert len(compact_json(fitted)) <= limit
    assert fitted["model"] == "m"
    for message in fitted["messages"]:
        assert message["role"] == "user"
        assert message["content"].startswith("z" * MIN_STRING)
        assert "characters cut by orq-mcp]" in message["content"]


def test_shrinking_does_not_change_the_original() -> None:
    value = {"a": ["x" * 2000]}
    shrink_strings(value, 500)
    assert value == {"a": ["x" * 2000]}


def test_nested_strings_in_lists_and_dicts_are_reached() -> None:
    value = [{"deep": {"deeper": ["q" * 4000]}}, "short"]
    fitted = shrink_strings(value, 3000)
    assert len(compact_json(fitted)) <= 3000
    assert fitted[1] == "short"
    assert fitted[0]["deep"]["deeper"][0].startswith("q" * MIN_STRING)


def test_strings_of_min_string_or_less_are_never_cut() -> None:
    value = {"keys": ["k" * MIN_STRING for _ in range(20)]}
    assert shrink_strings(value, 100) == value  # too large, but nothing worth cutting


def test_a_value_without_strings_is_returned_as_is() -> None:
    value = list(range(1000))
    assert shrink_strings(value, 10) == value


def test_shrinking_stops_when_every_string_is_down_to_min_string(monkeypatch: pytest.MonkeyPatch) -> None:
    rounds = 0

    def counted(value: Any) -> str:  # one call per round of shrink_strings' loop: a guard against hanging
        nonlocal rounds
        rounds += 1
        if rounds > 1000:
            raise RuntimeError("shrink_strings does not stop")
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    monkeypatch.setattr(fit, "compact_json", counted)
    value = {"a": "x" * 1000}
    fitted = shrink_strings(value, 100)
    assert fitted["a"].startswith("x" * MIN_STRING)
    assert len(fitted["a"]) < 1000


# fit_json: any JSON value (a provider's raw answer) within a budget ------------------------------------------------


def test_fit_json_cuts_the_largest_list_just_enough_and_says_how_much() -> None:
    rows = [{"id": i, "text": f"row {i} " + "lorem ipsum " * 40, "scores": list(range(50))} for i in range(2_000)]
    value = {"rows": rows, "id": "r-1"}
    fitted = fit_json(value, 10_000)
    size = len(compact_json(fitted))
    assert 9_000 < size <= 10_000
    kept = fitted["rows"][:-1]
    assert kept == rows[: len(kept)]  # whole rows, in order
    assert fitted["rows"][-1] == f"[{2_000 - len(kept):,} more items cut by orq-mcp]"
    assert fitted["id"] == "r-1"


def test_fit_json_counts_earlier_cuts_and_stops_when_nothing_is_left_to_cut() -> None:
    once = fit_json(list(range(1_000)), 2_000)
    twice = fit_json(once, 500)
    assert twice[-1] == f"[{1_000 - len(twice) + 1:,} more items cut by orq-mcp]"
    assert fit_json([[1, 2, 3], 4], 1) == [[1, "[2 more items cut by orq-mcp]"], "[1 more items cut by orq-mcp]"]


def test_fit_json_shortens_a_long_string_before_a_short_list() -> None:
    fitted = fit_json({"a": "x" * 100_000, "b": [1, 2, 3]}, 5_000)
    assert len(compact_json(fitted)) <= 5_000
    assert fitted["b"] == [1, 2, 3]
    assert fitted["a"].endswith("characters cut by orq-mcp]")
