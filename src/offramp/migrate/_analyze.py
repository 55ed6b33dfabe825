"""What ``scan``, ``lint`` and the flake8 plugin report for one file.

A thin view over the shared resolver (``_facts``): every reference the
rules own, every call a call rule matches (``time.sleep(0)``), and dotted
strings naming eventlet (``mock.patch('eventlet.sleep')``).  When the file
does not parse, :func:`analyze` falls back to text matching.
"""

from __future__ import annotations

import functools
import re
from types import SimpleNamespace
from typing import NamedTuple

from offramp.migrate._facts import MAX_PARSE_BYTES, FileFacts, parse, tree_facts
from offramp.migrate._plan import Project, SourceFile
from offramp.migrate._fragments import parse_parts
from offramp.migrate._registry import (Rule, call_rules, constructor_rule, needles, rule_for,
                                       text_rules, tracked_names)
from offramp.migrate._returns import local_name, maker, summarise
from offramp.migrate._strings import IMPORT_CALLS

__all__ = ["MAX_PARSE_BYTES", "Analysis", "Finding", "analyze", "analyze_tree", "analyze_whole",
           "from_facts", "imports_eventlet"]

_IMPORT_RE = re.compile(
    rb"^[ \t]*(?:from[ \t]+eventlet\b|import[ \t]+(?:[\w.]+(?:[ \t]+as[ \t]+\w+)?[ \t]*,[ \t]*)*eventlet\b)",
    re.M)
_QUALNAME_RE = re.compile(rb"\beventlet(?:\.\w+)*", re.I)
_DOTTED_RE = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
_ROOTS = ("eventlet", "greenlet")
_LOADERS = IMPORT_CALLS | {"try_import"}


class Finding(NamedTuple):
    line: int
    col: int  # 1-based, as flake8 prints it
    rule: Rule
    name: str
    # Found in a string (mock.patch('eventlet.sleep')) or by text fallback.
    how: str = "code"

    @property
    def message(self) -> str:
        return self.rule.describe(self.name)


class Analysis(SimpleNamespace):
    """What one file holds: ``findings``; ``imports``, the eventlet imports
    as ``(line, col)``; ``error``, why the tree could not be used; and
    ``returns``, its top-level functions that return an eventlet object
    (name -> the constructor whose object it is, see ``_returns``).

    A plain namespace, not a dataclass: the scan's start-up is measured in
    milliseconds, and the dataclasses module costs some of them.
    """

    def __init__(self, findings: list[Finding] | None = None,
                 imports: list[tuple[int, int]] | None = None, error: str | None = None,
                 returns: dict | None = None) -> None:
        super().__init__(findings=[] if findings is None else findings,
                         imports=[] if imports is None else imports, error=error,
                         returns={} if returns is None else returns)


def analyze(source: bytes, module: str = "", wrappers=()) -> Analysis:
    """Findings and eventlet imports of one Python file's bytes.

    Only the parts of the file that can hold a finding are parsed (see
    ``_fragments``); the findings are those of the whole file.

    With ``wrappers`` (``(qualname, constructor)`` pairs: other files'
    functions that return an eventlet object, see ``_returns``), calls to
    them count as calls to the constructor, and the findings are only
    those the wrappers add: their calls and the uses of what they return.
    Only the parts that mention them are parsed.
    """
    wrappers = dict(wrappers)
    if len(source) <= MAX_PARSE_BYTES:
        # ``utils.spawn`` for ``nova.utils.spawn``: what callers usually say.
        hints = tuple(sorted({".".join(w.split(".")[-2:]).encode() for w in wrappers}))
        parts = parse_parts(source, hints if wrappers else _needles(),
                            lambda tree: _parts_facts(_scanned(tree, module, wrappers), wrappers))
        if parts is not None and not parts[0].facts.error:
            return _result(parts[0], wrappers)
    return analyze_whole(source, module, wrappers.items())


def analyze_whole(source: bytes, module: str = "", wrappers=()) -> Analysis:
    """The same, parsing every line: what :func:`analyze` must agree with."""
    wrappers = dict(wrappers)
    tree = parse(source)
    if isinstance(tree, str):
        return Analysis(error=tree) if wrappers else _text_fallback(source, tree)
    scanned = _scanned(tree, module, wrappers)
    if scanned.facts.error:
        return Analysis(error=scanned.facts.error) if wrappers \
            else _text_fallback(source, scanned.facts.error)
    return _result(scanned, wrappers)


class _Scanned(NamedTuple):
    facts: FileFacts
    makers: dict  # qualname -> constructor, for wrappers or the file's own functions
    returns: dict  # Analysis.returns
    names: set  # the functions a part must mention to take part (``summarise``)


def _scanned(tree, module: str, wrappers: dict) -> _Scanned:
    """The facts of a tree and its functions' return summaries, then the
    facts again with those functions as constructors when there are any
    (its own calls to them make objects too).  Given ``wrappers``, the
    facts with those as constructors, and no summaries."""
    roots, exact = tracked_names()
    facts = tree_facts(tree, module, tracked_roots=roots, tracked_exact=exact | set(wrappers))
    if wrappers:
        return _Scanned(facts, wrappers, {}, set())
    returns, names = summarise(facts, {})
    if not returns:
        return _Scanned(facts, {}, returns, names)
    makers = {local_name(module, n): made for n, made in returns.items()}
    facts = tree_facts(tree, module, tracked_roots=roots, tracked_exact=exact | set(makers))
    return _Scanned(facts, makers, returns, names)


def _parts_facts(scanned: _Scanned, wrappers: dict):
    facts, names = _with_bound_names(scanned.facts, scanned.makers, wrappers)
    return scanned, names | scanned.names


def _result(scanned: _Scanned, wrappers: dict) -> Analysis:
    out = from_facts(scanned.facts, scanned.makers)
    out.returns = scanned.returns
    if wrappers:  # only what the wrappers add
        out.imports = []
        out.findings = [f for f in out.findings if f.name.partition("()")[0] in wrappers]
    return out


@functools.cache
def _needles() -> tuple[bytes, ...]:
    """Every rule's needles; ``eventlet`` and ``greenlet`` stand for any case
    (a string may say ``Eventlet``)."""
    return tuple(sorted({n.lower() if n.lower() in (b"eventlet", b"greenlet") else n
                         for n in needles()}))


def _with_bound_names(facts: FileFacts, makers=None,
                      wrappers=()) -> tuple[FileFacts, frozenset]:
    """The facts, and the module globals and attributes that hold eventlet
    things (``from eventlet import greenthread``, ``sl = eventlet.sleep``,
    ``self._pool = eventlet.GreenPool()``, and aliases of those): a part of
    the file that mentions one of them can hold a finding.  So can a part
    that names one of ``wrappers`` through an import (``utils.spawn`` after
    ``from nova import utils``)."""
    makers = makers or {}
    if wrappers:  # only the wrappers' things (``analyze``)
        def made(qualname):
            return qualname in wrappers

        names = set()
        for imp in facts.imports:
            for wrapper in wrappers:
                if wrapper.startswith(imp.qualname + ".") or wrapper == imp.qualname:
                    names.add(imp.local + wrapper[len(imp.qualname):])
    else:
        def made(qualname):
            return maker(qualname, makers) is not None

        names = {imp.local for imp in facts.imports if imp.qualname.split(".")[0] in _ROOTS}
    for ref in facts.refs:
        shape = ref.shape
        if shape[0] == "bind" and (not wrappers or ref.qualname in wrappers):
            key = shape[1]
        elif shape[0] == "call" and shape[1].result[0] == "bind" and made(ref.qualname):
            key = shape[1].result[1]
        else:
            continue
        # A name (module global, class attribute) can be used anywhere in
        # the file; an object's attribute too (self._pool), but an alias
        # stored in an attribute (m.side_effect = eventlet.sleep) is not
        # followed by the resolver.
        if key[0] == "G" or (key[0] == "A" and (shape[0] == "call" or facts.scopes[
                ref.scope].kind == "class")):
            names.add(key[1])
    names |= _containers_of_eventlet(facts, made)
    grown = True
    while grown:
        grown = False
        for occ in facts.occurrences:
            if occ.shape[0] == "bind" and occ.key[0] in ("G", "A") and occ.key[-1] in names:
                target = occ.shape[1]
                if target[0] in ("G", "A") and target[1] not in names:
                    names.add(target[1])
                    grown = True
    return facts, frozenset(names)


def _container_of(key):
    while key[0] in ("E", "T"):
        key = key[1]
    return key


def _containers_of_eventlet(facts: FileFacts, made) -> set:
    """Globals and attributes that hold eventlet objects in a container
    (``self._events`` in ``self._events.setdefault(k, {}).setdefault(k2,
    Event())``): a part reading them can read such an object."""
    holders = set()
    for ref in facts.refs:
        if ref.shape[0] == "call" and made(ref.qualname):
            result = ref.shape[1].result
            if result[0] == "bind" and result[1][0] in ("E", "T"):
                holders.add(_container_of(result[1]))
    grown = bool(holders)
    while grown:  # x = C.setdefault(k, {}); x.append(obj): C holds them too
        grown = False
        for occ in facts.occurrences:
            if occ.key[0] in ("E", "T") and occ.shape[0] == "bind" and occ.shape[1] in holders:
                base = _container_of(occ.key)
                if base not in holders:
                    holders.add(base)
                    grown = True
    return {key[-1] for key in holders if key[0] in ("G", "A")}


def analyze_tree(tree) -> Analysis:
    """The same, for a tree someone else parsed (flake8)."""
    return _result(_scanned(tree, "", {}), {})


def from_facts(facts: FileFacts, makers=None) -> Analysis:
    """``makers``: functions that return an eventlet object, as the
    constructor whose object it is (``_returns``)."""
    makers = makers or {}
    out = Analysis()
    found = out.findings
    crules = call_rules()
    for ref in facts.refs:
        line, col = ref.span[0], ref.span[1] + 1
        rule = rule_for(ref.qualname)
        if rule is not None:
            found.append(Finding(line, col, _refine_ref(rule, ref.qualname, ref.shape),
                                 ref.qualname))
        elif ref.shape[0] == "call" and ref.qualname in makers:
            made = makers[ref.qualname]
            found.append(Finding(line, col, _refine_ref(constructor_rule(made), made, ref.shape),
                                 ref.qualname))
        if ref.shape[0] == "call":
            call = ref.shape[1]
            for crule in crules:
                if crule.check_call(ref.qualname, call):
                    found.append(Finding(call.span[0], call.span[1] + 1,
                                         _refine_ref(crule, ref.qualname, ref.shape),
                                         ref.qualname))
    found += _texts(facts.texts)
    _objects(facts, found, makers)
    seen = set()
    greenlet = rule_for("greenlet")
    for imp in facts.imports:
        root = imp.module.split(".")[0]
        if root == "eventlet" and imp.stmt_span not in seen:
            seen.add(imp.stmt_span)
            out.imports.append((imp.stmt_span[0], imp.stmt_span[1] + 1))
        elif root == "greenlet" and not imp.is_from:
            # The import itself: greenlet is imported for its own sake.
            found.append(Finding(imp.stmt_span[0], imp.stmt_span[1] + 1, greenlet, imp.module))
    found.sort(key=lambda f: (f.line, f.col))
    out.imports.sort()
    return out


def _refine_ref(rule: Rule, qualname: str, shape) -> Rule:
    advice = rule.advise_ref(qualname, shape)
    return rule.refined(*advice) if advice else rule


def _texts(texts) -> list[Finding]:
    """Strings naming eventlet: mock targets, settings, environment names."""
    out = []
    trules = text_rules()
    for span, text, context in texts:
        line, col = span[0], span[1] + 1
        parts = text.split(".")
        # 'eventlet.sleep', or a mock target through a module's own import
        # of eventlet: 'glance.common.wsgi.eventlet.listen'.
        if len(parts) > 1 and _DOTTED_RE.fullmatch(text):
            at = next((i for i, p in enumerate(parts) if p in _ROOTS), None)
            if at is not None:
                qualname = ".".join(parts[at:])
                rule = rule_for(qualname)
                if rule is not None:
                    out.append(Finding(line, col, _refine_ref(rule, qualname, ("string",)), text,
                                       "string"))
                    continue
        if context[0] == "argument" and context[1].rsplit(".", 1)[-1] in _LOADERS \
                and parts[0] in _ROOTS:
            # __import__('eventlet'), importutils.try_import('eventlet.green.os').
            rule = rule_for(text)
            out.append(Finding(line, col, rule.refined(
                message="{name} is imported by name; " + rule.message.format(name="it")),
                text, "string"))
            continue
        for rule in trules:
            advice = rule.check_text(text, context)
            if advice:
                out.append(Finding(line, col, rule.refined(advice), text, "string"))
                break
    return out


def _objects(facts: FileFacts, found: list, makers: dict) -> None:
    """The uses of eventlet-made objects (``pool.spawn_n``, ``e.send(42)``),
    followed through the file's places by the same pass ``rewrite`` uses;
    and the creations' suggestions, which depend on those uses."""
    project = Project([SourceFile("", facts.module, facts)], makers=makers)
    groups, _stores, uses, _binds = project.object_groups()
    creation_at = {(f.line, f.col, f.name): i for i, f in enumerate(found)}
    for items, keys in groups:
        all_uses = project.object_uses(items, keys, uses)
        shapes = [u[2] for u in all_uses]
        rule = items[0][2]
        for _file, ref, _rule, _key in items:
            advice = rule.advise_creation(ref.qualname, shapes)
            i = creation_at.get((ref.span[0], ref.span[1] + 1, ref.qualname))
            if advice and i is not None:
                f = found[i]
                found[i] = Finding(f.line, f.col, f.rule.refined(advice), f.name, f.how)
        name = items[0][1].qualname
        for _file, span, shape, _scope, _import_time in all_uses:
            advice = rule.advise_use(shape)
            if advice is None:
                continue
            use_rule, suggestion = advice
            where = shape[2].func_span if shape[0] == "method" else span
            found.append(Finding(where[0], where[1] + 1,
                                 use_rule.refined(suggestion, "{name}: " + suggestion),
                                 f"{name}().{shape[1]}", "object"))


def _text_fallback(source: bytes, error: str) -> Analysis:
    """Line-based matching for files the parser rejects."""
    out = Analysis(error=error)
    out.imports = [(source.count(b"\n", 0, m.start()) + 1, 1) for m in _IMPORT_RE.finditer(source)]
    for lineno, line in enumerate(source.split(b"\n"), 1):
        for m in _QUALNAME_RE.finditer(line):
            name = m.group().decode("ascii").lower()
            out.findings.append(Finding(lineno, m.start() + 1, rule_for(name), name, "text"))
    return out


def imports_eventlet(source: bytes) -> bool:
    """Whether a line starts with ``import eventlet…`` or ``from eventlet…``.

    The spec's textual definition, shared by ``scan`` and ``trend`` so both
    agree; a regex rather than a parse keeps a year of history cheap.
    """
    return b"eventlet" in source and _IMPORT_RE.search(source) is not None
