"""``offramp rewrite``: libcst codemods for the mechanical swaps.

Two walks over one metadata-wrapped tree.  The first collects import
bindings, reference counts and candidate edits from every rule's
``renames``/``rewrite_call``/instance ``methods``; between the walks the
plan is checked (instance objects whose every use is safe, no name clashes
with the new imports); the second walk applies the edits, drops eventlet
import aliases whose every reference was rewritten, and adds the new
imports.  Everything else, comments and formatting included, is kept: the
output is the input tree with a few nodes swapped.

Instance rewrites (Event, GreenPool) need the whole file before deciding,
which is why this is not the single dispatching walk ``scan`` uses.
"""

from __future__ import annotations

import difflib
import itertools
import os
import stat
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor
from libcst.metadata import (ExpressionContext, ExpressionContextProvider, MetadataWrapper,
                             ParentNodeProvider, PositionProvider)

from offramp.migrate._registry import Rule, call_rules, rule_for, rules
from offramp.migrate._walk import DEFAULT_EXCLUDES, walk

_EMPTY = cst.Module([])
_ids = itertools.count()


def _code(node: cst.CSTNode) -> str:
    return _EMPTY.code_for_node(node)


def _dotted(node: cst.CSTNode) -> list[str] | None:
    parts = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    return parts[::-1]


@dataclass
class _Binding:
    local: str
    qualname: str
    alias: cst.ImportAlias
    eventlet: bool


@dataclass
class _Edit:
    node: cst.CSTNode
    build: Callable[[cst.CSTNode], cst.CSTNode]  # updated node -> replacement
    imports: tuple[str, ...] = ()
    head: str | None = None  # local name the replaced reference went through
    group: int = field(default_factory=lambda: next(_ids))  # all-or-nothing set

    @property
    def new_heads(self) -> set[str]:
        return {m.split(".")[0] for m in self.imports}


def _replace_with(dotted: str):
    return lambda _updated: cst.parse_expression(dotted)


class _Collector(cst.CSTVisitor):
    """First walk: bindings, references and candidate edits."""

    METADATA_DEPENDENCIES = (ExpressionContextProvider, ParentNodeProvider, PositionProvider)

    def __init__(self) -> None:
        super().__init__()
        self.bindings: dict[str, list[_Binding]] = defaultdict(list)
        self.loads: Counter[str] = Counter()
        self.stores: set[str] = set()
        self.edits: list[_Edit] = []
        self.keywords: set[int] = set()  # f(sleep=1): names, not references
        self.no_rename: set[int] = set()  # callees of calls replaced whole
        self.occurrences: dict[str, list[cst.CSTNode]] = defaultdict(list)
        self.constructions: list[tuple[cst.Call, Rule]] = []
        self.constructors = {c: r for r in rules() for c in r.constructors}
        self.call_rules = call_rules()
        self.positions = {}  # filled from the wrapper once the walk is done
        self.notes: list[tuple[cst.CSTNode, str]] = []

    def line(self, node: cst.CSTNode) -> int:
        return self.positions[node].start.line

    def qualify(self, node: cst.CSTNode) -> tuple[str, str] | None:
        """``(qualified name, head local)`` of a dotted reference."""
        parts = _dotted(node)
        if not parts or not self.bindings.get(parts[0]):
            return None
        return ".".join([self.bindings[parts[0]][-1].qualname, *parts[1:]]), parts[0]

    def _bind(self, local: str, qualname: str, alias: cst.ImportAlias) -> None:
        self.bindings[local].append(
            _Binding(local, qualname, alias, qualname.split(".")[0] == "eventlet"))

    def visit_Import(self, node: cst.Import) -> bool:
        for alias in node.names:
            name = _code(alias.name)
            if alias.asname:
                self._bind(alias.asname.name.value, name, alias)
            else:
                self._bind(name.split(".")[0], name.split(".")[0], alias)
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        if node.relative or node.module is None or isinstance(node.names, cst.ImportStar):
            return False
        module = _code(node.module)
        for alias in node.names:
            local = alias.asname.name.value if alias.asname else _code(alias.name)
            self._bind(local, f"{module}.{_code(alias.name)}", alias)
        return False

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None:  # f(sleep=1) is not a reference
            self.keywords.add(id(node.keyword))

    def visit_Name(self, node: cst.Name) -> None:
        ctx = self.get_metadata(ExpressionContextProvider, node, None)
        if id(node) in self.keywords or ctx is None:
            return
        self.occurrences[node.value].append(node)
        if ctx is ExpressionContext.STORE:
            self.stores.add(node.value)
        elif ctx is ExpressionContext.LOAD:
            self.loads[node.value] += 1
            self._maybe_rename(node)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        ctx = self.get_metadata(ExpressionContextProvider, node, None)
        parts = _dotted(node)
        if parts is None or ctx is None:
            return
        self.occurrences[".".join(parts)].append(node)
        if ctx is ExpressionContext.LOAD:
            self._maybe_rename(node)

    def _maybe_rename(self, node: cst.CSTNode) -> None:
        found = None if id(node) in self.no_rename else self.qualify(node)
        if not found:
            return
        qualname, head = found
        rule = rule_for(qualname)
        new = rule.renames.get(qualname) if rule else None
        if new:
            self.edits.append(_Edit(node, _replace_with(new), (new.rsplit(".", 1)[0],), head))
            call = self.get_metadata(ParentNodeProvider, node)
            if rule.result_note and isinstance(call, cst.Call) and call.func is node \
                    and not isinstance(self.get_metadata(ParentNodeProvider, call), cst.Expr):
                self.notes.append((node, f"{qualname} -> {new}: {rule.result_note}"))

    def visit_Call(self, node: cst.Call) -> None:
        found = self.qualify(node.func)
        if not found:
            return
        qualname, head = found
        if qualname in self.constructors:
            self.constructions.append((node, self.constructors[qualname]))
        owner = rule_for(qualname)
        for rule in ([owner] if owner else []) + self.call_rules:
            result = rule.rewrite_call(qualname, node)
            if result:
                new, imports = result
                self.edits.append(_Edit(node, lambda _u, new=new: new, imports, head))
                self.no_rename.add(id(node.func))
                return


@dataclass
class Result:
    """The outcome for one source: new bytes, and what was left alone why."""

    old: bytes
    new: bytes
    reports: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def changed(self) -> bool:
        return self.old != self.new


def _plan_instances(c: _Collector, parent, reports: list[str]) -> None:
    """Edits for Event/GreenPool objects whose every use maps safely."""
    groups: dict[str, list[tuple[cst.Call, Rule, cst.CSTNode]]] = defaultdict(list)
    for call, rule in c.constructions:
        assign = parent(call)
        target = assign.targets[0].target if isinstance(assign, cst.Assign) \
            and len(assign.targets) == 1 and assign.value is call else None
        if target is None or _dotted(target) is None:
            reports.append(f"line {c.line(call)}: {rule.kind} not rewritten: "
                           f"the new object is not assigned to a plain name")
            continue
        groups[_code(target)].append((call, rule, target))
    for key, items in groups.items():
        problems, edits, notes = _plan_object(c, key, items, parent)
        line = c.line(items[0][0])
        if problems:
            reports.append(f"line {line}: {items[0][1].kind} {key!r} not rewritten: "
                           + "; ".join(problems))
        else:
            c.edits.extend(edits)
            reports.extend(f"line {line}: rewritten, {note}" for note in notes)


def _plan_object(c: _Collector, key: str, items, parent):
    """``(problems, edits, notes)`` for every use of one bound object."""
    rule = items[0][1]
    group = next(_ids)
    problems, edits, notes = [], [], []
    targets = {id(t) for _, _, t in items}
    uses = []  # (node, call, method)
    for node in c.occurrences.get(key, []):
        if id(node) in targets:
            continue
        found = _method_use(rule, key, node, parent)
        if isinstance(found, str):
            problems.append(f"line {c.line(node)}: {found}")
        else:
            uses.append((node, *found))
    if any(r is not rule for _, r, _ in items):
        problems.append(f"{key} is bound to different types")
    collecting = any(m.last for _, _, m in uses)
    for index, (node, call, method) in enumerate(uses):
        if method.last and index != len(uses) - 1:
            problems.append(f"line {c.line(node)}: {key}.{call.func.attr.value}() "
                            f"is not the last use of {key}")
    if collecting and rule.setup:
        extra = _assigned_name(rule.setup.format(obj=key))
        if "." in key:
            problems.append(f"{key} is an attribute: the work to wait for cannot be tracked")
        elif extra in c.occurrences or extra in c.stores:
            problems.append(f"{extra} is already used in this file")
        elif len(items) > 1:
            problems.append(f"{key} is bound more than once")
        else:
            line = parent(parent(items[0][0]))  # Call -> Assign -> statement line
            edits.append(_Edit(line, _append_statement(rule.setup.format(obj=key)), group=group))
    for call, _, _ in items:
        head = _dotted(call.func)[0]
        edits.append(_Edit(call, _render(rule.new_constructor, key), rule.constructor_imports,
                           head, group))
        if call.args and rule.constructor_note:
            notes.append(f"{rule.kind} {key!r}: {rule.constructor_note}")
    for _, call, method in uses:
        template = method.collect if collecting and method.collect else method.template
        edits.append(_Edit(call, _render(template, key), method.imports, group=group))
    return problems, edits, notes


def _method_use(rule: Rule, key: str, node, parent):
    """Why this use of ``key`` blocks the rewrite, or ``(call, method)``."""
    attr = parent(node)
    call = parent(attr) if isinstance(attr, cst.Attribute) and attr.value is node else None
    if not isinstance(call, cst.Call) or call.func is not attr:
        return f"{key} is used other than by calling a method"
    name = attr.attr.value
    method = rule.methods.get(name)
    if method is None:
        return f"{key}.{name}() has no {rule.new_constructor.split('(')[0]} equivalent"
    if method.no_args and call.args:
        return f"{key}.{name}() is called with arguments"
    if method.statement and not isinstance(parent(call), cst.Expr):
        return f"the result of {key}.{name}() is used"
    return call, method


def _assigned_name(statement: str) -> str:
    return statement.split("=", 1)[0].strip()


class _FillArgs(cst.CSTTransformer):
    """Put the original call's arguments where a template says ``ARGS``."""

    def __init__(self, args) -> None:
        super().__init__()
        self.args = args

    def leave_Call(self, original, updated):
        if len(updated.args) == 1 and isinstance(updated.args[0].value, cst.Name) \
                and updated.args[0].value.value == "ARGS":
            return updated.with_changes(args=self.args)
        return updated


def _render(template: str, obj: str):
    expr = cst.parse_expression(template.replace("{obj}", obj))
    return lambda updated: expr.visit(_FillArgs(updated.args))


def _append_statement(code: str):
    extra = cst.parse_statement(code)
    return lambda updated: cst.FlattenSentinel([updated, extra])


def _resolve_clashes(c: _Collector, reports: list[str]) -> set[str]:
    """Drop edits whose new import would be shadowed; return removable locals."""
    while True:
        per_head = Counter(e.head for e in c.edits if e.head)
        removable = {local for local, binds in c.bindings.items()
                     if all(b.eventlet for b in binds) and c.loads[local]
                     and per_head[local] == c.loads[local]}
        bad = set()
        for name in {h for e in c.edits for h in e.new_heads}:
            binds = c.bindings.get(name, [])
            if name in c.stores or any(b.qualname != name for b in binds) and name not in removable:
                bad.add(name)
        if not bad:
            return removable
        groups = {e.group for e in c.edits if e.new_heads & bad}
        for e in c.edits:
            if e.group in groups and e.new_heads & bad:
                reports.append(f"line {c.line(e.node)}: not rewritten: "
                               f"{', '.join(sorted(e.new_heads & bad))} is already bound here")
        c.edits = [e for e in c.edits if e.group not in groups]


class _Apply(cst.CSTTransformer):
    """Second walk: swap planned nodes, prune emptied eventlet imports."""

    def __init__(self, edits: dict[int, _Edit], drop: set[int]) -> None:
        super().__init__()
        self.edits, self.drop = edits, drop

    def on_leave(self, original, updated):
        edit = self.edits.get(id(original))
        if edit is not None:
            return edit.build(updated)
        if isinstance(original, (cst.Import, cst.ImportFrom)) and self.drop \
                and not isinstance(original.names, cst.ImportStar):
            kept = [u for o, u in zip(original.names, updated.names) if id(o) not in self.drop]
            if not kept:
                return cst.RemoveFromParent()
            if len(kept) < len(original.names):
                kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
                return updated.with_changes(names=kept)
        if isinstance(original, cst.SimpleStatementLine) and not updated.body:
            return cst.RemoveFromParent()
        return super().on_leave(original, updated)


def rewrite_source(source: bytes) -> Result:
    """Rewrite one module's bytes; unparseable input comes back unchanged."""
    try:
        wrapper = MetadataWrapper(cst.parse_module(source))
    except (cst.ParserSyntaxError, UnicodeDecodeError, SyntaxError, ValueError) as exc:
        return Result(source, source, error=f"cannot parse: {str(exc).splitlines()[0]}")
    collector = _Collector()
    wrapper.visit(collector)
    collector.positions = wrapper.resolve(PositionProvider)
    parents = wrapper.resolve(ParentNodeProvider)
    reports: list[str] = []
    _plan_instances(collector, parents.get, reports)
    removable = _resolve_clashes(collector, reports)
    kept = {id(e.node) for e in collector.edits}
    reports += [f"line {collector.line(node)}: rewritten, {note}"
                for node, note in collector.notes if id(node) in kept]
    if not collector.edits:
        return Result(source, source, reports)
    drop = {id(b.alias) for local in removable for b in collector.bindings[local]}
    tree = wrapper.module.visit(_Apply({id(e.node): e for e in collector.edits}, drop))
    context = CodemodContext()
    for module in sorted({m for e in collector.edits for m in e.imports}):
        AddImportsVisitor.add_needed_import(context, module)
    tree = AddImportsVisitor(context).transform_module(tree)
    return Result(source, tree.bytes, reports)


@dataclass
class FileResult:
    path: str  # as shown to the user
    result: Result

    def diff(self) -> str:
        old = self.result.old.decode("utf-8", "replace").splitlines(keepends=True)
        new = self.result.new.decode("utf-8", "replace").splitlines(keepends=True)
        shown = self.path.lstrip("/")
        return "".join(difflib.unified_diff(old, new, f"a/{shown}", f"b/{shown}"))


def atomic_write(path: str, data: bytes) -> None:
    """Replace ``path`` in one step, keeping its permission bits."""
    mode = stat.S_IMODE(os.stat(path).st_mode)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".offramp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def rewrite_tree(root: str, write: bool = False,
                 excludes: tuple[str, ...] = DEFAULT_EXCLUDES) -> tuple[list[FileResult], list[str]]:
    """Rewrite ``.py`` files under ``root``; returns results and refusals.

    Files are written through their resolved path, and only when that path
    is inside the resolved ``root``: a symlink out of the tree is refused.
    """
    if not os.path.exists(root):
        raise FileNotFoundError(f"no such file or directory: {root}")
    real_root = os.path.realpath(root)
    single = not os.path.isdir(real_root)
    base = os.path.dirname(real_root) if single else real_root
    results, refused, seen = [], [], set()
    for entry in walk(root, excludes):
        if not (single or entry.rel.endswith(".py")):
            continue
        real = os.path.realpath(entry.path)
        if os.path.commonpath([base, real]) != base:
            refused.append(f"{entry.path}: resolves to {real}, outside {root}; refused")
            continue
        if real in seen:
            continue
        seen.add(real)
        with open(real, "rb") as fh:
            result = rewrite_source(fh.read())
        shown = entry.path if single else os.path.join(root, entry.rel)
        if write and result.changed and not result.error:
            atomic_write(real, result.new)
        results.append(FileResult(shown, result))
    return results, refused
