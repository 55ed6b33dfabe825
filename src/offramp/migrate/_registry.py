"""The one registry shared by ``scan``, ``lint`` and ``rewrite``.

A rule is a class in its own module under ``_rules``; decorating it with
:func:`register` is all it takes to take part in every subcommand.  The
rules package is imported by walking it, so adding a primitive means adding
one file.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from typing import ClassVar, NamedTuple

# What a suggestion points at; the scan table and the docs group by these.
STDLIB = "stdlib"
EXECUTOR = "offramp executor"
TIMEOUT = "DB/driver timeout"
DESIGN = "needs design"
CATEGORIES = (STDLIB, EXECUTOR, TIMEOUT, DESIGN)


class Method(NamedTuple):
    """How one method call on a rewritable instance is written afterwards.

    ``template`` is an expression: ``{obj}`` is the object as written
    (``ev``, ``self._done``), an ``ARGS`` argument stands for the original
    call's arguments.
    """

    template: str
    statement: bool = False  # result must be unused (an expression statement)
    no_args: bool = False  # only the argument-less call is equivalent
    last: bool = False  # must be the object's last use (e.g. waitall)
    imports: tuple[str, ...] = ()
    # Used instead of ``template`` when the object also has a ``last`` use.
    collect: str | None = None


class Rule:
    """One Eventlet primitive: how to spot it and what to do about it.

    ``names`` are qualified-name prefixes: a reference resolving to
    ``eventlet.queue.Empty`` belongs to the rule naming ``eventlet.queue``,
    the longest registered prefix wins.  Rules about plain calls that are
    not eventlet names (``time.sleep(0)``) override :meth:`check_call`.
    """

    kind: ClassVar[str]
    code: ClassVar[str]
    category: ClassVar[str]
    suggestion: ClassVar[str]
    message: ClassVar[str]
    names: ClassVar[tuple[str, ...]] = ()
    # Lint only what has a ready replacement; "needs design" is scan-only.
    lint: ClassVar[bool] = True
    # A file is only parsed when one of these byte strings occurs in it.
    needles: ClassVar[tuple[bytes, ...]] = (b"eventlet",)
    # Exact qualified name -> replacement dotted name, for ``rewrite``.
    renames: ClassVar[dict[str, str]] = {}
    # Said by ``rewrite`` when a renamed call's result is used: the swap is
    # made, but the returned object may not offer the same API.
    result_note: ClassVar[str] = ""
    # Instance rewrites: an object built by one of ``constructors`` and bound
    # to a name is rebuilt with ``new_constructor`` (an expression template
    # like ``Method.template``) when every use is a method in ``methods``;
    # ``setup`` is a statement added after the binding when a ``last``
    # method is used.
    constructors: ClassVar[tuple[str, ...]] = ()
    new_constructor: ClassVar[str] = ""
    constructor_imports: ClassVar[tuple[str, ...]] = ()
    constructor_note: ClassVar[str] = ""  # said when the old call had arguments
    methods: ClassVar[dict[str, Method]] = {}
    setup: ClassVar[str] = ""

    def check_call(self, node: ast.Call, qualname: str | None) -> bool:
        """Whether ``node`` (whose callee resolves to ``qualname``) is ours."""
        return False

    def rewrite_call(self, qualname: str, call):
        """A libcst replacement for a call to ``qualname``, or None.

        Returns ``(new_node, imports)``, ``imports`` being modules to add.
        """
        return None

    def describe(self, qualname: str) -> str:
        return self.message.format(name=qualname)


_RULES: dict[str, Rule] = {}
_BY_NAME: dict[str, Rule] = {}


def register(cls: type[Rule]) -> type[Rule]:
    """Class decorator: instantiate the rule and index its names."""
    rule = cls()
    if rule.kind in _RULES:
        raise ValueError(f"duplicate rule kind {rule.kind!r}")
    if rule.category not in CATEGORIES:
        raise ValueError(f"{cls.__name__}: unknown category {rule.category!r}")
    _RULES[rule.kind] = rule
    for name in rule.names:
        if name in _BY_NAME:
            raise ValueError(f"{name!r} claimed by {_BY_NAME[name].kind} and {rule.kind}")
        _BY_NAME[name] = rule
    return cls


def _load() -> None:
    if _RULES:
        return
    from offramp.migrate import _rules

    for info in sorted(pkgutil.iter_modules(_rules.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{_rules.__name__}.{info.name}")


def rules() -> list[Rule]:
    """All rules, ordered by lint code."""
    _load()
    return sorted(_RULES.values(), key=lambda r: r.code)


def rule_for(qualname: str) -> Rule | None:
    """The rule owning ``qualname`` by longest dotted prefix, if any."""
    _load()
    parts = qualname.split(".")
    while parts:
        rule = _BY_NAME.get(".".join(parts))
        if rule is not None:
            return rule
        parts.pop()
    return None


def call_rules() -> list[Rule]:
    """Rules that look at calls themselves, not at eventlet names."""
    return [r for r in rules() if type(r).check_call is not Rule.check_call]


def needles() -> tuple[bytes, ...]:
    return tuple(sorted({n for r in rules() for n in r.needles}))
