"""The tree-wide pass: which fixes the whole run proves safe.

Input: the :class:`~offramp.migrate._facts.FileFacts` of every parsed
file.  Output: a :class:`Plan`, the fixes to make and the ones refused,
each refusal with its reason and the ``file:line`` of the use that blocks
it.  Nothing here parses or edits source.

Objects (a Semaphore, an Event, a spawn result...) are followed through
the places they are bound to: a local, a module global (also when another
module reads ``utils.POOL``), an attribute (by name, in every file: a
``w.stop.send()`` anywhere is a use of every ``.stop``), and the aliases
between them (``p = self._pool``), and into containers (``lst.append(e)``
... ``for e in lst``; the elements of aliased containers are joined too).
Places joined by an alias form one object, rewritten all at once or not
at all; an object held in a container is never rewritten (the container
may be passed where its uses cannot be seen), only reported by scan.

Besides each rule's own conditions, a fix is refused when:

* a test patches what it changes (``mock.patch('eventlet.sleep')``,
  ``patch.object(x, '_pool')``, ``greenthread.spawn_after = Mock()``), or
  patches what it would call instead (``mock.patch('time.sleep')``);
* the class is used as a value (``isinstance(x, Semaphore)``, ``spec=``);
* it would run an ``offramp.*`` call at import time (module level, class
  body, default argument, decorator), before any bootstrap, or inside
  offramp itself;
* a line says ``# offramp: keep`` (or is inside such a block or file);
* a name it needs is bound to something else where it would be used.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from types import SimpleNamespace
from typing import NamedTuple

from offramp.migrate._facts import MAX_NESTING, key_nesting
from offramp.migrate._registry import (Edit, Fix, Refusal, call_rules, constructor_rule,
                                       rule_for)

STDLIB_MODULES = frozenset(sys.stdlib_module_names)


class SourceFile(NamedTuple):
    """One file of the run, as the pass sees it."""

    path: str  # as shown to the user
    module: str
    facts: object  # FileFacts
    kept: tuple = ()  # (first, last) line ranges under "# offramp: keep"
    keep_file: bool = False


class Plan(SimpleNamespace):
    """``fixes`` (``Fix``) and ``refusals`` (``Refusal``), and per file the
    modules to import and the import ids to remove."""

    def __init__(self) -> None:
        super().__init__(fixes=[], refusals=[], add_imports=defaultdict(set),
                         remove_imports=defaultdict(set))

    def edits_by_file(self) -> dict[int, list[Edit]]:
        out = defaultdict(list)
        for fix in self.fixes:
            for edit in fix.edits:
                out[edit.file].append(edit)
        return out


class _UnionFind:
    def __init__(self):
        self.parent = {}

    def find(self, x):
        parent = self.parent
        parent.setdefault(x, x)
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[ra] = rb


def _inside(inner, outer) -> bool:
    return (inner[0], inner[1]) >= (outer[0], outer[1]) and (inner[2], inner[3]) <= (outer[2], outer[3])


class Project:
    def __init__(self, files: list[SourceFile], known_modules=(), makers=None):
        self.files = files
        # Scan only: functions that return an eventlet object, as the
        # constructor whose object they return (``_returns``).
        self.makers = makers or {}
        counts = defaultdict(int)
        for f in files:
            counts[f.module] += 1
        # Two loose scripts of one name are not one module.
        self.modules = {f.module: i for i, f in enumerate(files) if f.module and counts[f.module] == 1}
        self.known = set(known_modules) | set(self.modules)
        self.patched_quals: dict[str, tuple] = {}  # qualname -> (file, line, kind)
        self.patched_keys: dict[tuple, tuple] = {}  # tree key -> (file, line)
        self.class_values: dict[str, tuple] = {}  # constructor qualname -> (file, line, why)

    # -- keys --------------------------------------------------------------
    def tree_key(self, file: int, key):
        kind = key[0]
        if kind == "L":
            return ("L", file, key[1], key[2])
        if kind == "G":
            module = self.files[file].module
            return ("G", module if module in self.modules else f"#{file}", key[1])
        if kind == "A":
            return key
        if kind in ("E", "T"):  # a container's element, a tuple's position
            inner = self.tree_key(file, key[1])
            return (kind, inner, key[2]) if inner is not None else None
        return self.qual_key(key[1])

    def qual_key(self, qualname: str):
        """A tree place for ``pkg.mod.NAME`` or ``pkg.mod.Class.attr``."""
        parts = qualname.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            module = ".".join(parts[:cut])
            if module in self.known:
                rest = parts[cut:]
                if len(rest) == 1:
                    return ("G", module, rest[0])
                return ("A", rest[-1])
        return None

    def resolve_dotted(self, dotted: str):
        """A dotted string (a mock target) as ``(qualname, tree key)``."""
        parts = dotted.split(".")
        if parts[0] in ("eventlet", "greenlet", "time", "threading", "queue"):
            return dotted, None
        for cut in range(len(parts) - 1, 0, -1):
            module = ".".join(parts[:cut])
            if module in self.known:
                index = self.modules.get(module)
                rest = parts[cut:]
                alias = self.files[index].facts.exports.get(rest[0]) if index is not None else None
                if alias is not None:
                    return ".".join([alias, *rest[1:]]), None
                if len(rest) == 1:
                    return None, ("G", module, rest[0])
                return None, ("A", rest[-1])
        return None, None

    # -- what tests patch and classes used as values ---------------------------
    def collect_blocks(self) -> None:
        for i, f in enumerate(self.files):
            facts = f.facts
            for span, text, _scope, new_kind in facts.strings:
                qual, key = self.resolve_dotted(text)
                if qual is not None:
                    self.patched_quals.setdefault(qual, (i, span[0], new_kind))
                if key is not None:
                    self.patched_keys.setdefault(key, (i, span[0]))
            for span, base, attr in facts.patches:
                if base:
                    qual = f"{base}.{attr}"
                    key = self.qual_key(qual) if base in self.known else None
                    if key is not None:
                        self.patched_keys.setdefault(key, (i, span[0]))
                    else:
                        self.patched_quals.setdefault(qual, (i, span[0], "mock"))
                else:
                    self.patched_keys.setdefault(("A", attr), (i, span[0]))
            for ref in facts.refs:
                kind = ref.shape[0]
                if kind in ("store", "setattr", "del"):
                    self.patched_quals.setdefault(ref.qualname, (i, ref.span[0], "mock"))
                elif kind not in ("call", "annotation") and constructor_rule(ref.qualname):
                    why = "used as a value" + (f" ({ref.shape[1]})" if kind == "escape" else "")
                    self.class_values.setdefault(ref.qualname, (i, ref.span[0], why))

    def patch_of(self, qualname: str):
        """Where a test patches ``qualname``, something under it, or above it."""
        for qual, where in self.patched_quals.items():
            if qual == qualname or qual.startswith(qualname + ".") \
                    or qualname.startswith(qual + "."):
                if qual.split(".")[0] in ("eventlet", "greenlet") or qual == qualname:
                    return qual, where
        return None

    def destination_patch(self, module_attr: str):
        """A test's mock of what a fix would call instead (``time.sleep``)."""
        where = self.patched_quals.get(module_attr)
        if where is not None and where[2] == "mock":
            return where
        return None

    # -- the plan --------------------------------------------------------------
    def plan(self) -> Plan:
        self.collect_blocks()
        plan = Plan()
        consumed_refs: set[tuple] = set()  # (file, span) of creation refs handled as objects
        candidates: list[Fix | Refusal] = []
        candidates += self._objects(consumed_refs)
        candidates += self._references(consumed_refs)
        for item in candidates:
            if isinstance(item, Refusal):
                plan.refusals.append(item)
                continue
            why = self._common_checks(item)
            if why is not None:
                first = item.edits[0] if item.edits else None
                plan.refusals.append(Refusal(item.what, why[0], first.file if first else why[1],
                                             first.span[0] if first else why[2]))
            else:
                plan.fixes.append(item)
        self._imports(plan)
        return plan

    def _kept(self, file: int, line: int):
        f = self.files[file]
        if f.keep_file:
            return True
        return any(a <= line <= b for a, b in f.kept)

    def _common_checks(self, fix: Fix):
        for edit in fix.edits:
            if self._kept(edit.file, edit.span[0]):
                return "kept by an '# offramp: keep' pragma", edit.file, edit.span[0]
        for file, line, _scope, import_time in fix.offramp_calls:
            module = self.files[file].module
            if module == "offramp" or module.startswith("offramp."):
                return ("offramp's own code must not call its public API (the eventlet backend "
                        "would call itself)", file, line)
            if import_time:
                return ("the offramp call would run when the module is imported (module level, "
                        "class body, default argument or decorator), before any bootstrap",
                        file, line)
        for file, module, _scope in fix.imports:
            if module == "time":
                where = self.destination_patch("time.sleep")
                if where is not None and "time.sleep" in fix.what:
                    return ("time.sleep is mocked by a test, these sleeps would start going "
                            f"through that mock ({self._at(where[0], where[1])})",
                            where[0], where[1])
        return None

    # -- references --------------------------------------------------------
    def _references(self, consumed) -> list:
        out = []
        crules = call_rules()
        for i, f in enumerate(self.files):
            for ref in f.facts.refs:
                if (i, ref.span) in consumed:
                    continue
                rule = rule_for(ref.qualname)
                owners = [rule] if rule is not None else []
                if ref.shape[0] == "call":
                    owners += [r for r in crules if r.check_call(ref.qualname, ref.shape[1])]
                for owner in owners:
                    item = owner.fix_ref(ref, i)
                    if item is None:
                        continue
                    if isinstance(item, Fix):
                        why = self._ref_checks(i, ref)
                        if why is not None:
                            item = Refusal(item.what, why[0], i, ref.span[0])
                    out.append(item)
                    break
        return out

    def _ref_checks(self, file: int, ref):
        if ref.head < 0 or not ref.certain:
            return ("the name is not bound by an import alone (an alias, a parameter or "
                    "several bindings)", file, ref.span[0])
        patch = self.patch_of(ref.qualname)
        if patch is not None:
            qual, (pfile, pline, _) = patch
            return (f"a test patches {qual}, the patch would no longer apply "
                    f"({self._at(pfile, pline)})", pfile, pline)
        return None

    # -- objects -------------------------------------------------------------
    def _objects(self, consumed) -> list:
        groups, stores, uses, bind_targets = self.object_groups()
        out = []
        for items, keys in groups:
            for file, ref, _, _ in items:
                consumed.add((file, ref.span))
            out.append(self._plan_object(items, keys, stores, uses, bind_targets))
        return out

    def object_groups(self):
        """Every eventlet-made object and where it goes, for rewrite and scan.

        Returns ``(groups, stores, uses, bind_targets)``: ``groups`` is a list
        of ``(creations, places)``, a creation being ``(file, ref, rule,
        bound place or None)``; ``stores``/``uses`` map a place to its
        ``(file, occurrence)`` pairs; ``bind_targets`` are the ``(file,
        span)`` of stores that bind a creation or an alias.
        """
        uf = _UnionFind()
        creations = []  # (file, ref, rule, bound tree key or None)
        stores = defaultdict(list)  # tree key -> [(file, occurrence)]
        uses = defaultdict(list)  # tree key -> [(file, occurrence)]
        bind_targets: set[tuple] = set()  # (file, span) of stores that are alias/creation binds
        for i, f in enumerate(self.files):
            for ref in f.facts.refs:
                rule = constructor_rule(self.makers.get(ref.qualname, ref.qualname))
                if rule is None or ref.shape[0] != "call":
                    continue
                result = ref.shape[1].result
                key = None
                if result[0] == "bind":
                    key = self.tree_key(i, result[1])
                    if key is not None:
                        uf.find(key)
                        bind_targets.add((i, result[2]))
                creations.append((i, ref, rule, key))
            for occ in f.facts.occurrences:
                key = self.tree_key(i, occ.key)
                if key is None:
                    continue
                if occ.shape[0] == "store":
                    stores[key].append((i, occ))
                    continue
                uses[key].append((i, occ))
                if key[0] in ("E", "T"):
                    uf.find(key)  # so that aliases of its container reach it
                if occ.shape[0] == "bind":
                    target = self.tree_key(i, occ.shape[1])
                    if target is not None:
                        uf.union(key, target)
                        bind_targets.add((i, occ.shape[2]))
        _join_elements(uf)
        groups = defaultdict(list)  # root -> creations
        for item in creations:
            key = item[3]
            groups[uf.find(key) if key is not None else ("anon", item[0], item[1].span)].append(item)
        members = defaultdict(set)
        for key in list(uf.parent):
            root = uf.find(key)
            if root in groups:
                members[root].add(key)
        return ([(items, members.get(root, set())) for root, items in groups.items()],
                stores, uses, bind_targets)

    def object_uses(self, items, keys, uses) -> list:
        """``(file, span, shape, scope, import_time)`` of every use of one
        object: its places' uses, and the results of creations not bound."""
        out = []
        for key in keys:
            for f, occ in uses[key]:
                if occ.shape[0] == "bind" and self.tree_key(f, occ.shape[1]) in keys:
                    continue  # an alias inside the object
                out.append((f, occ.span, occ.shape, occ.scope, occ.import_time))
        for f, ref, _, key in items:
            if key is None:
                out.append((f, ref.span, ref.shape[1].result, ref.scope, ref.import_time))
        return out

    def _at(self, file: int, line: int) -> str:
        return f"{self.files[file].path}:{line}"

    def _plan_object(self, items, keys, stores, uses, bind_targets):
        file0, ref0, rule, _ = items[0]
        what = f"{ref0.qualname}()"

        def refuse(reason):
            return Refusal(what, reason, file0, ref0.span[0])

        if len({id(r) for _, _, r, _ in items}) > 1:
            return refuse("the same place holds objects of different kinds")
        held = next((k for k in sorted(keys, key=repr) if k[0] in ("E", "T")), None)
        if held is not None:
            # Scan follows it; a container can be passed on, so its
            # elements' uses are not proven complete for a rewrite.
            return refuse(f"it is stored in a container ({_show(held)}): its uses cannot "
                          "all be seen")
        for qual in {ref.qualname for _, ref, _, _ in items}:
            if qual in self.class_values:
                f, line, why = self.class_values[qual]
                return refuse(f"the class {qual} is {why}: its objects cannot change type "
                              f"({self._at(f, line)})")
            patch = self.patch_of(qual)
            if patch is not None:
                p, (f, line, _) = patch
                return refuse(f"a test patches {p} ({self._at(f, line)})")
        for key in sorted(keys, key=repr):
            if key in self.patched_keys:
                f, line = self.patched_keys[key]
                return refuse(f"a test patches {_show(key)} ({self._at(f, line)})")
            for f, occ in stores[key]:
                if (f, occ.span) in bind_targets:
                    continue
                if occ.shape[1][0] == "none":
                    continue
                return refuse(f"{_show(key)} is also assigned another value "
                              f"({self._at(f, occ.span[0])})")
        all_uses = self.object_uses(items, keys, uses)
        shapes = [u[2] for u in all_uses]
        edits, imports, offramp_calls = [], [], []
        for f, ref, _, _ in items:
            if not ref.certain or ref.head < 0:
                return refuse("the constructor is not reached through an import alone "
                              f"({self._at(f, ref.span[0])})")
            result = rule.ctor_edit(ref.qualname, ref.shape[1], shapes)
            if isinstance(result, str):
                return refuse(f"{result} ({self._at(f, ref.span[0])})")
            new, mods, keep_args = result
            call = ref.shape[1]
            edits.append(Edit(f, call.span, ("call", new, keep_args)))
            imports += [(f, m, ref.scope) for m in mods]
            if new.startswith("offramp."):
                offramp_calls.append((f, ref.span[0], ref.scope, ref.import_time))
        read = False
        for f, span, shape, scope, _ in all_uses:
            op = rule.use_edit(shape)
            if isinstance(op, str):
                return refuse(f"{op} ({self._at(f, span[0])})")
            if op is None:
                continue
            read = True
            ops = op if isinstance(op[0], tuple) else (op,)
            for one in ops:
                if one[0] == "rename":
                    edits.append(Edit(f, shape[2].span, ("method", one[1])))
                elif one[0] == "rename-result":
                    result = shape[2].result
                    edits.append(Edit(f, result[2].span, ("method", one[1])))
        if rule.must_be_read and not read:
            return refuse(rule.must_be_read)
        places = ", ".join(sorted(_show(k) for k in keys)) or "not bound"
        return Fix(f"{what} -> {edits[0].op[1]} ({places})", tuple(edits), tuple(imports),
                   tuple(offramp_calls))

    # -- imports -------------------------------------------------------------
    def _imports(self, plan: Plan) -> None:
        """Imports to add and remove; fixes whose new name would be shadowed
        are refused (repeated until stable, a refusal can keep an import)."""
        while True:
            remove = self._removable(plan)
            for fix in plan.fixes:  # an import a fix needs stays
                for file, module, _ in fix.imports:
                    for imp in self.files[file].facts.imports:
                        if imp.scope == 0 and imp.local == module and imp.qualname == module \
                                and not imp.is_from:
                            remove.get(file, set()).discard(imp.id)
            bad = []
            for fix in plan.fixes:
                why = self._shadowed(fix, remove)
                if why is not None:
                    bad.append((fix, why))
            if not bad:
                break
            for fix, (reason, f, line) in bad:
                plan.fixes.remove(fix)
                plan.refusals.append(Refusal(fix.what, reason, f, line))
        plan.remove_imports = remove
        for fix in plan.fixes:
            for file, module, _ in fix.imports:
                if not self._has_import(file, module, remove.get(file, set())):
                    plan.add_imports[file].add(module)

    def _removable(self, plan: Plan) -> dict:
        """Import ids whose every reference an accepted edit replaces."""
        by_file = plan.edits_by_file()
        out = defaultdict(set)
        for file, edits in by_file.items():
            facts = self.files[file].facts
            consumed = defaultdict(int)
            spans = [e.span for e in edits]
            for ref in facts.refs:
                if ref.head >= 0 and any(_inside(ref.span, s) for s in spans):
                    consumed[ref.head] += 1
            groups = defaultdict(list)
            for imp in facts.imports:
                if not imp.star:
                    groups[(imp.scope, imp.local)].append(imp)
            for (scope, local), imps in groups.items():
                uses = sum(facts.import_uses.get(imp.id, 0) for imp in imps)
                used = sum(consumed.get(imp.id, 0) for imp in imps)
                if uses and used == uses and not (scope == 0 and local in facts.all_names):
                    out[file].update(imp.id for imp in imps)
        return out

    def _has_import(self, file: int, module: str, removed: set) -> bool:
        return any(imp.scope == 0 and imp.local == module and imp.qualname == module
                   and not imp.is_from and imp.id not in removed
                   for imp in self.files[file].facts.imports)

    def _shadowed(self, fix: Fix, remove: dict):
        for file, module, scope in fix.imports:
            facts = self.files[file].facts
            removed = remove.get(file, set())
            if self._has_import(file, module, removed):
                top_ok = True
            else:
                top_ok = not any(imp.scope == 0 and imp.local == module and imp.id not in removed
                                 for imp in facts.imports) \
                    and not self._bound_otherwise(facts, 0, module)
            if not top_ok:
                return (f"{module} is already bound to something else in this module",
                        file, fix.edits[0].span[0])
            s = scope
            first = True
            while s > 0:
                sc = facts.scopes[s]
                if (sc.kind != "class" or first) and module in facts.scope_names[s]:
                    return (f"{module} is a local name where it would be used "
                            f"(in {sc.name})", file, fix.edits[0].span[0])
                first = False
                s = sc.parent
        return None

    @staticmethod
    def _bound_otherwise(facts, scope: int, name: str) -> bool:
        """Bound in ``scope`` by something other than an import."""
        if name not in facts.scope_names[scope]:
            return False
        imports = sum(1 for imp in facts.imports if imp.scope == scope and imp.local == name)
        stores = sum(1 for occ in facts.occurrences
                     if occ.key == ("G", name) and occ.shape[0] == "store")
        return stores > 0 or imports == 0


def _join_elements(uf: _UnionFind) -> None:
    """Aliased containers hold the same elements: once ``a`` and ``b`` are
    one place, so are ``a``'s and ``b``'s elements (and, in turn, what is
    read out of them).  Repeated until stable; it ends because only keys
    already present, and one canonical key per element place, take part;
    a canonical key nested deeper than the facts allow is left out."""
    changed = True
    while changed:
        changed = False
        for key in list(uf.parent):
            if key[0] in ("E", "T"):
                canon = (key[0], uf.find(key[1]), key[2])
                if key_nesting(canon) > MAX_NESTING:
                    continue  # a container holding itself (x = x[k]) nests no further
                if uf.find(canon) != uf.find(key):
                    uf.union(key, canon)
                    changed = True


def _show(key) -> str:
    kind = key[0]
    if kind == "E":
        return f"{_show(key[1])}[...]"
    if kind == "T":
        return f"{_show(key[1])}[{key[2]}]"
    if kind == "A":
        return f".{key[1]}"
    if kind == "G":
        return f"{key[1]}.{key[2]}"
    if kind == "L":
        return key[3]
    return repr(key)

