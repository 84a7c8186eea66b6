"""Bounds on one template render: loops, time, output and sizes, whatever the template says.

Jinja2's sandbox stops templates from reaching outside their data, but not from working too hard:
two nested loops over a long comment, ``'x' * 10**9`` or ``'x'|center(10**9)`` would hang a
render or exhaust memory, at ``rules check`` and in the daemon alike. Here:

- every ``for`` loop iterates through :func:`bound_loops`' wrapper, which spends one unit of the
  render's :class:`RenderBudget` per item and checks its deadline;
- the output is collected chunk by chunk and stops at :data:`MAX_OUTPUT` characters;
- ``*`` and ``**``, ``range`` and the filters and methods that take a width or a count refuse
  sizes above :data:`MAX_SIZE`, and ``%``, ``format`` and ``str.format`` refuse format strings
  with widths above it or taken from their arguments (numbers as data, such as an ARR, are
  never limited);
- what joins or grows text (``~``, ``+``, ``join``, ``replace`` as a filter and as a method,
  ``indent``, ``wordwrap``, ``expandtabs``) works out the size of its result first and refuses
  one above :data:`MAX_SIZE`, so no string is built past it: a template doubling a string
  twenty times stops at the first step too far;
- macros, ``call`` blocks, recursive loops and ``namespace`` (the ways to grow without a loop, or
  to carry state from one iteration to the next) are refused when the template is compiled.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any

from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.filters import do_join
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

#: Loop iterations one render may spend, all loops together.
MAX_ITERATIONS = 10_000
#: Characters one render may produce.
MAX_OUTPUT = 100_000
#: Largest size (repeat count, width, exponent base) an operator, filter or method may be given.
MAX_SIZE = MAX_OUTPUT
#: Wall-clock seconds one render may take.
MAX_SECONDS = 2.0
#: Output chunks collected between two looks at the clock.
CHUNKS_PER_CHECK = 32

_LOOP_FILTER = "_bounded_loop"
_CONCAT_FILTER = "_bounded_concat"
_HUGE_WIDTH = re.compile(r"\d{%d,}" % len(str(MAX_SIZE)))  # noqa: UP031
#: A width or precision taken from the arguments: ``{:{}}`` in ``format``, ``%*d`` in ``%``.
_ARGUMENT_WIDTH = re.compile(r"\{[^{}]*\{|%[-#0 +]*(?:\d*\.)?\*")
#: Filters and methods whose integer arguments are sizes (widths, counts), and ``range``.
_SIZED_FILTERS = frozenset({"center", "indent", "wordwrap", "truncate", "batch", "slice"})
_SIZED_CALLS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs", "safe_range", "range"})
_REFUSED: dict[type[nodes.Node], str] = {
    nodes.Macro: "macros are not supported in action templates",
    nodes.CallBlock: "call blocks are not supported in action templates",
}


class RenderLimitError(SecurityError):
    """A render went past one of the bounds above."""


class RenderBudget:
    """The iterations and deadline of the render in progress (one per render, per context)."""

    def __init__(self) -> None:
        self.iterations = MAX_ITERATIONS
        self.deadline = time.monotonic() + MAX_SECONDS
        self._token: Any = None

    def __enter__(self) -> RenderBudget:
        self._token = _CURRENT.set(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _CURRENT.reset(self._token)

    def spend(self) -> None:
        self.iterations -= 1
        if self.iterations < 0:
            raise RenderLimitError(f"template loops ran more than {MAX_ITERATIONS:,} times")
        if time.monotonic() > self.deadline:
            raise RenderLimitError(f"template took longer than {MAX_SECONDS:g} s to render")

    def collect(self, chunks: Iterable[str]) -> str:
        """Join the render's output, stopping past :data:`MAX_OUTPUT` characters.

        The deadline is checked every :data:`CHUNKS_PER_CHECK` chunks and at the end: a chunk
        is bounded in size and every loop iteration checks it anyway, so checking the clock at
        every chunk (a plain template yields dozens) only made each render slower."""
        parts: list[str] = []
        append = parts.append
        size = 0
        for chunk in chunks:
            size += len(chunk)
            append(chunk)
            if size > MAX_OUTPUT:
                raise RenderLimitError(f"template output is longer than {MAX_OUTPUT:,} characters")
            if not len(parts) % CHUNKS_PER_CHECK:
                self.check_deadline()
        self.check_deadline()
        return "".join(parts)

    def check_deadline(self) -> None:
        if time.monotonic() > self.deadline:
            raise RenderLimitError(f"template took longer than {MAX_SECONDS:g} s to render")


_CURRENT: ContextVar[RenderBudget | None] = ContextVar("template_render_budget", default=None)


def _bounded(items: Iterable[Any]) -> Iterator[Any]:
    budget = _CURRENT.get()
    if budget is None:  # rendered outside Template.render: give it a budget of its own
        budget = RenderBudget()
    for item in items:
        budget.spend()
        yield item


def bound_loops(tree: nodes.Template) -> nodes.Template:
    """``tree`` with every loop's iterable passed through the budgeted wrapper, and every ``~``
    through the size-checked join."""
    for loop in tree.find_all(nodes.For):
        loop.iter = nodes.Filter(loop.iter, _LOOP_FILTER, [], [], None, None, lineno=loop.lineno)
    bounded = _BoundedConcat().visit(tree)
    assert isinstance(bounded, nodes.Template)
    return bounded


class _BoundedConcat(NodeTransformer):
    """``a ~ b ~ c`` written as ``[a, b, c]|_bounded_concat``."""

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:  # noqa: N802 - the visitor API
        self.generic_visit(node)
        parts = nodes.List(node.nodes, lineno=node.lineno)
        return nodes.Filter(parts, _CONCAT_FILTER, [], [], None, None, lineno=node.lineno)


def _check_result(what: str, size: int) -> None:
    if size > MAX_SIZE:
        raise RenderLimitError(f"{what} would make {size:,} characters; the limit is {MAX_SIZE:,}")


def _bounded_concat(parts: Iterable[Any]) -> str:
    texts = [str(part) for part in parts]
    _check_result("'~'", sum(map(len, texts)))
    return "".join(texts)


def _bounded_join(
    eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: str | int | None = None
) -> str:
    items = list(value)
    _check_result("filter 'join'", len(str(d)) * max(len(items) - 1, 0))
    joined: str = do_join(eval_ctx, items, d, attribute)
    _check_result("filter 'join'", len(joined))
    return joined


_bounded_join.jinja_pass_arg = do_join.jinja_pass_arg  # type: ignore[attr-defined]


def _grown_size(obj: Any, name: str, args: tuple[Any, ...]) -> int:
    """The length of what method ``name`` of ``obj`` would return, when it can grow; else 0."""
    if isinstance(obj, str) and name == "replace" and len(args) >= 2:
        old, new = str(args[0]), str(args[1])
        count = obj.count(old) if old else len(obj) + 1
        return len(obj) + count * max(len(new) - len(old), 0)
    if isinstance(obj, str) and name == "join" and args:
        return len(obj) * max(len(list(args[0])) - 1, 0) if isinstance(args[0], list | tuple) else 0
    if isinstance(obj, str) and name == "expandtabs":
        size = args[0] if args and isinstance(args[0], int) else 8
        return len(obj) + obj.count("\t") * size
    return 0


def refused_construct(tree: nodes.Template) -> tuple[str, int] | None:
    """(message, line) of the first construct templates may not use, or None."""
    for node in tree.find_all((nodes.Macro, nodes.CallBlock, nodes.For, nodes.Name)):
        if isinstance(node, nodes.For) and node.recursive:
            return "recursive loops are not supported in action templates", node.lineno
        if isinstance(node, nodes.Name) and node.name == "namespace" and node.ctx == "load":
            return "namespace() is not supported in action templates", node.lineno
        message = _REFUSED.get(type(node))
        if message is not None:
            return message, node.lineno
    return None


def _check_sizes(what: str, args: Iterable[Any]) -> None:
    for value in args:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SIZE:
            raise RenderLimitError(f"{what} was given {value:,}; the limit is {MAX_SIZE:,}")
        if isinstance(value, float) and abs(value) > MAX_SIZE:
            raise RenderLimitError(f"{what} was given {value:g}; the limit is {MAX_SIZE:,}")


def _check_format(text: object) -> None:
    if not isinstance(text, str):
        return
    if _HUGE_WIDTH.search(text):
        raise RenderLimitError(f"a format width above {MAX_SIZE:,} in {text[:40]!r}")
    if _ARGUMENT_WIDTH.search(text.replace("{{", "").replace("}}", "").replace("%%", "")):
        raise RenderLimitError(f"a format width taken from the arguments in {text[:40]!r}")


def _filter_result_size(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """At least the length of what filter ``name`` would return, when it can grow text (worked
    out from its arguments, before it runs); else 0."""

    def arg(position: int, keyword: str, default: Any) -> Any:
        return args[position] if len(args) > position else kwargs.get(keyword, default)

    if name == "replace" and len(args) >= 4:  # (eval context, text, old, new[, count])
        text, old, new = str(args[1]), str(args[2]), str(args[3])
        found = text.count(old) if old else len(text) + 1
        count = arg(4, "count", None)
        if isinstance(count, int) and count >= 0:
            found = min(found, count)
        return len(text) + found * max(len(new) - len(old), 0)
    if name == "wordwrap" and len(args) >= 2:  # (environment, text, width, ..., wrapstring)
        text, width = str(args[1]), arg(2, "width", 79)
        wrap = arg(4, "wrapstring", None) or "\n"
        # each wrapped line and the next hold more than ``width`` characters between them
        lines = 2 * len(text) // max(width if isinstance(width, int) else 1, 1) + 1
        return len(text) + (lines + text.count("\n")) * len(str(wrap))
    if name == "indent" and args and isinstance(args[0], str):
        width = arg(1, "width", 4)
        pad = width if isinstance(width, int) else len(str(width))
        return len(args[0]) + (args[0].count("\n") + 1) * pad
    return 0


#: Filters whose result can be far longer than their input (see :func:`_filter_result_size`).
_GROWING_FILTERS = frozenset({"replace", "wordwrap", "indent"})


def _size_checked(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def checked(*args: Any, **kwargs: Any) -> Any:
        if name in _SIZED_FILTERS:
            _check_sizes(f"filter {name!r}", [*args[1:], *kwargs.values()])
        if name == "format":
            _check_format(args[0] if args else None)
        if name in _GROWING_FILTERS:
            _check_result(f"filter {name!r}", _filter_result_size(name, args, kwargs))
        return function(*args, **kwargs)

    for marker in ("jinja_pass_arg",):  # keep pass_context / pass_environment markers
        if hasattr(function, marker):
            setattr(checked, marker, getattr(function, marker))
    return checked


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox with sizes checked on operators, filters and method calls."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {
            name: _size_checked(name, f)
            if name in _SIZED_FILTERS or name in _GROWING_FILTERS or name == "format"
            else f
            for name, f in self.filters.items()
        }
        self.filters[_LOOP_FILTER] = _bounded
        self.filters[_CONCAT_FILTER] = _bounded_concat
        self.filters["join"] = _bounded_join
        self.globals.pop("namespace", None)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            _check_sizes("'**'", [left])
            if isinstance(right, int | float) and abs(right) > 64:
                raise RenderLimitError(f"an exponent of {right:,} is above the limit of 64")
        elif operator == "*" and isinstance(left, str | list | tuple):
            _check_sizes("'*'", [len(left) * right if isinstance(right, int) else 0])
        elif operator == "*" and isinstance(right, str | list | tuple):
            _check_sizes("'*'", [len(right) * left if isinstance(left, int) else 0])
        elif operator == "%":
            _check_format(left)
        elif operator == "+" and isinstance(left, str | list | tuple) and hasattr(right, "__len__"):
            _check_result("'+'", len(left) + len(right))
        return super().call_binop(context, operator, left, right)

    def call(
        __self,  # noqa: N805 - the sandbox's own signature, so keyword arguments pass through
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        name = getattr(__obj, "__name__", "")
        if name in _SIZED_CALLS:
            _check_sizes(f"{name}()", [*args, *kwargs.values()])
        grown = _grown_size(getattr(__obj, "__self__", None), name, args)
        _check_result(f"{name}()", grown)
        return super().call(__context, __obj, *args, **kwargs)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if attribute in ("format", "format_map"):
            _check_format(obj)
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            # What the sandbox would find after a failed attribute lookup, without raising one:
            # ``response.score`` on the render context, the common case, many times per render.
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


#: Attributes every plain dict has; any other name on a dict can only be one of its keys.
_DICT_ATTRIBUTES = frozenset(dir(dict))
