"""Unit tests of orq_mcp/surface/naming.py: deployment keys and prompt names turned into tool-style names."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orq_mcp.surface.naming import MAX_LENGTH, slug, unique_names

VALID = re.compile(r"[a-z][a-z0-9_]*")


def digest(original: str) -> str:
    return hashlib.sha1(original.encode()).hexdigest()[:6]


# -- slug -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("support_triage", "support_triage"),
        ("Support-Triage", "support_triage"),
        ("support  --  triage", "support_triage"),  # a run of invalid characters is one underscore
        ("--support-triage!!", "support_triage"),  # none at either end
        ("__private__", "private"),
        ("café au lait", "caf_au_lait"),  # only ASCII letters and digits are kept
        ("2024-report", "d_2024_report"),  # a name starts with a letter
        ("", "deployment"),
        ("!!!", "deployment"),
    ],
)
def test_slug(text: str, expected: str) -> None:
    assert slug(text) == expected


def test_slug_does_not_shorten() -> None:
    assert slug("x" * 80) == "x" * 80  # the length rule is unique_names' job


# -- unique_names -----------------------------------------------------------------------------------------------


def test_a_valid_unique_key_keeps_its_name() -> None:
    assert unique_names(["faq_assistant", "summarise2"]) == {
        "faq_assistant": "faq_assistant",
        "summarise2": "summarise2",
    }


def test_a_key_without_collision_gets_its_slug() -> None:
    assert unique_names(["Support-Triage"]) == {"Support-Triage": "support_triage"}


def test_a_valid_key_keeps_its_name_when_another_key_slugs_to_it() -> None:
    names = unique_names(["support-triage", "support_triage"])
    assert names["support_triage"] == "support_triage"
    assert names["support-triage"] == f"support_triage_{digest('support-triage')}"


def test_colliding_keys_each_get_a_suffix_from_their_own_key() -> None:
    names = unique_names(["a-b", "A B"])
    assert names == {"a-b": f"a_b_{digest('a-b')}", "A B": f"a_b_{digest('A B')}"}


def test_names_do_not_depend_on_the_order_of_the_list() -> None:
    keys = ["a-b", "a b", "a_b", "Report 2024", "report-2024", "x" * 60, "list_prompts"]
    forward = unique_names(keys, reserved={"list_prompts"})
    backward = unique_names(list(reversed(keys)), reserved={"list_prompts"})
    assert forward == backward


def test_a_suffix_does_not_change_when_a_colliding_neighbour_goes() -> None:
    before = unique_names(["a-b", "a b", "A-B"])
    after = unique_names(["a-b", "a b"])
    assert after["a-b"] == before["a-b"]
    assert after["a b"] == before["a b"]


def test_a_reserved_name_is_never_given_out() -> None:
    names = unique_names(
        ["list_prompts", "List Prompts", "invoke-deployment"], reserved={"list_prompts", "invoke_deployment"}
    )
    assert names["list_prompts"] == f"list_prompts_{digest('list_prompts')}"
    assert names["invoke-deployment"] == f"invoke_deployment_{digest('invoke-deployment')}"
    assert not {"list_prompts", "invoke_deployment"} & set(names.values())


def test_a_name_of_max_length_is_kept() -> None:
    key = "k" * MAX_LENGTH
    assert unique_names([key]) == {key: key}


def test_a_longer_name_is_cut_to_max_length_with_a_suffix() -> None:
    key = "k" * (MAX_LENGTH + 1)
    name = unique_names([key])[key]
    assert len(name) == MAX_LENGTH
    assert name == "k" * (MAX_LENGTH - 7) + f"_{digest(key)}"


def test_long_keys_sharing_a_prefix_stay_distinct() -> None:
    first, second = "p" * 60 + "-one", "p" * 60 + "-two"
    names = unique_names([first, second])
    assert names[first] != names[second]
    assert all(len(name) == MAX_LENGTH for name in names.values())


def test_a_repeated_key_is_named_once_without_a_suffix() -> None:
    assert unique_names(["faq", "faq"]) == {"faq": "faq"}


@settings(max_examples=200, deadline=None, derandomize=True, database=None)  # reproducible, like test_fuzz
@given(st.lists(st.text(alphabet=st.sampled_from("aAbB_- 09é!"), max_size=60), max_size=12))
def test_every_name_is_valid_unique_and_not_reserved(keys: list[str]) -> None:
    reserved = {"list_deployments", "a", "b_a"}
    names = unique_names(keys, reserved=reserved)
    assert set(names) == set(keys)
    assert len(set(names.values())) == len(names)
    for name in names.values():
        assert VALID.fullmatch(name), name
        assert len(name) <= MAX_LENGTH
        assert name not in reserved
