"""Functions that give back an eventlet-made object, and their callers.

nova's ``utils.spawn(f)`` returns ``pass_context(_get_default_green_pool()
.spawn, f)``: a green thread, made in another file than the one that
``.kill()``s it.  Following such an object takes two steps:

* per file, inside its cached analysis: :func:`summarise` tells which
  top-level functions return, on every path, an object of one eventlet
  constructor (``spawn`` returns what ``GreenPool.spawn`` makes).  It is
  proven from the file's own facts: a return of a constructor call, of a
  place only ever bound to such objects, of a call to another summarised
  function, or of ``param(...)`` where the caller passes an eventlet
  callable (a pool's bound ``.spawn``).  Anything else gives no summary.
  The file's own calls to those functions are followed in that analysis.
* per tree, after every file is analysed: :func:`follow` names each
  summarised function by its module (``nova.utils.spawn``) and analyses
  again, with those wrappers as constructors, the few files whose text
  calls one, and only their parts that name one; the calls and uses this
  finds join the file's first findings.

A wrapper's callers are followed one file deep: a wrapper of a wrapper
in a third file is not.  A getter of a kept object (``return
DEFAULT_GREEN_POOL``) is not followed either: its calls make nothing.
``rewrite`` never sees wrappers: it only rewrites what it can prove from
eventlet's own names.
"""

from __future__ import annotations

import os

from offramp.migrate._registry import constructor_rule


def maker(qualname: str, wrappers) -> str | None:
    """The eventlet constructor whose object a call of ``qualname`` gives."""
    qualname = wrappers.get(qualname, qualname)
    return qualname if constructor_rule(qualname) is not None else None


def local_name(module: str, name: str) -> str:
    """How the file's own references name its top-level function ``name``
    (``_Walker.def_qualname``)."""
    return f"{module}.{name}" if module else name


def summarise(facts, wrappers) -> tuple[dict, set]:
    """``(summaries, names)``: the constructor each provable top-level
    function's result comes from, by function name; and the names a part
    of the file must mention to take part (summarised functions, and those
    given an eventlet callable), for ``_fragments``."""
    if not facts.returns:
        return {}, set()
    proof = _Proof(facts, wrappers)
    summaries = {}
    for name, _ in facts.returns:
        made = proof.of(name)
        # A getter of a kept object (a pool) makes nothing when called: its
        # calls are not creations, so only functions that make a new object
        # each time are followed (the getter still serves the proof).
        if isinstance(made, str) and proof.fresh(name):
            summaries[name] = made
    # Parts must keep every function a proof stood on, a getter included.
    proven = {name for name, made in proof.memo.items() if made is not None}
    return summaries, set(summaries) | proven | proof.handed


class _Proof:
    def __init__(self, facts, wrappers):
        self.facts = facts
        self.wrappers = wrappers
        self.returns = dict(facts.returns)
        self.memo: dict[str, object] = {}
        self._places = None
        self.handed: set[str] = set()  # functions given an eventlet callable or object
        self.kept: set = set()  # places whose object outlives a call (a global's)

    def of(self, name: str):
        """A constructor's qualname, ``("runs", i)`` when the function returns
        what its positional parameter ``i`` returns when called, or None."""
        if name in self.memo:
            return self.memo[name]
        self.memo[name] = None  # a recursive call proves nothing
        values = self.returns.get(name)
        given = {self._given(v) for v in values} if values else {None}
        self.memo[name] = given.pop() if len(given) == 1 else None
        return self.memo[name]

    def fresh(self, name: str, seen: frozenset = frozenset()) -> bool:
        """Whether every call of ``name`` makes a new object, rather than
        giving back one kept in a place."""
        if name in seen:
            return False
        for value in self.returns.get(name) or ():
            if value[0] == "place" and (value[1] in self.kept or value[1][0] != "L"):
                return False
            if value[0] == "call" and value[1][0] == "def" \
                    and not isinstance(self.of(value[1][1]), tuple) \
                    and not self.fresh(value[1][1], seen | {name}):
                return False
        return True

    def _given(self, value):
        if value[0] == "call" and value[1][0] == "param":
            return ("runs", value[1][1])
        return self.made(value)

    def made(self, value) -> str | None:
        """The constructor of the object ``value`` evaluates to."""
        if value[0] == "place":
            return self.places().get(value[1])
        if value[0] != "call":
            return None
        callee, args = value[1], value[2]
        if callee[0] in ("def", "free"):
            for arg in args:
                if self.called(arg) or self.made(arg):
                    self.handed.add(callee[1])
        if callee[0] == "def":
            inner = self.of(callee[1])
            if isinstance(inner, tuple):
                i = inner[1]
                return self.called(args[i]) if i < len(args) else None
            return inner
        return self.called(callee)

    def called(self, value) -> str | None:
        """The constructor of what calling the callable ``value`` makes."""
        kind = value[0]
        if kind == "qual":
            return maker(value[1], self.wrappers)
        if kind == "def":
            inner = self.of(value[1])
            return inner if isinstance(inner, str) else None
        if kind == "attr":
            made = self.made(value[1])
            rule = constructor_rule(made) if made else None
            return rule.makes.get(value[2]) if rule is not None else None
        return None

    def places(self) -> dict:
        """Locals and globals that only ever hold objects of one
        constructor (a ``None`` aside): file key -> constructor."""
        if self._places is None:
            from offramp.migrate._plan import Project, SourceFile

            self._places = {}
            if not any(ref.shape[0] == "call" and maker(ref.qualname, self.wrappers)
                       for ref in self.facts.refs):
                return self._places
            project = Project([SourceFile("", self.facts.module, self.facts)],
                              makers=self.wrappers)
            groups, stores, _uses, binds = project.object_groups()
            for items, keys in groups:
                made = {maker(ref.qualname, self.wrappers) for _, ref, _, _ in items}
                if len(made) != 1 or any(
                        (f, occ.span) not in binds and occ.shape[1][0] != "none"
                        for key in keys for f, occ in stores[key]):
                    continue
                qualname = made.pop()
                kept = any(key[0] == "G" for key in keys)  # outlives a call
                for key in keys:
                    if key[0] not in ("L", "G"):
                        continue
                    place = ("L", key[2], key[3]) if key[0] == "L" else ("G", key[2])
                    self._places[place] = qualname
                    if kept:
                        self.kept.add(place)
        return self._places


def follow(files, analyses: list, cache=None) -> None:
    """Analyse again, with the tree's wrappers, the files that call them.

    ``files`` are ``(path, data)`` of the analysed files, ``analyses`` their
    analyses, in the same order; a re-analysed file's analysis gains what
    the wrappers add (their calls, the uses of what they return) where its
    first one has no finding of that kind.  A file is re-analysed only when
    its text can call a wrapper (:func:`_may_call`), and only the parts
    that mention them (``analyze`` given wrappers): the resolver decides
    the rest.  On nova that is 8 files and 20 ms in one process, so it
    runs on every core too.
    """
    from offramp.migrate._analyze import Analysis
    from offramp.migrate._batch import analyze_files
    from offramp.migrate._walk import ModuleNames

    names = ModuleNames()
    wrappers = {}
    for (path, _), analysis in zip(files, analyses):
        if analysis.returns:
            module = names.name(os.path.abspath(path))[0]
            for name, made in analysis.returns.items():
                wrappers[f"{module}.{name}"] = made
    if not wrappers:
        return
    again, jobs_list = [], []
    for i, (path, data) in enumerate(files):
        named = [(qualname, made) for qualname, made in sorted(wrappers.items())
                 if _may_call(data, qualname)]
        if not named:
            continue
        module = names.name(os.path.abspath(path))[0]
        mine = tuple((q, made) for q, made in named if q.rpartition(".")[0] != module)
        if mine:
            again.append(i)
            jobs_list.append((data, module, mine))
    for i, extra in zip(again, analyze_files(jobs_list, cache)):
        first = analyses[i]
        have = {(f.line, f.col, f.rule.kind) for f in first.findings}
        added = [f for f in extra.findings if (f.line, f.col, f.rule.kind) not in have]
        if added:
            found = sorted(first.findings + added, key=lambda f: (f.line, f.col))
            analyses[i] = Analysis(found, first.imports, first.error, first.returns)


def _may_call(data: bytes, qualname: str) -> bool:
    """Whether a file's text can call ``pkg.mod.func``: it says ``mod.func``
    (``from pkg import mod``, ``import pkg.mod``), or names ``func`` on a
    ``from ...mod import`` line.  One ``bytes.find`` pass for most files:
    this runs on every analysed file."""
    module, _, func = qualname.rpartition(".")
    last, name = module.rpartition(".")[2].encode(), func.encode()
    dotted, head = last + b".", last + b" import"
    at = data.find(name)
    while at >= 0:
        end = at + len(name)
        if (at == 0 or data[at - 1] not in _WORD) and (end == len(data) or data[end] not in _WORD):
            start = at - len(dotted)
            if start >= 0 and data.startswith(dotted, start) and (
                    start == 0 or data[start - 1] not in _WORD):
                return True
            line = data.rfind(b"\n", 0, at) + 1
            if head in data[line:at]:
                return True
        at = data.find(name, end)
    return False


_WORD = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
