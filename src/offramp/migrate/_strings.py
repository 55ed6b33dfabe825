"""Strings in a module that may name another module: the loads grimp cannot see.

Projects load managers, drivers and plugins by name: nova's
``SERVICE_MANAGERS`` maps ``'nova-compute'`` to
``'nova.compute.manager.ComputeManager'``, read by
``importutils.import_class``; configuration options default to class
paths; stevedore loads the entry points of a namespace.  This module reads
one file's syntax tree and reports the string constants that could be such
names, each with the construct it sits in.  Which of them name a module of
the project is decided by the caller, who knows the project's modules.
"""

from __future__ import annotations

import ast
import re
import warnings
from types import SimpleNamespace
from typing import NamedTuple

# Calls that load a module or object from a dotted name (importlib,
# oslo.utils.importutils, werkzeug, Django, pkgutil...).
IMPORT_CALLS = frozenset({
    "import_module", "import_class", "import_object", "import_object_ns",
    "import_any", "import_string", "import_versioned_module", "__import__",
    "resolve_name", "locate",
})
# oslo.config: cfg.StrOpt('driver', default='pkg.mod.Class').
_OPT_RE = re.compile(r"Opt$")
# A dotted start, possibly from the module's own name: 'pkg.virt.', '{__name__}._'.
_PREFIX_RE = re.compile(r"^(?:\{__(?:name|package)__\}|[A-Za-z_])[\w.]*$")
SELF_NAMES = ("__name__", "__package__")


class StringRef(NamedTuple):
    value: str
    line: int
    # constant | import call | config default | map | import prefix
    context: str
    call: str | None = None  # the import call's name
    map_name: str | None = None  # a dict bound to this name
    key: str | None = None  # the dict key of this value


class Lookup(NamedTuple):
    """``NAME['key']`` or ``NAME.get('key')``: a constant key read from a map."""

    map_name: str
    key: str
    line: int


class ModuleStrings(SimpleNamespace):
    """A module's ``refs`` and ``lookups``, or the ``error`` that kept them."""

    def __init__(self, error: str | None = None) -> None:
        super().__init__(refs=[], lookups=[], error=error)


def _last_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _text(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _prefix(node: ast.AST) -> str | None:
    """The constant start of a name built at run time, up to the first variable part.

    ``'pkg.virt.%s' % x`` and ``'pkg.virt.' + x`` give ``pkg.virt.``;
    ``f'{__name__}._{mode}'`` gives ``{__name__}._``, the module's own name
    being filled in by the caller (``{__package__}`` likewise).
    """
    text = None
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mod, ast.Add)):
        text = _text(node.left)
        if text is not None and isinstance(node.op, ast.Mod):
            text = text.split("%", 1)[0]
    elif isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if _text(value) is not None:
                parts.append(value.value)
            elif isinstance(value, ast.FormattedValue) and isinstance(value.value, ast.Name) \
                    and value.value.id in SELF_NAMES and value.format_spec is None:
                parts.append("{" + value.value.id + "}")
            else:
                break
        text = "".join(parts)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
            and node.func.attr == "format" and _text(node.func.value) is not None:
        text = node.func.value.value.split("{", 1)[0]
    return text if text and _PREFIX_RE.match(text) else None


class _Visitor(ast.NodeVisitor):
    def __init__(self) -> None:
        self.out = ModuleStrings()
        self.done: set[int] = set()  # constants already reported in a context

    def _ref(self, node: ast.AST, context: str, **kw) -> None:
        value = _text(node)
        if value is not None:
            self.done.add(id(node))
            self.out.refs.append(StringRef(value, node.lineno, context, **kw))

    def visit_Expr(self, node: ast.Expr) -> None:
        if _text(node.value) is None:  # docstrings and bare strings name nothing
            self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        if isinstance(node.value, ast.Dict):
            for target in node.targets:
                name = _last_name(target)
                if name:
                    self._map(node.value, name)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if isinstance(node.value, ast.Dict):
            name = _last_name(node.target)
            if name:
                self._map(node.value, name)
        self.generic_visit(node)

    def _map(self, node: ast.Dict, name: str) -> None:
        """A dict of string keys bound to a name: a table that code indexes."""
        keys = [_text(k) for k in node.keys]
        if not keys or any(k is None for k in keys):
            return
        for key, value in zip(keys, node.values):
            self._ref(value, "map", map_name=name, key=key)

    def visit_Call(self, node: ast.Call) -> None:
        func = _last_name(node.func)
        if func in IMPORT_CALLS and node.args:
            first = node.args[0]
            if func == "import_object_ns":
                # import_object_ns('pkg.virt', name): tried under the namespace first.
                value = _text(first)
                if value is not None:
                    self.done.add(id(first))
                    self.out.refs.append(StringRef(value.rstrip(".") + ".", first.lineno,
                                                   "import prefix", func))
            elif _text(first) is not None:
                self._ref(first, "import call", call=func)
            else:
                prefix = _prefix(first)
                if prefix:
                    self.out.refs.append(StringRef(prefix, first.lineno, "import prefix", func))
        if func and _OPT_RE.search(func):
            for kw in node.keywords:
                if kw.arg == "default":
                    self._ref(kw.value, "config default", call=func)
        if func == "get" and isinstance(node.func, ast.Attribute) and node.args:
            owner, key = _last_name(node.func.value), _text(node.args[0])
            if owner and key is not None:
                self.out.lookups.append(Lookup(owner, key, node.lineno))
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        owner, key = _last_name(node.value), _text(node.slice)
        if owner and key is not None:
            self.out.lookups.append(Lookup(owner, key, node.lineno))
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and id(node) not in self.done:
            self.out.refs.append(StringRef(node.value, node.lineno, "constant"))


def module_strings(source: bytes) -> ModuleStrings:
    """The candidate names in one module's source."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return ModuleStrings(error=f"{type(exc).__name__}: {exc}")
    visitor = _Visitor()
    visitor.visit(tree)
    return visitor.out
