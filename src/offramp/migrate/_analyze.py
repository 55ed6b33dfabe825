"""Per-file analysis: one walk of the syntax tree, dispatched by node type.

Imports are resolved as they are met (source order), so
``from eventlet import greenthread as gt; gt.sleep()`` resolves to
``eventlet.greenthread.sleep``.  Scope is ignored on purpose: a local that
shadows an eventlet name is rare, and a false report is cheaper than a miss.
When the file does not parse, :func:`analyze` falls back to text matching.
"""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass, field

from offramp.migrate._registry import Rule, call_rules, rule_for

# Above this size a file is counted but not parsed (generated code, dumps).
MAX_PARSE_BYTES = 8 * 1024 * 1024

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


def _dotted(node: ast.AST) -> list[str] | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


class _Visitor(ast.NodeVisitor):
    def __init__(self) -> None:
        self.names: dict[str, str] = {}  # local name -> qualified name
        self.out = Analysis()
        self.call_rules = call_rules()

    def resolve(self, node: ast.AST) -> str | None:
        parts = _dotted(node)
        if not parts or parts[0] not in self.names:
            return None
        return ".".join([self.names[parts[0]], *parts[1:]])

    def _add(self, node: ast.AST, rule: Rule, name: str, how: str = "code") -> None:
        self.out.findings.append(Finding(node.lineno, node.col_offset + 1, rule, name, how))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self.names[alias.asname] = alias.name
            else:
                head = alias.name.split(".")[0]
                self.names[head] = head
            if alias.name.split(".")[0] == "eventlet":
                self.out.imports.append((node.lineno, node.col_offset + 1))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level or not node.module:
            return
        for alias in node.names:
            if alias.name != "*":
                self.names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        if node.module.split(".")[0] == "eventlet":
            self.out.imports.append((node.lineno, node.col_offset + 1))

    def _reference(self, node: ast.AST) -> bool:
        qualname = self.resolve(node)
        if qualname is None or qualname.split(".")[0] != "eventlet":
            return False
        self._add(node, rule_for(qualname), qualname)
        return True

    def visit_Attribute(self, node: ast.Attribute) -> None:
        # Report the whole dotted chain once, at its outermost node.
        if not self._reference(node):
            self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        self._reference(node)

    def visit_Call(self, node: ast.Call) -> None:
        qualname = self.resolve(node.func)
        for rule in self.call_rules:
            if rule.check_call(node, qualname):
                self._add(node, rule, qualname or "")
        for arg in node.args:  # mock.patch('eventlet.sleep')
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str) \
                    and _STRING_REF_RE.fullmatch(arg.value):
                self._add(arg, rule_for(arg.value), arg.value, how="string")
        self.generic_visit(node)


def analyze(source: bytes) -> Analysis:
    """Findings and eventlet imports of one Python file's bytes."""
    if len(source) > MAX_PARSE_BYTES:
        return _text_fallback(source, f"larger than {MAX_PARSE_BYTES} bytes, not parsed")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes in old code
            tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return _text_fallback(source, f"{type(exc).__name__}: {exc}")
    return analyze_tree(tree)


def analyze_tree(tree: ast.AST) -> Analysis:
    """The same, for a tree someone else parsed (flake8)."""
    visitor = _Visitor()
    visitor.visit(tree)
    visitor.out.findings.sort(key=lambda f: (f.line, f.col))
    return visitor.out


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
