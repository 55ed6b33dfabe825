"""What ``scan``, ``lint`` and the flake8 plugin report for one file.

A thin view over the shared resolver (``_facts``): every reference the
rules own, every call a call rule matches (``time.sleep(0)``), and dotted
strings naming eventlet (``mock.patch('eventlet.sleep')``).  When the file
does not parse, :func:`analyze` falls back to text matching.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from offramp.migrate._facts import MAX_PARSE_BYTES, FileFacts, file_facts, tree_facts
from offramp.migrate._registry import Rule, call_rules, rule_for

__all__ = ["MAX_PARSE_BYTES", "Analysis", "Finding", "analyze", "analyze_tree", "from_facts",
           "imports_eventlet"]

_IMPORT_RE = re.compile(
    rb"^[ \t]*(?:from[ \t]+eventlet\b|import[ \t]+(?:[\w.]+(?:[ \t]+as[ \t]+\w+)?[ \t]*,[ \t]*)*eventlet\b)",
    re.M)
_QUALNAME_RE = re.compile(rb"\beventlet(?:\.\w+)*", re.I)
_STRING_REF_RE = re.compile(r"eventlet(?:\.\w+)+")


@dataclass(frozen=True)
class Finding:
    line: int
    col: int  # 1-based, as flake8 prints it
    rule: Rule
    name: str
    # Found in a string (mock.patch('eventlet.sleep')) or by text fallback.
    how: str = "code"

    @property
    def message(self) -> str:
        return self.rule.describe(self.name)


@dataclass
class Analysis:
    findings: list[Finding] = field(default_factory=list)
    imports: list[tuple[int, int]] = field(default_factory=list)  # eventlet imports
    error: str | None = None  # why the tree could not be used


def analyze(source: bytes, module: str = "") -> Analysis:
    """Findings and eventlet imports of one Python file's bytes."""
    facts = file_facts(source, module, objects=False)
    if facts.error:
        return _text_fallback(source, facts.error)
    return from_facts(facts)


def analyze_tree(tree) -> Analysis:
    """The same, for a tree someone else parsed (flake8)."""
    return from_facts(tree_facts(tree, objects=False))


def from_facts(facts: FileFacts) -> Analysis:
    out = Analysis()
    crules = call_rules()
    for ref in facts.refs:
        line, col = ref.span[0], ref.span[1] + 1
        rule = rule_for(ref.qualname)
        if rule is not None:
            out.findings.append(Finding(line, col, rule, ref.qualname))
        if ref.shape[0] == "call":
            call = ref.shape[1]
            for crule in crules:
                if crule.check_call(ref.qualname, call):
                    out.findings.append(Finding(call.span[0], call.span[1] + 1, crule,
                                                ref.qualname))
    for span, text, _scope, _kind in facts.strings:
        if _STRING_REF_RE.fullmatch(text):
            out.findings.append(Finding(span[0], span[1] + 1, rule_for(text), text, "string"))
    seen = set()
    for imp in facts.imports:
        if imp.module.split(".")[0] == "eventlet" and imp.stmt_span not in seen:
            seen.add(imp.stmt_span)
            out.imports.append((imp.stmt_span[0], imp.stmt_span[1] + 1))
    out.findings.sort(key=lambda f: (f.line, f.col))
    out.imports.sort()
    return out


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
