"""The one registry shared by ``scan``, ``lint`` and ``rewrite``.

A rule is a class in its own module under ``_rules``; decorating it with
:func:`register` is all it takes to take part in every subcommand.  The
rules package is imported by walking it, so adding a primitive means adding
one file.  A rule says how to recognise its primitive (qualified-name
prefixes, or :meth:`Rule.check_call` for plain calls such as
``time.sleep(0)``) and, where a fix is safe, what the fix is:

* :meth:`Rule.fix_ref` for one reference (``eventlet.sleep(1)``);
* ``constructors``/``methods`` for objects (``e = Event()``,
  ``e.send()``): the tree-wide pass (``_plan``) gathers every use of
  every place the object is bound to, in every file, and
  :meth:`Rule.plan_object` turns them into edits or into the first use
  that blocks them.

Fixes are plain data (:class:`Edit`), applied later with libcst.

What ``scan`` says about one use can be more precise than the rule's
general suggestion (``spawn(...).wait()`` needs ``.result()``,
``send(42)`` needs a Future): :meth:`Rule.advise_use`,
:meth:`Rule.advise_creation` and :meth:`Rule.check_text` return the
fitting text, and :meth:`Rule.refined` makes the rule as it applies there.
"""

from __future__ import annotations

import importlib
import os
from typing import ClassVar, NamedTuple

# What a suggestion points at; the scan table and the docs group by these.
STDLIB = "stdlib"
EXECUTOR = "offramp executor"
TIMEOUT = "DB/driver timeout"
DESIGN = "needs design"
CATEGORIES = (STDLIB, EXECUTOR, TIMEOUT, DESIGN)


class Edit(NamedTuple):
    """One change to one expression of one file.

    ``op`` is ``("replace", code)`` (any expression), ``("call", func_code,
    keep_args)`` (a call gets a new callee), ``("method", name)`` (a method
    call gets a new method name) or ``("insert", code)`` (at a zero-width
    span); the span is the expression's ``ast`` span.
    """

    file: int
    span: tuple
    op: tuple


class Fix(NamedTuple):
    what: str  # "eventlet.sleep(0) -> offramp.cooperative_yield()"
    edits: tuple  # Edit...
    imports: tuple = ()  # (file, module) pairs to import
    offramp_calls: tuple = ()  # (file, line, scope, import_time) of emitted offramp.* calls
    note: str = ""


class Refusal(NamedTuple):
    what: str  # the primitive left alone
    reason: str  # why, in the user's terms
    file: int  # where the blocking use is
    line: int


class Method(NamedTuple):
    """How a method call on a rewritable object is written afterwards."""

    name: str  # the new method name
    no_args: bool = False  # only the argument-less call is equivalent
    statement: bool = False  # its result must be unused
    why: str = ""  # said when a condition above fails


class Ctor(NamedTuple):
    """A constructor call that becomes ``new``; args kept unless told."""

    new: str
    imports: tuple
    keep_args: bool = True


class Rule:
    """One Eventlet primitive: how to spot it and what to do about it.

    ``names`` are qualified-name prefixes: a reference resolving to
    ``eventlet.queue.Empty`` belongs to the rule naming ``eventlet.queue``,
    the longest registered prefix wins.
    """

    kind: ClassVar[str]
    code: ClassVar[str]
    category: ClassVar[str]
    suggestion: ClassVar[str]
    message: ClassVar[str]
    names: ClassVar[tuple[str, ...]] = ()
    # Exact qualified names a call rule looks at (``time.sleep``).
    call_names: ClassVar[tuple[str, ...]] = ()
    # Lint only what has a ready replacement; "needs design" is scan-only.
    lint: ClassVar[bool] = True
    # A file is parsed only when one of these byte strings occurs in it.
    needles: ClassVar[tuple[bytes, ...]] = (b"eventlet", b"greenlet")

    # -- objects -------------------------------------------------------------
    constructors: ClassVar[dict[str, Ctor]] = {}
    methods: ClassVar[dict[str, Method]] = {}
    # Uses that need no edit and are safe: "with", "is", "test".
    harmless: ClassVar[frozenset] = frozenset({"is"})
    # Why a method or attribute not in ``methods`` cannot be kept.
    blocked: ClassVar[dict[str, str]] = {}
    # The object must be read (an unread one would lose an exception).
    must_be_read: ClassVar[str] = ""
    # Methods of the object that return another eventlet object: method
    # name -> a constructor that makes the same kind (``GreenPool.spawn``
    # gives what ``eventlet.greenthread.spawn`` gives).  Scan follows those
    # objects when a function returns them (``_returns``).
    makes: ClassVar[dict[str, str]] = {}

    # -- what scan says about uses -------------------------------------------
    # Method or attribute of the object -> the suggestion for that use.  A
    # use not listed carries over unchanged and is not reported.
    use_advice: ClassVar[dict[str, str]] = {}

    def advise_use(self, shape):
        """``(rule, suggestion)`` for one use of this rule's object, or None.

        ``shape`` is the use's shape (``("method", name, call)``, or
        ``("attr", name)`` for a bound method passed on)."""
        if shape[0] in ("method", "attr"):
            advice = self.use_advice.get(shape[1])
            if advice:
                return self, advice
        return None

    def advise_creation(self, qualname: str, shapes) -> str | None:
        """A suggestion for one creation, given every use of the object."""
        return None

    def advise_ref(self, qualname: str, shape) -> tuple | None:
        """``(suggestion, message)`` for one reference, when the rule's
        general texts do not fit it (either may be None)."""
        return None

    def check_text(self, text: str, context: tuple) -> str | None:
        """The suggestion when a string constant (its ``context`` as in
        ``FileFacts.texts``) is this rule's, else None."""
        return None

    def refined(self, suggestion: str | None = None, message: str | None = None) -> "Rule":
        """This rule as it applies to one use: the same kind and code, its own texts."""
        if suggestion is None and message is None:
            return self
        copy = object.__new__(type(self))
        copy.__dict__.update(self.__dict__)
        if suggestion is not None:
            copy.suggestion = suggestion
        if message is not None:
            copy.message = message
        return copy

    # Rules are plain data: a refined or unpickled copy equals its kin.
    def __eq__(self, other):
        return type(self) is type(other) and self.__dict__ == other.__dict__

    def __hash__(self):
        return hash((type(self), tuple(sorted(self.__dict__.items()))))

    def check_call(self, qualname: str, call) -> bool:
        """Whether a call to ``qualname`` (its ``CallInfo``: literal arguments,
        shape of the result) is ours.  Only names in ``call_names`` reach it."""
        return False

    def describe(self, qualname: str) -> str:
        return self.message.format(name=qualname)

    def fix_ref(self, ref, file: int):
        """A :class:`Fix` for one reference, a :class:`Refusal`, or None.

        Called for references that are not constructor calls (those are
        objects, see :meth:`plan_object`).
        """
        return None

    def ctor_edit(self, qualname: str, call, uses) -> tuple | str:
        """``(new_callee, imports, keep_args)`` for one constructor call, or
        why it cannot be rewritten (``str``).  ``uses`` are the object's
        uses, for rules whose target depends on them."""
        ctor = self.constructors[qualname]
        return ctor.new, ctor.imports, ctor.keep_args

    def use_edit(self, shape) -> tuple | str | None:
        """The op for one use of the object (``("rename", "set")``), None
        when it needs no edit, or why it blocks the rewrite (``str``)."""
        kind = shape[0]
        if kind in self.harmless:
            return None
        if kind == "method":
            name, call = shape[1], shape[2]
            method = self.methods.get(name)
            if method is None:
                return self.blocked.get(name) or f".{name}() has no safe equivalent"
            if method.no_args and (call.nargs or call.keywords):
                return method.why or f".{name}() is called with arguments"
            if method.statement and call.result[0] != "discard":
                return method.why or f"the result of .{name}() is used"
            return ("rename", method.name) if method.name != name else None
        if kind == "attr":
            return self.blocked.get(shape[1]) or f"attribute .{shape[1]} is read"
        if kind == "setattr":
            return f"attribute .{shape[1]} is set on it"
        if kind == "with":
            return "used as a context manager"
        if kind == "test":
            return "its truth value is tested"
        if kind == "escape":
            return f"it escapes ({shape[1]}), so its uses cannot all be seen"
        if kind == "discard":
            return self.must_be_read or None
        if kind == "bind":
            return "it is stored where its uses cannot be followed"
        if kind == "del":
            return None
        return f"used as {kind}"


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

    # The files themselves: pkgutil.iter_modules imports inspect, which
    # costs a cold scan's start-up more than the rules do.
    for name in sorted(os.listdir(_rules.__path__[0])):
        if name.endswith(".py") and not name.startswith("_"):
            importlib.import_module(f"{_rules.__name__}.{name[:-3]}")


def rules() -> list[Rule]:
    """All rules, ordered by lint code."""
    _load()
    return sorted(_RULES.values(), key=lambda r: r.code)


def rule_of_kind(kind: str) -> Rule | None:
    """The registered rule of ``kind``, or None."""
    _load()
    return _RULES.get(kind)


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


def constructor_rule(qualname: str) -> Rule | None:
    rule = rule_for(qualname)
    return rule if rule is not None and qualname in rule.constructors else None


def tracked_names() -> tuple[frozenset, frozenset]:
    """``(roots, exact)``: what the resolver records references to."""
    roots = frozenset(n.split(".")[0] for r in rules() for n in r.names)
    exact = frozenset(n for r in rules() for n in r.call_names) | {"offramp.bootstrap"}
    return roots, exact


def text_rules() -> list[Rule]:
    """Rules that recognise string constants (settings, environment names)."""
    return [r for r in rules() if type(r).check_text is not Rule.check_text]


def needles() -> tuple[bytes, ...]:
    return tuple(sorted({n for r in rules() for n in r.needles}))
