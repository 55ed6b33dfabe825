"""The one name resolver: what a Python file says, as plain data.

``scan``, ``lint`` and ``rewrite`` all start from :func:`file_facts`, one
walk of the stdlib ``ast`` tree that resolves names the way Python does:

* scopes: module, class body, function (and lambda), comprehension; a
  class body is not visible from its methods; ``global``/``nonlocal``;
* bindings: ``import a.b as c``, ``from x import y as z``, relative
  imports, assignment aliases (``sl = eventlet.sleep``),
  ``__import__('eventlet')`` and ``importlib.import_module(...)``;
  a name bound more than once in a scope is resolved, but not *certain*.

The result (:class:`FileFacts`) holds only tuples, strings and numbers:
it pickles cheaply (a process pool computes it) and depends on nothing
but the file's bytes and its module name, so it can be cached by content
hash.  Positions are ``ast``'s: 1-based lines, columns in UTF-8 bytes.

What is recorded, besides imports:

* ``refs``: every reference whose qualified name the rules track
  (``eventlet.*``, ``greenlet.*`` and the exact names call rules ask
  for), with the *shape* of its use (called, read, stored...);
* ``occurrences``: every load and store of a place that may hold an
  object (a local or module-global assigned in the file, any attribute,
  a global of another module reached through an import), again with its
  shape.  The tree-wide pass (``_plan``) follows eventlet-made objects
  through these, across files; also the element places of containers
  (``("E", container, "seq" | "map")``, ``("T", place, position)``):
  what ``append``/``setdefault``/``C[k] =`` put in and ``for``,
  ``items()``, ``get()``, ``C[k]`` read back;
* ``strings`` and ``patches``: dotted strings given to calls
  (``mock.patch('a.b.c')``) and ``patch.object(obj, 'name')`` targets;
* ``texts``: string constants that mention eventlet or greenlet in code
  (not docstrings), with where they sit: ``executor='eventlet'``,
  ``environ['eventlet.posthooks']``, ``'EVENTLET_NO_GREENDNS'``.

A shape is a small tuple: ``("call", CallInfo)``, ``("method", name,
CallInfo)``, ``("attr", name)``, ``("discard",)``, ``("bind", targets)``,
``("with",)``, ``("is",)``, ``("test",)``, ``("store", value)``,
``("escape", why)``, ``("annotation",)``, ``("del",)``.
"""

from __future__ import annotations

import ast
import re
import sys
import warnings
from typing import NamedTuple

# Above this size a file is not parsed (generated code, dumps).
MAX_PARSE_BYTES = 8 * 1024 * 1024

_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
_PATCH_OBJECT = frozenset({"object", "setattr", "MockPatchObject", "patch_object"})
_MODULE_LOADERS = frozenset({"importlib.import_module"})
_GREEN_TEXT = re.compile("eventlet|greenlet", re.I).search
_STDLIB = frozenset(sys.stdlib_module_names)

Span = tuple  # (line, col, end_line, end_col); col in UTF-8 bytes, 0-based
Key = tuple  # ("L", scope, name) | ("G", name) | ("A", attr) | ("Q", qualname)


class CallInfo(NamedTuple):
    span: Span
    func_span: Span
    nargs: int
    keywords: tuple  # keyword names (None for **kwargs)
    star: bool  # *args present
    literals: tuple  # per positional argument: ("lit", value), ("name", qualname), ("expr",)
    result: tuple  # shape of the call's value
    kwliterals: tuple = ()  # per keyword, as ``literals``


class Ref(NamedTuple):
    span: Span  # the dotted name (outermost node of the chain)
    qualname: str
    certain: bool  # every binding of the head agrees (rewrites need it)
    head: int  # import binding id of the chain head, or -1
    scope: int
    import_time: bool  # runs when the module is imported
    shape: tuple


class Occurrence(NamedTuple):
    key: Key
    span: Span
    shape: tuple
    scope: int
    import_time: bool


class ImportFact(NamedTuple):
    id: int
    stmt_span: Span
    local: str  # the name it binds
    qualname: str  # what that name refers to
    module: str  # the imported module (for the import graph)
    scope: int
    top: bool  # a statement of the module's leading import block
    alone: bool  # the only statement of its block (deleting needs ``pass``)
    aliases: int  # names in the statement
    is_from: bool
    star: bool = False


class Scope(NamedTuple):
    kind: str  # module | class | function | comprehension
    parent: int
    name: str
    span: Span


class FileFacts(NamedTuple):
    module: str
    error: str | None
    refs: tuple
    occurrences: tuple
    imports: tuple
    import_uses: dict  # import id -> number of references through it
    strings: tuple  # (span, text, scope, "mock" | "inert")
    patches: tuple  # (span, base qualname or "", attribute)
    scopes: tuple
    scope_names: tuple  # per scope: frozenset of the names it binds
    exports: dict  # module-level name -> qualname it aliases (certain)
    all_names: frozenset  # strings in __all__
    top_block_end: int  # last line of the leading import block (0 if none)
    first_stmt_line: int  # line where the first non-docstring statement starts
    future_end: int  # last line of the docstring and ``from __future__`` imports
    # (span, text, context): context is ("keyword", name), ("key",),
    # ("argument", callee), ("compare",), ("value",) or ("other",).
    texts: tuple = ()
    # (name, values): each top-level ``def`` that returns a value on every
    # path (it ends in ``return``; not async, a generator or decorated; its
    # name bound by it alone) and what each of its ``return`` statements
    # gives, as a :meth:`_Resolver.value`.
    returns: tuple = ()


_OTHER = ("other",)
# Container methods that put their argument in: name -> (argument index,
# number of arguments, element kind).
_INSERTS = {"append": (0, 1, "seq"), "add": (0, 1, "seq"), "insert": (1, 2, "seq"),
            "setdefault": (1, 2, "map")}
# How deep element places nest: a dict of dicts of tuples is 3.
MAX_NESTING = 3


def key_nesting(key) -> int:
    n = 0
    while key[0] in ("E", "T"):
        key = key[1]
        n += 1
    return n

# A ``for`` or comprehension target: its value is unknown here, but it is a
# place an object may be read into from a container (``for gt in threads``).
_ITER = ("iter",)


class _ScopeState:
    __slots__ = ("kind", "parent", "name", "span", "bindings", "globals", "nonlocals", "id")

    def __init__(self, id_, kind, parent, name, span):
        self.id = id_
        self.kind = kind
        self.parent = parent
        self.name = name
        self.span = span
        self.bindings: dict[str, list] = {}
        self.globals: set[str] = set()
        self.nonlocals: set[str] = set()


def _span(node) -> Span:
    return (node.lineno, node.col_offset, node.end_lineno, node.end_col_offset)


def _literal(node):
    if isinstance(node, ast.Constant):
        return ("lit", node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) \
            and isinstance(node.operand, ast.Constant) and type(node.operand.value) in (int, float):
        return ("lit", -node.operand.value)
    return ("expr",)


class _Walker:
    def __init__(self, module: str, tracked_roots: frozenset, tracked_exact: frozenset):
        self.module = module
        self.package = module.rpartition(".")[0]
        self.roots = tracked_roots
        self.exact = tracked_exact
        self.scopes: list[_ScopeState] = []
        self.imports: list[ImportFact] = []
        self.chains: list = []  # (outermost node, head Name node, parts, scope, deferred, ann)
        self.names: list = []  # (Name node, scope, deferred, ann) loads/stores/dels
        self.calls: list = []  # (Call node, scope) with string or patch-like arguments
        self.texts: list = []  # (Constant node, scope) mentioning eventlet or greenlet
        self.all_names: set[str] = set()
        self.functions: list = []  # (name, scope) of top-level defs ending in a return
        self.returns: dict[int, list] = {}  # scope -> returned expressions (None: bare)
        self.generators: set[int] = set()  # scopes that yield
        # Parents by node id: no reference cycles, so a file's tree is freed
        # as soon as its facts are made (cycles made the GC walk every tree).
        self.parents: dict[int, ast.AST] = {}

    # -- scopes and bindings ------------------------------------------------
    def new_scope(self, kind, parent, name, node) -> int:
        sid = len(self.scopes)
        span = _span(node) if hasattr(node, "lineno") else (1, 0, 1, 0)
        self.scopes.append(_ScopeState(sid, kind, parent, name, span))
        return sid

    def bind(self, scope: int, name: str, value) -> None:
        s = self.scopes[scope]
        if name in s.globals:
            s = self.scopes[0]
        elif name in s.nonlocals:
            target = self._enclosing_binder(s.parent, name)
            s = self.scopes[target] if target is not None else s
        s.bindings.setdefault(name, []).append(value)

    def _enclosing_binder(self, scope: int, name: str):
        while scope >= 0:
            s = self.scopes[scope]
            if s.kind == "function" and name in s.bindings:
                return scope
            scope = s.parent
        return None

    def store_scope(self, scope: int, name: str) -> int:
        """The scope whose binding a store of ``name`` in ``scope`` makes."""
        s = self.scopes[scope]
        if name in s.globals:
            return 0
        if name in s.nonlocals:
            target = self._enclosing_binder(s.parent, name)
            return target if target is not None else scope
        return scope

    def lookup(self, scope: int, name: str):
        """``(scope id, bindings)`` a load of ``name`` in ``scope`` reads."""
        s = self.scopes[scope]
        if name in s.globals:
            s0 = self.scopes[0]
            return 0, s0.bindings.get(name)
        if name in s.nonlocals:
            target = self._enclosing_binder(s.parent, name)
            if target is not None:
                return target, self.scopes[target].bindings[name]
        if name in s.bindings:
            return scope, s.bindings[name]
        scope = s.parent
        while scope >= 0:
            s = self.scopes[scope]
            if s.kind != "class" and name in s.bindings:
                return scope, s.bindings[name]
            if s.kind == "module":
                break
            scope = s.parent
        return 0, self.scopes[0].bindings.get(name)

    def def_qualname(self, name: str) -> str:
        """What a top-level ``def`` of this module is called from anywhere."""
        return f"{self.module}.{name}" if self.module else name

    # -- the walk --------------------------------------------------------------
    def visit(self, node, scope, deferred, ann=False):
        # One dict lookup per node: a walk visits tens of thousands.
        method = _VISITORS.get(type(node))
        if method is not None:
            method(self, node, scope, deferred, ann)
        else:
            self.children(node, scope, deferred, ann)

    def children(self, node, scope, deferred, ann=False):
        for field in node._fields:
            value = getattr(node, field, None)
            if type(value) is list:
                for item in value:
                    if isinstance(item, ast.AST):
                        self.parents[id(item)] = node
                        self.visit(item, scope, deferred, ann)
            elif isinstance(value, ast.AST):
                self.parents[id(value)] = node
                self.visit(value, scope, deferred, ann)

    def sub(self, node, parent, scope, deferred, ann=False):
        if node is not None:
            self.parents[id(node)] = parent
            self.visit(node, scope, deferred, ann)

    def v_Module(self, node, scope, deferred, ann):
        self.children(node, scope, deferred)

    def _arguments(self, args: ast.arguments, owner, outer, deferred):
        """Defaults and annotations run in the enclosing scope."""
        self.parents[id(args)] = owner
        for d in args.defaults + [d for d in args.kw_defaults if d is not None]:
            self.sub(d, args, outer, deferred)
        for a in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]:
            if a is not None and a.annotation is not None:
                self.parents[id(a)] = args
                self.sub(a.annotation, a, outer, deferred, True)

    def _bind_params(self, args: ast.arguments, inner):
        positional = args.posonlyargs + args.args
        defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
        for i, (a, d) in enumerate(zip(positional + args.kwonlyargs,
                                       defaults + list(args.kw_defaults))):
            self.bind(inner, a.arg, ("param", d, i if i < len(positional) else None))
        for a in (args.vararg, args.kwarg):
            if a is not None:
                self.bind(inner, a.arg, _OTHER)

    def v_FunctionDef(self, node, scope, deferred, ann):
        for d in node.decorator_list:
            self.sub(d, node, scope, deferred)
        self._arguments(node.args, node, scope, deferred)
        if node.returns is not None:
            self.sub(node.returns, node, scope, deferred, True)
        sync = type(node) is ast.FunctionDef
        self.bind(scope, node.name, ("def", len(self.scopes)) if sync else _OTHER)
        inner = self.new_scope("function", scope, node.name, node)
        self._bind_params(node.args, inner)
        for stmt in node.body:
            self.sub(stmt, node, inner, True)
        if sync and scope == 0 and not node.decorator_list \
                and type(node.body[-1]) is ast.Return:
            self.functions.append((node.name, inner))

    v_AsyncFunctionDef = v_FunctionDef

    def v_Return(self, node, scope, deferred, ann):
        self.returns.setdefault(scope, []).append(node.value)
        self.children(node, scope, deferred, ann)

    def v_Yield(self, node, scope, deferred, ann):
        self.generators.add(scope)
        self.children(node, scope, deferred, ann)

    v_YieldFrom = v_Yield

    def v_Lambda(self, node, scope, deferred, ann):
        self._arguments(node.args, node, scope, deferred)
        inner = self.new_scope("function", scope, "<lambda>", node)
        self._bind_params(node.args, inner)
        self.sub(node.body, node, inner, True)

    def v_ClassDef(self, node, scope, deferred, ann):
        for d in node.decorator_list + node.bases:
            self.sub(d, node, scope, deferred)
        for k in node.keywords:
            self.parents[id(k)] = node
            self.sub(k.value, k, scope, deferred)
        self.bind(scope, node.name, _OTHER)
        inner = self.new_scope("class", scope, node.name, node)
        for stmt in node.body:
            self.sub(stmt, node, inner, deferred)

    def _comprehension(self, node, scope, deferred, elements):
        gens = node.generators
        self.parents[id(gens[0])] = node
        self.sub(gens[0].iter, gens[0], scope, deferred)
        inner = self.new_scope("comprehension", scope, "<comp>", node)
        for i, gen in enumerate(gens):
            self.parents[id(gen)] = node
            self._bind_target(gen.target, inner, _ITER)
            if i:
                self.sub(gen.iter, gen, inner, deferred)
            self.sub(gen.target, gen, inner, deferred)
            for cond in gen.ifs:
                self.sub(cond, gen, inner, deferred)
        for e in elements:
            self.sub(e, node, inner, deferred)

    def v_ListComp(self, node, scope, deferred, ann):
        self._comprehension(node, scope, deferred, [node.elt])

    v_SetComp = v_GeneratorExp = v_ListComp

    def v_DictComp(self, node, scope, deferred, ann):
        self._comprehension(node, scope, deferred, [node.key, node.value])

    def v_Global(self, node, scope, deferred, ann):
        self.scopes[scope].globals.update(node.names)

    def v_Nonlocal(self, node, scope, deferred, ann):
        self.scopes[scope].nonlocals.update(node.names)

    def _import_context(self, node, scope):
        parent = self.parents.get(id(node))
        body = None
        for field in ("body", "orelse", "finalbody", "handlers"):
            block = getattr(parent, field, None)
            if type(block) is list and node in block:
                body = block
                break
        alone = body is not None and len(body) == 1
        top = scope == 0 and isinstance(parent, ast.Module)
        return top, alone

    def v_Import(self, node, scope, deferred, ann):
        top, alone = self._import_context(node, scope)
        for alias in node.names:
            if alias.asname:
                local, qual = alias.asname, alias.name
            else:
                local = qual = alias.name.split(".")[0]
            iid = len(self.imports)
            self.imports.append(ImportFact(iid, _span(node), local, qual, alias.name, scope, top,
                                           alone, len(node.names), False))
            self.bind(scope, local, ("import", qual, iid))

    def v_ImportFrom(self, node, scope, deferred, ann):
        top, alone = self._import_context(node, scope)
        if node.level:
            base = self.module.split(".")
            # A package's own module name is its __init__: level 1 is itself.
            base = base[: len(base) - node.level] if not self._is_package else \
                base[: len(base) - node.level + 1]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        for alias in node.names:
            iid = len(self.imports)
            if alias.name == "*":
                self.imports.append(ImportFact(iid, _span(node), "*", module + ".*", module, scope,
                                               top, alone, len(node.names), True, True))
                continue
            local = alias.asname or alias.name
            qual = f"{module}.{alias.name}" if module else alias.name
            self.imports.append(ImportFact(iid, _span(node), local, qual, module, scope, top,
                                           alone, len(node.names), True))
            self.bind(scope, local, ("import", qual, iid))

    def _bind_target(self, target, scope, value):
        t = type(target)
        if t is ast.Name:
            self.bind(scope, target.id, value)
        elif t in (ast.Tuple, ast.List):
            for elt in target.elts:
                self._bind_target(elt, scope, _ITER if value is _ITER else _OTHER)
        elif t is ast.Starred:
            self._bind_target(target.value, scope, _OTHER)

    def v_Assign(self, node, scope, deferred, ann):
        value = ("assign", node.value) if len(node.targets) == 1 else _OTHER
        for target in node.targets:
            self._bind_target(target, scope, value)
            if scope == 0 and isinstance(target, ast.Name) and target.id == "__all__":
                self._collect_all(node.value)
        self.children(node, scope, deferred)

    def v_AnnAssign(self, node, scope, deferred, ann):
        if node.value is not None:
            self._bind_target(node.target, scope, ("assign", node.value))
        self.sub(node.target, node, scope, deferred)
        self.sub(node.annotation, node, scope, deferred, True)
        self.sub(node.value, node, scope, deferred)

    def v_AugAssign(self, node, scope, deferred, ann):
        if scope == 0 and isinstance(node.target, ast.Name) and node.target.id == "__all__":
            self._collect_all(node.value)
        self.children(node, scope, deferred)

    def v_NamedExpr(self, node, scope, deferred, ann):
        target_scope = scope
        while self.scopes[target_scope].kind == "comprehension":
            target_scope = self.scopes[target_scope].parent
        self.bind(target_scope, node.target.id, ("assign", node.value))
        node.target._walrus_scope = target_scope
        self.children(node, scope, deferred)

    def _collect_all(self, value):
        if isinstance(value, (ast.List, ast.Tuple)):
            for elt in value.elts:
                if isinstance(elt, ast.Constant) and isinstance(elt.value, str):
                    self.all_names.add(elt.value)

    def _bind_other(self, target, scope):
        self._bind_target(target, scope, _OTHER)

    def v_For(self, node, scope, deferred, ann):
        self._bind_target(node.target, scope, _ITER)
        self.children(node, scope, deferred)

    v_AsyncFor = v_For

    def v_withitem(self, node, scope, deferred, ann):
        if node.optional_vars is not None:
            self._bind_other(node.optional_vars, scope)
        self.children(node, scope, deferred)

    def v_ExceptHandler(self, node, scope, deferred, ann):
        if node.name:
            self.bind(scope, node.name, _OTHER)
        self.children(node, scope, deferred)

    def v_Delete(self, node, scope, deferred, ann):
        for target in node.targets:
            self._bind_other(target, scope)
        self.children(node, scope, deferred)

    def v_MatchAs(self, node, scope, deferred, ann):
        if node.name:
            self.bind(scope, node.name, _OTHER)
        self.children(node, scope, deferred)

    v_MatchStar = v_MatchAs

    def v_MatchMapping(self, node, scope, deferred, ann):
        if node.rest:
            self.bind(scope, node.rest, _OTHER)
        self.children(node, scope, deferred)

    def v_Name(self, node, scope, deferred, ann):
        node._s = getattr(node, "_walrus_scope", scope)
        self.names.append((node, scope, deferred, ann))

    def v_Attribute(self, node, scope, deferred, ann):
        parts = []
        inner = node
        while type(inner) is ast.Attribute:
            parts.append(inner)
            inner = inner.value
        if type(inner) is ast.Name:
            # Record the chain once, from its outermost node; set parents.
            for i, part in enumerate(parts):
                nxt = parts[i + 1] if i + 1 < len(parts) else inner
                self.parents[id(nxt)] = part
            inner._s = scope
            self.chains.append((node, inner, parts[::-1], scope, deferred, ann))
        else:
            for i, part in enumerate(parts[:-1]):
                self.parents[id(parts[i + 1])] = part
            last = parts[-1]
            # f().x.y: the attributes of an object built in place.
            self.chains.append((node, None, parts[::-1], scope, deferred, ann))
            self.sub(last.value, last, scope, deferred, ann)

    def v_Call(self, node, scope, deferred, ann):
        for arg in node.args:
            if type(arg) is ast.Constant and type(arg.value) is str:
                self.calls.append((node, scope))
                break
        self.children(node, scope, deferred, ann)

    def v_Constant(self, node, scope, deferred, ann):
        if type(node.value) is str and _GREEN_TEXT(node.value):
            self.texts.append((node, scope))

    def v_JoinedStr(self, node, scope, deferred, ann):
        self.children(node, scope, deferred, ann)


#: Node type -> the walker's ``v_<Type>`` method, for ``_Walker.visit``.
_VISITORS = {getattr(ast, name[2:]): method for name, method in vars(_Walker).items()
             if name.startswith("v_") and isinstance(getattr(ast, name[2:], None), type)}


class _Resolver:
    """After the walk: resolve every name and chain, build the facts."""

    def __init__(self, w: _Walker, objects: bool = True):
        self.w = w
        self.objects = objects
        self._memo: dict[int, tuple] = {}
        self.import_uses: dict[int, int] = {}
        self.refs: list[Ref] = []
        self.occurrences: list[Occurrence] = []

    # -- what a name means -----------------------------------------------------
    def meaning(self, name: str, scope: int, depth: int = 0):
        """``(qualname or None, certain, import id, binding scope, candidate)``.

        ``candidate``: the binding is an assignment, so the place may hold
        an object worth following.
        """
        bscope, bindings = self.w.lookup(scope, name)
        if not bindings:  # a builtin, a star import, or a typo
            return None, False, -1, bscope, False
        quals, iid, candidate = set(), -1, False
        unknown = False
        for b in bindings:
            kind = b[0]
            if kind == "import":
                quals.add(b[1])
                iid = b[2] if iid == -1 else iid
            elif kind == "assign":
                candidate = True
                q = self.value_qualname(b[1], bscope, depth) if depth < 8 else None
                if q is None:
                    unknown = True
                else:
                    quals.add(q)
            elif kind == "iter":
                candidate = True
                unknown = True
            elif kind == "def" and bscope == 0 and self.w.def_qualname(name) in self.w.exact:
                quals.add(self.w.def_qualname(name))  # a function a wrapper summary names
            elif kind == "param" and b[1] is not None:
                q = self.value_qualname(b[1], self.w.scopes[bscope].parent, depth) if depth < 8 else None
                if q is None:
                    unknown = True
                else:
                    quals.add(q)
                unknown = True  # a caller may pass something else
            else:
                unknown = True
        if len(quals) == 1:
            return quals.pop(), not unknown, iid, bscope, candidate
        if quals:  # several meanings: report the first, rewrite nothing
            return sorted(quals)[0], False, iid, bscope, candidate
        return None, False, iid, bscope, candidate

    def value_qualname(self, node, scope: int, depth: int):
        """The qualified name an expression evaluates to, if it is one."""
        t = type(node)
        if t is ast.Name:
            return self.meaning(node.id, scope, depth + 1)[0]
        if t is ast.Attribute:
            base = self.value_qualname(node.value, scope, depth)
            return f"{base}.{node.attr}" if base else None
        # __import__('eventlet'), importlib.import_module('eventlet.green'):
        # the argument must be a dotted name (the ".x" lets a single word match).
        if t is ast.Call and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str) and _DOTTED.fullmatch(node.args[0].value + ".x"):
            func = node.func
            if type(func) is ast.Name and func.id == "__import__" \
                    and not self.w.lookup(scope, "__import__")[1]:
                return node.args[0].value.split(".")[0]
            callee = self.value_qualname(func, scope, depth)
            if callee in _MODULE_LOADERS:
                return node.args[0].value
        return None

    def tracked(self, qualname: str) -> bool:
        return qualname.split(".", 1)[0] in self.w.roots or qualname in self.w.exact

    # -- shapes ----------------------------------------------------------------
    def call_info(self, call: ast.Call, scope: int) -> CallInfo:
        star = any(isinstance(a, ast.Starred) for a in call.args)
        return CallInfo(_span(call), _span(call.func), len(call.args),
                        tuple(k.arg for k in call.keywords), star,
                        tuple(self._argument(a, scope) for a in call.args),
                        self.shape(call, scope),
                        tuple(self._argument(k.value, scope) for k in call.keywords))

    def _argument(self, node, scope):
        lit = _literal(node)
        if lit[0] == "expr" and type(node) in (ast.Name, ast.Attribute):
            q = self.value_qualname(node, scope, 0)
            if q is not None:
                return ("name", q)
        return lit

    def target_key(self, target, scope: int):
        t = type(target)
        if t is ast.Name:
            return self.store_key(target.id, getattr(target, "_walrus_scope", scope)), _span(target)
        if t is ast.Attribute:
            chain_q = self.value_qualname(target.value, scope, 0)
            if chain_q is not None:
                return ("Q", f"{chain_q}.{target.attr}"), _span(target)
            return ("A", target.attr), _span(target)
        if t is ast.Subscript:  # C[k] = x
            return self.container_element(target.value, scope, "map"), _span(target)
        return None, _span(target)

    # -- containers ------------------------------------------------------------
    # An object put into a container is bound to the container's element
    # place: ("E", container key, "seq") for what ``append``/``add``/
    # ``insert`` put in and ``for x in C`` reads, ("E", key, "map") for
    # mapping values (``C[k] = x``, ``setdefault``; read by ``C[k]``,
    # ``get``, ``pop``, ``values()``, ``items()``); ("T", key, i) is
    # position i of a tuple held at ``key``.  Nesting is bounded.

    def place_of(self, node, scope: int, depth: int = 0):
        """The place key an expression names (``lst``, ``self._events``,
        ``self._events[k]``), or None."""
        t = type(node)
        if t is ast.Name:
            bscope, bindings = self.w.lookup(scope, node.id)
            return self._place_key(node.id, bscope) if bindings else None
        if t is ast.Attribute:
            q = self.value_qualname(node.value, scope, 0)
            return ("Q", f"{q}.{node.attr}") if q is not None else ("A", node.attr)
        if t is ast.Subscript and type(node.ctx) is ast.Load:
            return self.container_element(node.value, scope, "map", depth + 1)
        return None

    def container_element(self, container, scope: int, kind: str, depth: int = 0):
        if depth > MAX_NESTING:
            return None
        base = self.place_of(container, scope, depth)
        return ("E", base, kind) if base is not None and key_nesting(base) < MAX_NESTING else None

    def _inserted_into(self, node, call, scope):
        """``C.append(x)``, ``C.add(x)``, ``C.insert(i, x)``, ``C.setdefault(k, x)``."""
        func = call.func
        if type(func) is not ast.Attribute:
            return None
        how = _INSERTS.get(func.attr)
        if how is None or len(call.args) != how[1] or call.keywords \
                or call.args[how[0]] is not node:
            return None
        return self.container_element(func.value, scope, how[2])

    def _literal_slot(self, node, literal, tp, scope):
        """Where ``x`` goes in ``(k, x)``, ``[x]`` or ``{k: x}`` whose value is
        itself bound to a place (``C.append((k, x))``, ``v = [x]``)."""
        if getattr(literal, "ctx", None) is not None and type(literal.ctx) is not ast.Load:
            return None
        if tp is ast.Tuple:
            outer = self.shape(literal, scope)
            if outer[0] != "bind" or outer[1] is None or key_nesting(outer[1]) >= MAX_NESTING:
                return None
            index = next(i for i, e in enumerate(literal.elts) if e is node)
            if any(type(e) is ast.Starred for e in literal.elts[:index + 1]):
                return None
            return ("T", outer[1], index)
        if tp is ast.List or (tp is ast.Dict and any(v is node for v in literal.values)):
            outer = self.shape(literal, scope)
            if outer[0] != "bind" or outer[1] is None or key_nesting(outer[1]) >= MAX_NESTING:
                return None
            return ("E", outer[1], "seq" if tp is ast.List else "map")
        return None

    def element_reads(self, node, key, scope: int, import_time: bool):
        """Occurrences of ``key``'s elements read where ``node`` (the
        container) is used: ``for a, b in C``, ``C.items()``, ``C[k]``..."""
        if key_nesting(key) >= MAX_NESTING:
            return
        parents = self.w.parents
        p = parents.get(id(node))
        tp = type(p)
        if tp in (ast.For, ast.AsyncFor, ast.comprehension) and p.iter is node:
            self._flow(("E", key, "seq"), p.target, scope, import_time)
        elif tp is ast.Subscript and p.value is node and type(p.ctx) is ast.Load:
            self._element_use(("E", key, "map"), p, scope, import_time)
        elif tp is ast.Attribute and p.value is node:
            call = parents.get(id(p))
            if type(call) is not ast.Call or call.func is not p or call.keywords:
                return
            method, nargs = p.attr, len(call.args)
            if method in ("get", "pop", "setdefault") and 1 <= nargs <= 2:
                self._element_use(("E", key, "map"), call, scope, import_time)
            elif method == "pop" and not nargs:
                self._element_use(("E", key, "seq"), call, scope, import_time)
            elif method in ("items", "values") and not nargs:
                loop = parents.get(id(call))
                if type(loop) not in (ast.For, ast.AsyncFor, ast.comprehension) \
                        or loop.iter is not call:
                    return
                target = loop.target
                if method == "items":
                    if type(target) not in (ast.Tuple, ast.List) or len(target.elts) != 2:
                        return
                    target = target.elts[1]
                self._flow(("E", key, "map"), target, scope, import_time)

    def _element_use(self, key, node, scope, import_time):
        self.occurrences.append(Occurrence(key, _span(node), self.shape(node, scope), scope,
                                           import_time))

    def _flow(self, key, target, scope, import_time):
        """A container's element read into a loop target (a name, or a tuple of them)."""
        t = type(target)
        if t is ast.Name:
            place = self.store_key(target.id, target._s)
            self.occurrences.append(Occurrence(key, _span(target), ("bind", place, _span(target)),
                                               scope, import_time))
        elif t in (ast.Tuple, ast.List) and key_nesting(key) < MAX_NESTING:
            for i, elt in enumerate(target.elts):
                if type(elt) is ast.Starred:
                    return
                self._flow(("T", key, i), elt, scope, import_time)

    def store_key(self, name: str, scope: int):
        sid = self.w.store_scope(scope, name)
        kind = self.w.scopes[sid].kind
        if kind == "module":
            return ("G", name)
        if kind == "class":
            return ("A", name)
        return ("L", sid, name)

    def _in_type_expression(self, node, scope: int) -> bool:
        """``ty.Dict[str, eventlet.event.Event]``: typing, not a runtime use."""
        p = self.w.parents.get(id(node))
        while type(p) in (ast.Tuple, ast.List, ast.Subscript, ast.BinOp):
            if type(p) is ast.Subscript and p.slice is not None:
                q = self.value_qualname(p.value, scope, 0)
                if q is not None and q.split(".")[0] in ("typing", "typing_extensions",
                                                         "collections"):
                    return True
            p = self.w.parents.get(id(p))
        return False

    def shape(self, node, scope: int) -> tuple:
        p = self.w.parents.get(id(node))
        tp = type(p)
        if (tp is ast.ExceptHandler and p.type is node) or (
                tp is ast.Tuple and type(self.w.parents.get(id(p))) is ast.ExceptHandler):
            return ("escape", "caught")
        if tp in (ast.Tuple, ast.List, ast.Subscript, ast.BinOp) \
                and self._in_type_expression(node, scope):
            return ("annotation",)
        if tp is ast.Attribute and p.value is node:
            pp = self.w.parents.get(id(p))
            if type(pp) is ast.Call and pp.func is p:
                return ("method", p.attr, self.call_info(pp, scope))
            if type(p.ctx) is not ast.Load:
                return ("setattr", p.attr)
            return ("attr", p.attr)
        if tp is ast.Call:
            if p.func is node:
                return ("call", self.call_info(p, scope))
            key = self._inserted_into(node, p, scope)
            if key is not None:
                return ("bind", key, _span(p.func.value))
            return ("escape", "argument")
        if tp is ast.Expr:
            return ("discard",)
        if tp is ast.Assign and p.value is node:
            if len(p.targets) != 1:
                return ("escape", "assigned to several targets")
            key, span = self.target_key(p.targets[0], scope)
            if key is None:
                return ("escape", "unpacked or stored in a container")
            return ("bind", key, span)
        if tp is ast.AnnAssign and p.value is node:
            key, span = self.target_key(p.target, scope)
            return ("bind", key, span) if key else ("escape", "stored in a container")
        if tp is ast.NamedExpr and p.value is node:
            return ("escape", "walrus")
        if tp is ast.withitem and p.context_expr is node:
            return ("with", p.optional_vars is not None)
        if tp is ast.Compare:
            if all(type(op) in (ast.Is, ast.IsNot) for op in p.ops):
                return ("is",)
            return ("escape", "compared")
        if (tp in (ast.If, ast.While, ast.IfExp, ast.Assert) and p.test is node) \
                or (tp is ast.UnaryOp and type(p.op) is ast.Not):
            return ("test",)
        if tp is ast.BoolOp:
            return ("escape", "boolean operand")
        if tp is ast.Return:
            return ("escape", "returned")
        if tp is ast.keyword:
            return ("escape", f"keyword argument {p.arg}=" if p.arg else "keyword argument")
        if tp in (ast.Yield, ast.YieldFrom):
            return ("escape", "yielded")
        if tp in (ast.List, ast.Tuple, ast.Set, ast.Dict, ast.ListComp, ast.SetComp,
                  ast.DictComp, ast.GeneratorExp):
            key = self._literal_slot(node, p, tp, scope)
            if key is not None:
                return ("bind", key, _span(node))
            return ("escape", "stored in a container")
        if tp is ast.Subscript:
            return ("escape", "subscripted")
        if tp is ast.ClassDef:
            return ("escape", "a base class")
        return ("escape", tp.__name__.lower())

    def node_shape(self, node, scope):
        ctx = getattr(node, "ctx", None)
        if type(ctx) is ast.Store:
            return ("store", self.stored_value(node, scope))
        if type(ctx) is ast.Del:
            return ("del",)
        return self.shape(node, scope)

    def stored_value(self, target, scope):
        p = self.w.parents.get(id(target))
        tp = type(p)
        if tp is ast.Assign and len(p.targets) == 1 and p.targets[0] is target:
            value = p.value
        elif tp is ast.AnnAssign and p.target is target and p.value is not None:
            value = p.value
        else:
            return ("other",)
        if isinstance(value, ast.Constant) and value.value is None:
            return ("none",)
        if type(value) is ast.Call:
            return ("call", _span(value))
        if type(value) in (ast.Name, ast.Attribute):
            return ("alias", _span(value))
        return ("other",)

    # -- resolution ----------------------------------------------------------
    def run(self):
        w = self.w
        for node, head, parts, scope, deferred, ann in w.chains:
            self.chain(node, head, parts, scope, not deferred, ann)
        for node, scope, deferred, ann in w.names:
            if type(node.ctx) is ast.Load:
                self.chain(node, node, [], scope, not deferred, ann)
            else:
                self.name(node, scope, not deferred, ann)

    def _use_import(self, iid):
        if iid >= 0:
            self.import_uses[iid] = self.import_uses.get(iid, 0) + 1

    def _shape_of(self, node, scope, ann):
        return ("annotation",) if ann else self.node_shape(node, scope)

    def _maybe_project(self, qualname: str) -> bool:
        """Could name a module of the tree (not the stdlib): its globals count."""
        root = qualname.split(".", 1)[0]
        return root not in _STDLIB or root == self.w.module.split(".", 1)[0]

    def name(self, node, scope, import_time, ann):
        if type(node.ctx) is ast.Load:
            self.chain(node, node, [], scope, import_time, ann)
            return
        # Stores and deletes: every value a place gets matters.
        if not self.objects:
            return
        sid = self.w.store_scope(node._s, node.id)
        self.occurrences.append(Occurrence(self._place_key(node.id, sid), _span(node),
                                           self.node_shape(node, scope), scope, import_time))

    def _place_key(self, name, bscope):
        kind = self.w.scopes[bscope].kind
        if kind == "module":
            return ("G", name)
        if kind == "class":
            return ("A", name)
        return ("L", bscope, name)

    def chain(self, node, head, parts, scope, import_time, ann):
        """One dotted chain ``head.p1.p2``, recorded from its outermost node."""
        if head is None:
            qual, certain, iid, bscope, candidate = None, False, -1, 0, False
        else:
            qual, certain, iid, bscope, candidate = self.meaning(head.id, scope)
        self._use_import(iid)
        nodes = [head, *parts]
        if qual is not None:
            quals = [qual]
            for part in parts:
                quals.append(f"{quals[-1]}.{part.attr}")
            tracked = [i for i, q in enumerate(quals) if self.tracked(q)]
            if tracked:
                # The longest tracked prefix is the reference: eventlet.queue.Empty.
                i = len(quals) - 1 if self.tracked(quals[0]) else tracked[-1]
                shape = self._shape_of(nodes[i], scope, ann)
                self.refs.append(Ref(_span(nodes[i]), quals[i], certain, iid, scope,
                                     import_time, shape))
                if self.tracked(quals[0]):
                    return
                nodes, quals = nodes[i + 1:], quals[i + 1:]
            if not self.objects:
                return
            if self._maybe_project(qual):
                # Globals of this project's other modules: utils.DEFAULT_GREEN_POOL.
                for n, q in zip(nodes, quals):
                    shape = self._shape_of(n, scope, ann)
                    if shape[0] != "call":
                        self.occurrences.append(Occurrence(("Q", q), _span(n), shape, scope,
                                                           import_time))
                        self.element_reads(n, ("Q", q), scope, import_time)
            if candidate:
                key = self._place_key(head.id, bscope)
                self.occurrences.append(Occurrence(key, _span(head),
                                                   self._shape_of(head, scope, ann), scope,
                                                   import_time))
                self.element_reads(head, key, scope, import_time)
            return
        # An object and its attributes: self._pool.spawn_n, w.stop.send.
        if not self.objects:
            return
        if candidate:
            shape = self._shape_of(head, scope, ann)
            if shape[0] != "call":
                key = self._place_key(head.id, bscope)
                self.occurrences.append(Occurrence(key, _span(head), shape, scope, import_time))
                self.element_reads(head, key, scope, import_time)
        for part in parts:
            shape = self._shape_of(part, scope, ann)
            if shape[0] != "call":
                self.occurrences.append(Occurrence(("A", part.attr), _span(part), shape, scope,
                                                   import_time))
                self.element_reads(part, ("A", part.attr), scope, import_time)

    # -- what functions return ------------------------------------------------
    def returns(self) -> tuple:
        """``FileFacts.returns``: what the module's top-level functions give back."""
        out = []
        module_bindings = self.w.scopes[0].bindings
        for name, scope in self.w.functions:
            # Bound once, by this def: what callers of the name call.
            if scope not in self.w.generators and module_bindings[name] == [("def", scope)]:
                out.append((name, tuple(self.value(v, scope) for v in self.w.returns[scope])))
        return tuple(out)

    def value(self, node, scope: int, depth: int = 0) -> tuple:
        """A returned expression as data: ``("qual", qualname)``, ``("def",
        name)`` (a top-level function of this file), ``("param", index)`` (a
        positional parameter of the function), ``("place", key)`` (a name
        only ever assigned), ``("attr", value, name)``, ``("call", callee,
        positional arguments before any ``*``)``, ``("free", name)`` (bound
        in no part parsed) or ``("other",)``."""
        t = type(node)
        if depth > 4 or node is None:
            return _OTHER
        if t is ast.Call:
            args = []
            for arg in node.args:
                if type(arg) is ast.Starred:
                    break
                args.append(self.value(arg, scope, depth + 1))
            return ("call", self.value(node.func, scope, depth + 1), tuple(args))
        if t is ast.Attribute:
            qual = self.value_qualname(node, scope, 0)
            if qual is not None:
                return ("qual", qual)
            return ("attr", self.value(node.value, scope, depth + 1), node.attr)
        if t is not ast.Name:
            return _OTHER
        qual, certain, _, bscope, _ = self.meaning(node.id, scope)
        if qual is not None:
            return ("qual", qual) if certain else _OTHER
        bindings = self.w.lookup(scope, node.id)[1]
        if not bindings:
            return ("free", node.id)
        kinds = {b[0] for b in bindings}
        if len(bindings) == 1 and kinds == {"param"} and bscope == scope \
                and bindings[0][2] is not None:
            return ("param", bindings[0][2])
        if len(bindings) == 1 and kinds == {"def"} and bscope == 0:
            return ("def", node.id)
        if kinds == {"assign"}:
            return ("place", self._place_key(node.id, bscope))
        return _OTHER

    def texts(self):
        """Where each string mentioning eventlet or greenlet sits."""
        out = []
        parents = self.w.parents
        for node, scope in self.w.texts:
            p = parents.get(id(node))
            tp = type(p)
            if tp is ast.Expr or tp is ast.JoinedStr:
                continue  # docstrings, bare strings, f-string parts: prose
            if tp is ast.keyword:
                context = ("keyword", p.arg)
            elif tp is ast.Subscript and p.slice is node:
                context = ("key",)
            elif tp is ast.Call and node in p.args:
                func = p.func
                context = ("argument", self.value_qualname(func, scope, 0) or (
                    func.attr if type(func) is ast.Attribute else getattr(func, "id", "")))
            elif tp is ast.Compare:
                context = ("compare",)
            elif tp is ast.Dict and node in p.values:
                key = p.keys[p.values.index(node)]
                context = ("keyword", key.value) if type(key) is ast.Constant \
                    and type(key.value) is str else ("value",)
            elif tp in (ast.Assign, ast.AnnAssign, ast.Return):
                context = ("value",)
            else:
                context = ("other",)
            out.append((_span(node), node.value, context))
        return tuple(out)

    def strings_and_patches(self):
        strings, patches = [], []
        for call, scope in self.w.calls:
            args = call.args
            for arg in args:
                if type(arg) is ast.Constant and type(arg.value) is str \
                        and _DOTTED.fullmatch(arg.value):
                    strings.append((_span(arg), arg.value, scope, _replacement_kind(call)))
            if len(args) >= 2 and isinstance(args[1], ast.Constant) \
                    and isinstance(args[1].value, str):
                func = call.func
                name = func.attr if type(func) is ast.Attribute else \
                    func.id if type(func) is ast.Name else ""
                if name in _PATCH_OBJECT:
                    base = self.value_qualname(args[0], scope, 0) or ""
                    patches.append((_span(call), base, args[1].value))
        return tuple(strings), tuple(patches)


def _replacement_kind(call: ast.Call) -> str:
    """What ``mock.patch('x', new)`` puts in place: ``mock`` when the test
    gets a mock it can assert on, ``inert`` for a lambda or a fresh
    ``Mock()`` nobody holds."""
    new = call.args[1] if len(call.args) > 1 else next(
        (k.value for k in call.keywords if k.arg == "new"), None)
    if new is None:
        return "mock"
    if isinstance(new, ast.Lambda):
        return "inert"
    if isinstance(new, ast.Call):
        func = new.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in ("Mock", "MagicMock", "NonCallableMock"):
            return "inert"
    return "mock"


def _module_layout(tree: ast.Module):
    """Lines that bound the leading import block and the docstring/futures."""
    body = tree.body
    i = 0
    future_end = 0
    first_stmt = 0
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        future_end = body[0].end_lineno
        i = 1
    while i < len(body) and isinstance(body[i], ast.ImportFrom) and body[i].module == "__future__":
        future_end = body[i].end_lineno
        i += 1
    if i < len(body):
        first_stmt = body[i].lineno
    block_end = 0
    while i < len(body) and isinstance(body[i], (ast.Import, ast.ImportFrom)):
        block_end = body[i].end_lineno
        i += 1
    return block_end, first_stmt, future_end


def file_facts(source: bytes, module: str = "", is_package: bool = False,
               tracked_roots: frozenset | None = None,
               tracked_exact: frozenset | None = None, objects: bool = True) -> FileFacts:
    """Facts of one Python file's bytes; ``error`` says why there are none.

    ``objects=False`` leaves out the occurrences (what ``scan`` and ``lint``
    do not need): the same references, in about half the time.
    """
    tree = parse(source)
    if isinstance(tree, str):
        return _empty(module, tree)
    return tree_facts(tree, module, is_package, tracked_roots, tracked_exact, objects)


def parse(source: bytes) -> ast.Module | str:
    """The tree of a file's bytes, or why there is none."""
    if len(source) > MAX_PARSE_BYTES:
        return f"larger than {MAX_PARSE_BYTES} bytes, not parsed"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes in old code
            return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return f"{type(exc).__name__}: {exc}"


def _empty(module, error) -> FileFacts:
    return FileFacts(module, error, (), (), (), {}, (), (), (), (), {}, frozenset(), 0, 0, 0)


def tree_facts(tree: ast.Module, module: str = "", is_package: bool = False,
               tracked_roots: frozenset | None = None,
               tracked_exact: frozenset | None = None, objects: bool = True) -> FileFacts:
    """The same, for a tree someone else parsed (flake8)."""
    if tracked_roots is None or tracked_exact is None:
        from offramp.migrate._registry import tracked_names

        tracked_roots, tracked_exact = tracked_names()
    walker = _Walker(module, tracked_roots, tracked_exact)
    walker._is_package = is_package
    walker.new_scope("module", -1, module, tree)
    try:
        walker.visit(tree, 0, False)
    except RecursionError:
        return _empty(module, "RecursionError: too deeply nested to analyse")
    resolver = _Resolver(walker, objects)
    resolver.run()
    strings, patches = resolver.strings_and_patches()
    exports = {}
    for name, bindings in walker.scopes[0].bindings.items():
        qual, certain, *_ = resolver.meaning(name, 0)
        if qual is not None and certain:
            exports[name] = qual
    block_end, first_stmt, future_end = _module_layout(tree)
    refs = sorted(resolver.refs, key=lambda r: r.span)
    return FileFacts(
        module, None, tuple(refs), tuple(resolver.occurrences), tuple(walker.imports),
        resolver.import_uses, strings, patches,
        tuple(Scope(s.kind, s.parent, s.name, s.span) for s in walker.scopes),
        tuple(frozenset(s.bindings) for s in walker.scopes),
        exports, frozenset(walker.all_names), block_end, first_stmt, future_end,
        resolver.texts(), resolver.returns())
