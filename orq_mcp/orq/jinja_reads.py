"""What a jinja template needs from each input, read from its syntax tree (docs/orq-api.md, Template variables).

A name is required when a missing value would silently blank part of the prompt or fail the render: printed,
looped over, or read into (`user.name` fails on a missing `user`). It is optional when the template only tests
it (`{% if open_tickets %}`, the presence test orq's templating docs use), gives it a `default`, or falls back
with `or`, and inside any branch whose test proved it present. Its type follows the same uses: a loop source
is an array, an attribute or key base an object, a printed value a string; a tested flag may be any value.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from jinja2 import nodes

from orq_mcp.orq.readings import Reading, VariableType

# Filters that only make sense on a list, or on a mapping; `length`, `first` and the like also take strings.
ARRAY_FILTERS = frozenset({"join", "sort", "unique", "map", "select", "reject", "selectattr", "rejectattr", "sum"})
ARRAY_FILTERS |= {"batch", "slice", "groupby"}
OBJECT_FILTERS = frozenset({"dictsort", "items"})
DEFAULT_FILTERS = frozenset({"default", "d"})
STRING_METHODS = frozenset({"upper", "lower", "strip", "lstrip", "rstrip", "split", "replace", "title", "format"})
STRING_METHODS |= {"capitalize", "startswith", "endswith"}
ORDERING = frozenset({"gt", "gteq", "lt", "lteq"})  # a missing value fails these; == and `in` just say no
# Names a macro body has without being given them.
MACRO_LOCALS = frozenset({"varargs", "kwargs", "caller"})


@dataclass(frozen=True)
class Use:
    """How an expression's value is used: whether it must exist, and the shape that use needs."""

    required: bool
    type: VariableType

    def optional(self) -> Use:
        return replace(self, required=False)


PRINT = Use(True, "string")
VALUE = Use(True, "any")  # an argument, an operand: needed, of no telling shape
TEST = Use(False, "any")


@dataclass(frozen=True)
class Scope:
    bound: frozenset[str] = frozenset()  # set by the template itself: loop targets, `set`, macro arguments
    present: frozenset[str] = frozenset()  # proven present by the test of an enclosing branch

    def bind(self, names: Iterable[str]) -> Scope:
        return replace(self, bound=self.bound | frozenset(names))

    def prove(self, names: Iterable[str]) -> Scope:
        return replace(self, present=self.present | frozenset(names))


def read_jinja(tree: nodes.Template, inputs: set[str]) -> list[Reading]:
    """Every read of `inputs` (the template's undeclared names), in order, one per use."""
    reader = _Reader(inputs)
    reader.statements(tree.body, Scope())
    return reader.readings


class _Reader:
    def __init__(self, inputs: set[str]) -> None:
        self.inputs = inputs
        self.readings: list[Reading] = []

    def read(self, name: str, scope: Scope, use: Use) -> None:
        if name in self.inputs and name not in scope.bound:
            self.readings.append(Reading(name, use.required and name not in scope.present, use.type))

    # -- statements --------------------------------------------------------------------------------------------

    def statements(self, body: Iterable[nodes.Node], scope: Scope) -> None:
        for node in body:
            scope = self.statement(node, scope)

    def statement(self, node: nodes.Node, scope: Scope) -> Scope:
        """Read one statement; the scope that follows it (a `set` or a macro binds a name from here on)."""
        if isinstance(node, nodes.Output):
            for child in node.nodes:
                self.expression(child, scope, PRINT)
        elif isinstance(node, nodes.If):
            self._if(node, scope)
        elif isinstance(node, nodes.For):
            self._for(node, scope)
        elif isinstance(node, nodes.Assign):
            self.expression(node.node, scope, VALUE)
            return scope.bind(_stored(node.target))
        elif isinstance(node, nodes.AssignBlock):
            self.statements(node.body, scope)
            return scope.bind(_stored(node.target))
        elif isinstance(node, nodes.Macro | nodes.CallBlock):
            self._macro(node, scope)
            return scope.bind([node.name]) if isinstance(node, nodes.Macro) else scope
        elif isinstance(node, nodes.With):
            for value in node.values:
                self.expression(value, scope, VALUE)
            self.statements(node.body, scope.bind(name for target in node.targets for name in _stored(target)))
        else:  # blocks, filter blocks, scopes: their parts in order
            for child in node.iter_child_nodes():
                if isinstance(child, nodes.Expr):
                    self.expression(child, scope, VALUE)
                else:
                    self.statement(child, scope)
        return scope

    def _if(self, node: nodes.If, scope: Scope) -> None:
        failed: frozenset[str] = frozenset()  # present whenever every earlier test was false
        for branch in (node, *node.elif_):
            here = scope.prove(failed)
            self.expression(branch.test, here, TEST)
            when_true, when_false = _proven(branch.test)
            self.statements(branch.body, here.prove(when_true))
            failed |= when_false
        self.statements(node.else_, scope.prove(failed))

    def _for(self, node: nodes.For, scope: Scope) -> None:
        # A loop over a missing list renders nothing; with an `else` the template says what to show instead.
        source = Use(not node.else_, "array")
        if isinstance(node.iter, nodes.Name):
            self.read(node.iter.name, scope, source)
        else:
            self.expression(node.iter, scope, VALUE if source.required else TEST)
        inside = scope.bind([*_stored(node.target), "loop"])
        if node.test is not None:
            self.expression(node.test, inside, TEST)
        self.statements(node.body, inside)
        self.statements(node.else_, scope)

    def _macro(self, node: nodes.Macro | nodes.CallBlock, scope: Scope) -> None:
        if isinstance(node, nodes.CallBlock):
            self.expression(node.call, scope, VALUE)
        for default in node.defaults:
            self.expression(default, scope, VALUE)
        self.statements(node.body, scope.bind([*(arg.name for arg in node.args), *MACRO_LOCALS]))

    # -- expressions -------------------------------------------------------------------------------------------

    def expression(self, node: nodes.Node, scope: Scope, use: Use) -> None:
        if isinstance(node, nodes.Name):
            if node.ctx == "load":
                self.read(node.name, scope, use)
        elif isinstance(node, nodes.Getattr):
            self._base(node.node, scope, "object")
        elif isinstance(node, nodes.Getitem):
            self._base(node.node, scope, "array" if _positional(node.arg) else "object")
            self.expression(node.arg, scope, VALUE)
        elif isinstance(node, nodes.Filter):
            self._filter(node, scope, use)
        elif isinstance(node, nodes.Test):
            self.expression(node.node, scope, TEST)
            self._arguments(node, scope)
        elif isinstance(node, nodes.Compare):
            self._compare(node, scope)
        elif isinstance(node, nodes.And | nodes.Or):
            self._boolean(node, scope, use)
        elif isinstance(node, nodes.Not):
            self.expression(node.node, scope, TEST)
        elif isinstance(node, nodes.CondExpr):
            self.expression(node.test, scope, TEST)
            when_true, when_false = _proven(node.test)
            self.expression(node.expr1, scope.prove(when_true), use)
            if node.expr2 is not None:
                self.expression(node.expr2, scope.prove(when_false), use)
        elif isinstance(node, nodes.Call):
            self._call(node, scope)
        elif isinstance(node, nodes.Concat):
            for child in node.nodes:
                self.expression(child, scope, PRINT)
        else:  # literals, arithmetic, slices, keyword arguments: their parts are plain values
            for child in node.iter_child_nodes():
                self.expression(child, scope, VALUE)

    def _base(self, node: nodes.Node, scope: Scope, shape: VariableType) -> None:
        """What an attribute or key is read from: a missing one fails the render, whatever surrounds it."""
        if isinstance(node, nodes.Name):
            self.read(node.name, scope, Use(True, shape))
        else:
            self.expression(node, scope, VALUE)

    def _filter(self, node: nodes.Filter, scope: Scope, use: Use) -> None:
        if node.node is not None:  # None in a `{% filter %}` block, which filters the block's output
            if node.name in DEFAULT_FILTERS:
                self.expression(node.node, scope, use.optional())
            elif isinstance(node.node, nodes.Name) and node.name in ARRAY_FILTERS | OBJECT_FILTERS:
                self.read(node.node.name, scope, Use(use.required, "array" if node.name in ARRAY_FILTERS else "object"))
            else:
                self.expression(node.node, scope, use)
        self._arguments(node, scope)

    def _compare(self, node: nodes.Compare, scope: Scope) -> None:
        operands = [node.expr, *(operand.expr for operand in node.ops)]
        ordering = any(operand.op in ORDERING for operand in node.ops)
        equality = all(operand.op in ("eq", "ne") for operand in node.ops)
        text = equality and any(isinstance(o, nodes.Const) and isinstance(o.value, str) for o in operands)
        use = Use(ordering, "string" if text else "any")
        for operand in operands:
            if isinstance(operand, nodes.Name):
                self.read(operand.name, scope, use)
            else:
                self.expression(operand, scope, VALUE if ordering else TEST)

    def _boolean(self, node: nodes.And | nodes.Or, scope: Scope, use: Use) -> None:
        # `a and b` reads b only when a held; `a or b` prints a when a holds, else b.
        when_true, when_false = _proven(node.left)
        if isinstance(node, nodes.And):
            self.expression(node.left, scope, TEST)
            self.expression(node.right, scope.prove(when_true), use)
        else:
            self.expression(node.left, scope, use.optional())
            self.expression(node.right, scope.prove(when_false), use)

    def _call(self, node: nodes.Call, scope: Scope) -> None:
        callee = node.node
        if isinstance(callee, nodes.Getattr) and isinstance(callee.node, nodes.Name):  # `x.items()`, `x.upper()`
            self.read(callee.node.name, scope, Use(True, "string" if callee.attr in STRING_METHODS else "object"))
        else:
            self.expression(callee, scope, VALUE)
        self._arguments(node, scope)

    def _arguments(self, node: nodes.Filter | nodes.Test | nodes.Call, scope: Scope) -> None:
        for argument in _arguments(node):
            self.expression(argument, scope, VALUE)


def _arguments(node: nodes.Filter | nodes.Test | nodes.Call) -> Iterator[nodes.Node]:
    yield from node.args
    yield from (keyword.value for keyword in node.kwargs)
    yield from (extra for extra in (node.dyn_args, node.dyn_kwargs) if extra is not None)


def _stored(target: nodes.Node) -> list[str]:
    """The names an assignment or loop target binds (`x`, or `k, v`)."""
    return [node.name for node in target.find_all(nodes.Name)] if not isinstance(target, nodes.Name) else [target.name]


def _positional(index: Any) -> bool:
    """`x[0]` and `x[1:]` index a list; `x['key']` and `x[name]` read a mapping."""
    return isinstance(index, nodes.Slice) or (isinstance(index, nodes.Const) and isinstance(index.value, int))


def _proven(test: nodes.Node) -> tuple[frozenset[str], frozenset[str]]:
    """(names present when `test` is true, names present when it is false). Only what the test implies."""
    if isinstance(test, nodes.Name):
        return frozenset([test.name]), frozenset()
    if isinstance(test, nodes.Not):
        when_true, when_false = _proven(test.node)
        return when_false, when_true
    if isinstance(test, nodes.And):
        return _proven(test.left)[0] | _proven(test.right)[0], frozenset()
    if isinstance(test, nodes.Or):
        return frozenset(), _proven(test.left)[1] | _proven(test.right)[1]
    if isinstance(test, nodes.Test) and isinstance(test.node, nodes.Name) and test.name in ("defined", "undefined"):
        named = frozenset([test.node.name])
        return (named, frozenset()) if test.name == "defined" else (frozenset(), named)
    if isinstance(test, nodes.Compare) and isinstance(test.expr, nodes.Name):
        # `x == 'pro'` (or `x in [...]`) holding means x is there; `x != 'pro'` failing means the same.
        (first, *rest) = test.ops
        if not rest and first.op in ("eq", "in"):
            return frozenset([test.expr.name]), frozenset()
        if not rest and first.op in ("ne", "notin"):
            return frozenset(), frozenset([test.expr.name])
    if isinstance(test, nodes.Filter) and test.node is not None and test.name not in DEFAULT_FILTERS:
        return _proven(test.node)[0], frozenset()  # `items|length` is true only for something present
    return frozenset(), frozenset()
