"""Text templates in actions: a Jinja2 sandbox that cannot reach outside the values it is given.

Templates are written by admins (trusted, but fallible); survey answers are written by anyone, so
they only ever travel as *data* in the render context and are never compiled. The environment is
sandboxed and immutable, undefined names are errors (``StrictUndefined``), ``None`` renders as an
empty string, and output is plain text (no HTML escaping: the receiving systems treat it as text).

The loader checks every template twice: names against the field catalogue (so ``{{ acount.name }}``
is reported with its line and a suggestion) and a render against sample values.

A render is bounded whatever the template says (see :mod:`rules.template_limits`): loops share a
budget of iterations and a deadline, output and sizes passed to filters and methods are capped, and
the constructs that can grow without a loop (macros, recursive loops, ``namespace``) are refused
when the template is compiled.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import cast

import jinja2
from jinja2 import meta, nodes

from rules.errors import RenderError, did_you_mean
from rules.fields import FieldSpec
from rules.template_limits import BoundedEnvironment, RenderBudget, bound_loops, refused_construct


def _blank_none(value: object) -> object:
    return "" if value is None else value


class _Name(str):
    """An undefined-name message that remembers the name (see :func:`_reason`)."""

    name: object = None


class _Undefined(jinja2.StrictUndefined):
    """Strict, with its error message carrying the name that was looked up."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        message = _Name(super()._undefined_message)
        message.name = self._undefined_name
        return message


_ENV = BoundedEnvironment(
    undefined=_Undefined,
    autoescape=False,
    finalize=_blank_none,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True, slots=True)
class Template:
    """A compiled template; ``single_line`` collapses whitespace (subjects, titles)."""

    source: str
    compiled: jinja2.Template = field(compare=False, repr=False)
    single_line: bool = False

    def render(self, context: Mapping[str, object]) -> str:
        """Render with ``context``; raise :class:`RenderError` if the data does not fit."""
        compiled = self.compiled
        try:
            with RenderBudget() as budget:
                # What ``generate`` runs, without its generator around every chunk of output.
                chunks = compiled.root_render_func(compiled.new_context(dict(context)))
                text = budget.collect(chunks)
        except Exception as error:
            raise RenderError(_reason(error, self.source), template=self.source) from error
        return " ".join(text.split()) if self.single_line else text


#: Errors whose message names the template's names and types, never the values it was given.
_PLAIN_MESSAGES = (jinja2.TemplateError, TypeError, AttributeError, ZeroDivisionError)


def _reason(error: Exception, source: str) -> str:
    """Why a render failed, without the data: a ``KeyError`` or ``ValueError`` raised by a
    method the template called (``comment.format()``, ``int(...)``) quotes the value it choked
    on, and a render's reason is stored and listed as the action's skip detail. Likewise an
    undefined name the template does not spell out was taken from the data (``d[comment]``)."""
    if isinstance(error, jinja2.UndefinedError):
        name = getattr(error.message, "name", None)
        if isinstance(name, str) and not re.search(rf"(?<!\w){re.escape(name)}(?!\w)", source):
            return (
                "an attribute or a key taken from the data is undefined (its name is left out: "
                "it may quote survey text)"
            )
    if isinstance(error, _PLAIN_MESSAGES):
        return str(error)
    name = type(error).__name__
    return f"{name} raised while rendering (its message is left out: it may quote survey text)"


class TemplateSourceError(ValueError):
    """A template error at ``line`` (counted from 1 inside the template)."""

    def __init__(self, message: str, *, line: int = 1, needle: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.needle = needle


def compile_template(source: str, *, single_line: bool = False) -> Template:
    """Compile ``source``; raise :class:`TemplateSourceError` on a syntax error."""
    try:
        tree = _ENV.parse(source)
        refused = refused_construct(tree)
        if refused is not None:
            message, line = refused
            raise TemplateSourceError(message, line=line)
        code = _ENV.compile(bound_loops(tree))
    except jinja2.TemplateSyntaxError as error:  # includes unknown filters, found by compile
        raise TemplateSourceError(
            f"template syntax error: {error.message}", line=error.lineno
        ) from None
    # The globals as a plain dict of their own, not Jinja's default view over the environment's:
    # every render copies them into a new context, and copying the view took most of a render.
    # The environment is immutable, so its globals never change after this copy.
    compiled = _ENV.template_class.from_code(_ENV, code, dict(_ENV.make_globals(None)), None)
    return Template(source, compiled, single_line)


def render(template: Template | str, context: Mapping[str, object]) -> str:
    """Render a template (compiling it first if given as source text) with ``context``."""
    if isinstance(template, str):
        source = template
        try:
            template = compile_template(source)
        except TemplateSourceError as problem:
            raise RenderError(problem.message, template=source) from None
    return template.render(context)


# A tree of template names: inner dicts are namespaces, FieldSpec leaves are values.
ContextTree = dict[str, "ContextTree | FieldSpec"]


def context_tree(specs: Iterable[FieldSpec]) -> ContextTree:
    """The namespaces and names a template may use, from the field catalogue."""
    tree: ContextTree = {}
    for spec in specs:
        *parents, leaf = spec.template_path
        node = tree
        for part in parents:
            child = node.setdefault(part, {})
            assert isinstance(child, dict), f"field {spec.name} nests under a value"
            node = child
        node[leaf] = spec
    return tree


def build_context(fields: Mapping[str, object], specs: Iterable[FieldSpec]) -> dict[str, object]:
    """Nest a flat field mapping for templates; every catalogue field is there (None if missing)."""
    return ContextLayout.of(specs).build(fields)


@dataclass(frozen=True, slots=True)
class ContextLayout:
    """Where each catalogue field goes in the nested template context, worked out once per
    catalogue: a ruleset builds a context for every action it renders."""

    #: Runs of consecutive fields under the same namespace: its path, then (name in the
    #: template, field name) of each. Consecutive only, so every dict keeps the catalogue order.
    runs: tuple[tuple[tuple[str, ...], tuple[tuple[str, str], ...]], ...]

    @classmethod
    def of(cls, specs: Iterable[FieldSpec]) -> ContextLayout:
        runs: list[tuple[tuple[str, ...], list[tuple[str, str]]]] = []
        for spec in specs:
            *parents, leaf = spec.template_path
            if not runs or runs[-1][0] != tuple(parents):
                runs.append((tuple(parents), []))
            runs[-1][1].append((leaf, spec.name))
        return cls(tuple((parents, tuple(members)) for parents, members in runs))

    def build(self, fields: Mapping[str, object]) -> dict[str, object]:
        """The nested context of ``fields`` (:func:`build_context`)."""
        context: dict[str, object] = {}
        get = fields.get
        for parents, members in self.runs:
            node = context
            for part in parents:
                node = cast(dict[str, object], node.setdefault(part, {}))
            for leaf, name in members:
                node[leaf] = get(name)
        return context


def check_references(source: str, tree: ContextTree) -> list[TemplateSourceError]:
    """Names and attributes the template uses that the catalogue does not have."""
    parsed = _ENV.parse(source)
    free = meta.find_undeclared_variables(parsed)
    problems: dict[tuple[int, str], TemplateSourceError] = {}
    for node in parsed.find_all((nodes.Name, nodes.Getattr, nodes.Getitem)):
        chain = _name_chain(node)
        if not chain or chain[0] not in free:
            continue
        problem = _resolve(chain, tree, node.lineno)
        if problem is not None:
            problems.setdefault((problem.line, problem.message), problem)
    return list(problems.values())


def referenced_fields(source: str, tree: ContextTree) -> frozenset[str]:
    """The catalogue fields a template reads, by field name. A namespace used whole
    (``{{ account }}``, ``account.items()``, ``account[key]``) reads every field under it."""
    parsed = _ENV.parse(source)
    free = meta.find_undeclared_variables(parsed)
    found: set[str] = set()
    for chain in _outer_chains(parsed):
        if chain[0] not in free or chain[0] not in tree:
            continue  # a local name, or an unknown one (which the load refuses)
        node: ContextTree | FieldSpec = tree
        for part in chain:
            if not isinstance(node, dict) or part not in node:
                break
            node = node[part]
        found.update(_leaves(node))
    return frozenset(found)


def _outer_chains(node: nodes.Node) -> Iterator[tuple[str, ...]]:
    """Every name chain of the template, longest first: ``account.nps`` yields
    ``("account", "nps")`` and not also ``("account",)``."""
    if isinstance(node, (nodes.Name, nodes.Getattr, nodes.Getitem)):
        chain = _name_chain(node)
        if chain:
            yield chain
            return
    for child in node.iter_child_nodes():
        yield from _outer_chains(child)


def _leaves(node: ContextTree | FieldSpec) -> Iterator[str]:
    if not isinstance(node, dict):
        yield node.name
        return
    for child in node.values():
        yield from _leaves(child)


def _name_chain(node: nodes.Node) -> tuple[str, ...]:
    """``account.name`` or ``account["name"]`` as ``("account", "name")``; () if not a chain."""
    parts: list[str] = []
    while True:
        if isinstance(node, nodes.Name):
            return (node.name, *reversed(parts))
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            parts.append(str(node.arg.value))
        else:
            return ()
        node = node.node


def _resolve(chain: tuple[str, ...], tree: ContextTree, line: int) -> TemplateSourceError | None:
    node: ContextTree | FieldSpec = tree
    for depth, part in enumerate(chain):
        if not isinstance(node, dict):
            return None  # an attribute of a value, such as a string method
        if part not in node:
            known = node.keys()
            if depth == 0:
                hint = did_you_mean(part, known) or _namespaced(part, tree)
                message = f"unknown name {part!r} in template{hint}"
            elif part == "custom":  # none of the namespace declared
                full = ".".join(chain[:2])
                message = (
                    f"unknown field {full!r} in template: declare custom fields under fields: "
                    f"with their type ({full}.<Name>: string)"
                )
            else:
                full = ".".join(chain[: depth + 1])
                candidates = [".".join((*chain[:depth], name)) for name in known]
                message = f"unknown field {full!r} in template{did_you_mean(full, candidates)}"
            return TemplateSourceError(message, line=line, needle=".".join(chain[: depth + 1]))
        node = node[part]
    return None


def _namespaced(name: str, tree: ContextTree) -> str:
    """A hint naming the fields that end in ``name`` (``score`` -> ``response.score``)."""
    found: list[str] = []

    def walk(node: ContextTree, prefix: tuple[str, ...]) -> None:
        for key, child in node.items():
            if isinstance(child, dict):
                walk(child, (*prefix, key))
            elif key == name:
                found.append(".".join((*prefix, key)))

    walk(tree, ())
    if not found:
        return ""
    shown = " or ".join(repr(path) for path in sorted(found)[:4])
    return f"; did you mean {shown}?"
