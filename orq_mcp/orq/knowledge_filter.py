"""orq's knowledge-base metadata filter, checked as strictly as the SDK's `DeploymentStreamKnowledgeFilter` union.

`{field: {operator: value}}` with one operator per field (eq, ne: a string, number or boolean;
gt, gte, lt, lte: a number; in, nin: a list of those), or `{"and"|"or": [{field: {...}}, ...]}`
one level deep. A knowledge search's `filter_by` (SDK `FilterBy`, `searchknowledgerequest.py`) is the same
with one more operator, `exists` (a boolean). Stricter than the SDK in one way: a numeric operator refuses a
numeric string, which the SDK's lax validation would coerce.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import PydanticCustomError


def _rule(message: str) -> PydanticCustomError:
    # The message goes in as context, not as the template: a brace in it (a quoted key, say) is text, not a slot.
    return PydanticCustomError("orq_request", "{rule}", {"rule": message})


_FILTER_OPERATORS = frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"})
SEARCH_OPERATORS = _FILTER_OPERATORS | {"exists"}
_NUMBER_OPERATORS = frozenset({"gt", "gte", "lt", "lte"})
_LIST_OPERATORS = frozenset({"in", "nin"})


def check_knowledge_filter(value: dict[str, Any], operators: frozenset[str] = _FILTER_OPERATORS) -> dict[str, Any]:
    """`{field: {op: value}}`, or `{"and"|"or": [{field: {op: value}}, ...]}` (SDK: ...KnowledgeFilter, FilterBy)."""
    if len(value) == 1 and next(iter(value)) in ("and", "or"):
        [(joiner, clauses)] = value.items()
        if not isinstance(clauses, list) or not clauses:
            raise _rule(f"'{joiner}' takes a non-empty list of {{field: {{operator: value}}}} objects")
        for clause in clauses:
            if not isinstance(clause, dict):
                raise _rule(f"each '{joiner}' item is a {{field: {{operator: value}}}} object")
            _check_conditions(clause, operators)
        return value
    _check_conditions(value, operators)
    return value


def _check_conditions(conditions: dict[str, Any], operators: frozenset[str]) -> None:
    for field, condition in conditions.items():
        if field in ("and", "or"):
            raise _rule(f"'{field}' must be the only key of the filter, and cannot be nested")
        if not (isinstance(condition, dict) and len(condition) == 1 and next(iter(condition)) in operators):
            raise _rule(f'\'{field}\' needs one operator object, e.g. {{"eq": "x"}} ({", ".join(sorted(operators))})')
        [(operator, operand)] = condition.items()
        if not _operand_ok(operator, operand):
            raise _rule(f"'{field}.{operator}' takes {_operand_kind(operator)}")


def _operand_ok(operator: str, operand: Any) -> bool:
    if operator == "exists":
        return isinstance(operand, bool)
    if operator in _NUMBER_OPERATORS:
        return isinstance(operand, int | float) and not isinstance(operand, bool)
    if operator in _LIST_OPERATORS:
        return isinstance(operand, list) and all(isinstance(item, str | int | float) for item in operand)
    return isinstance(operand, str | int | float)


def _operand_kind(operator: str) -> str:
    if operator == "exists":
        return "true or false"
    if operator in _NUMBER_OPERATORS:
        return "a number"
    return "a list of strings, numbers or booleans" if operator in _LIST_OPERATORS else "a string, number or boolean"
