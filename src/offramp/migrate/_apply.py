"""Apply a plan's edits to one file's bytes, with libcst.

Edits come with ``ast`` spans (lines, UTF-8 byte columns).  Each edit's
expression is cut out of the decoded text by its span, parsed alone with
libcst, changed, and printed back in place; everything outside the spans,
comments and formatting included, is left as it was.  Parsing only the
edited expressions (not the module) keeps a 1.4 MB test file cheap: a
whole-module libcst pass with metadata costs tens of seconds there.

Imports: an alias nobody uses any more is dropped from its statement (a
statement left empty is deleted, or becomes ``pass`` when it was alone in
its block); a new ``import X`` goes into the module's leading import
block, in the group it belongs to (stdlib, third party, this project) and
in alphabetical order within the group, as OpenStack's hacking checks
expect.
"""

from __future__ import annotations

import io
import re
import sys
import tokenize

import libcst as cst

_EMPTY = cst.Module([])
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
STDLIB = frozenset(sys.stdlib_module_names)


class ApplyError(Exception):
    """An edit could not be applied; the file is left unchanged."""


def _code(node) -> str:
    return _EMPTY.code_for_node(node)


class _Text:
    """Decoded source with ``ast`` span -> character offset conversion."""

    def __init__(self, source: bytes):
        self.encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
        self.text = source.decode(self.encoding)
        self.lines = _LINE.findall(self.text)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))
        eol = re.search(r"\r\n|\r|\n", self.text)
        self.newline = eol.group() if eol else "\n"

    def offset(self, line: int, col: int) -> int:
        if line - 1 >= len(self.lines):
            return len(self.text)
        text = self.lines[line - 1]
        prefix = text.encode("utf-8")[:col].decode("utf-8")
        return self.starts[line - 1] + len(prefix)

    def line_start(self, line: int) -> int:
        return self.starts[min(line - 1, len(self.lines))]

    def span(self, span) -> tuple[int, int]:
        return self.offset(span[0], span[1]), self.offset(span[2], span[3])


def _transform(segment: str, op: tuple, column: int) -> str:
    """The new text of one expression; ``column``: where it starts on its line."""
    kind = op[0]
    if kind == "insert":
        return op[1]
    if kind == "replace":
        cst.parse_expression(op[1])  # only valid code goes in
        return op[1]
    node = cst.parse_expression(segment)
    if kind in ("call", "method"):
        if not isinstance(node, cst.Call):
            raise ApplyError(f"expected a call at {segment!r}")
        if kind == "call":
            func = cst.parse_expression(op[1])
            changes = {"func": func} if op[2] else {"func": func, "args": ()}
        else:
            if not isinstance(node.func, cst.Attribute):
                raise ApplyError(f"expected a method call at {segment!r}")
            changes = {"func": node.func.with_changes(attr=cst.Name(op[1]))}
        new = node.with_changes(**changes)
        old_func, new_func = _code(node.func), _code(new.func)
        return _realign(_code(new), column + len(old_func.split("\n")[-1]) + 1,
                        len(new_func) - len(old_func) if "\n" not in old_func + new_func else 0)
    raise ApplyError(f"unknown edit {kind!r}")


def _realign(code: str, open_column: int, delta: int) -> str:
    """Keep arguments aligned with the opening bracket (pycodestyle E127/E128)
    when the callee before it got longer or shorter."""
    lines = code.split("\n")
    if not delta or len(lines) == 1:
        return code
    rest = [line for line in lines[1:] if line.strip()]
    indents = [len(line) - len(line.lstrip(" ")) for line in rest]
    if not indents or min(indents) != open_column:
        return code  # a hanging indent: nothing hangs on the bracket
    shifted = [lines[0]]
    for line in lines[1:]:
        if not line.strip():
            shifted.append(line)
        elif delta > 0:
            shifted.append(" " * delta + line)
        else:
            shifted.append(line[min(-delta, len(line) - len(line.lstrip(" "))):])
    return "\n".join(shifted)


def _apply_ranges(text: str, changes: list) -> str:
    """``changes``: ``(start, end, fn)``; ``fn(current segment) -> new``.
    Inner ranges are applied first, so an outer edit sees their result."""
    pending = sorted(changes, key=lambda c: (c[1] - c[0], c[0]))
    todo = [[s, e, fn] for s, e, fn in pending]
    for index, item in enumerate(todo):
        start, end, fn = item
        new = fn(text[start:end])
        text = text[:start] + new + text[end:]
        delta = len(new) - (end - start)
        for other in todo[index + 1:]:
            s, e = other[0], other[1]
            if start == end:  # an insertion goes before a range starting there
                if s >= start:
                    other[0], other[1] = s + delta, e + delta
                elif e > start:
                    other[1] = e + delta
            elif s >= end:
                other[0], other[1] = s + delta, e + delta
            elif e <= start:
                continue
            elif s <= start and end <= e:
                other[1] = e + delta
            else:
                raise ApplyError("overlapping edits")
    return text


def _owns_lines(t: _Text, span) -> bool:
    """The statement is alone on its lines (a trailing comment is fine)."""
    first = t.lines[span[0] - 1]
    last = t.lines[span[2] - 1]
    before = first.encode("utf-8")[: span[1]].decode("utf-8")
    after = last.encode("utf-8")[span[3]:].decode("utf-8").strip()
    return not before.strip() and (not after or after.startswith("#"))


def _drop_aliases(segment: str, locals_: set[str]) -> str:
    stmt = cst.parse_statement(segment)
    small = stmt.body[0]
    kept = []
    for alias in small.names:
        local = alias.asname.name.value if alias.asname else _code(alias.name).split(".")[0] \
            if isinstance(small, cst.Import) else _code(alias.name)
        if local not in locals_:
            kept.append(alias)
    kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    return _code(small.with_changes(names=kept))


def _group(module: str, project_root: str) -> int:
    root = module.split(".")[0]
    if root in STDLIB:
        return 0
    if project_root and root == project_root:
        return 2
    return 1


def _insertions(t: _Text, facts, modules: set[str], gone: set) -> list:
    """``(offset, text)`` for each new import; ``gone``: statements deleted."""
    root = facts.module.split(".")[0] if facts.module else ""
    nl = t.newline
    block = []  # (start line, end line, sort key, group) of the leading import block
    seen = set()
    deleted = []
    for imp in facts.imports:
        if not imp.top or imp.stmt_span in seen or imp.module == "__future__":
            continue
        if facts.top_block_end and imp.stmt_span[2] > facts.top_block_end:
            continue
        seen.add(imp.stmt_span)
        if imp.stmt_span in gone:
            deleted.append(imp.stmt_span)
            continue
        module = imp.module if not imp.is_from else imp.module
        block.append((imp.stmt_span[0], imp.stmt_span[2], module.lower(), _group(module, root)))
    block.sort()
    out = []
    last_group = None
    for module in sorted(modules, key=lambda m: (_group(m, root), m.lower())):
        group = _group(module, root)
        key = module.lower()
        same = [b for b in block if b[3] == group]
        if same:
            before = [b for b in same if b[2] <= key]
            if before:
                out.append((t.line_start(before[-1][1] + 1), f"import {module}{nl}"))
            else:
                out.append((t.line_start(same[0][0]), f"import {module}{nl}"))
            continue
        earlier = [b for b in block if b[3] < group]
        later = [b for b in block if b[3] > group]
        if not block and deleted:  # in place of the imports that go, by group
            gap = nl if last_group is not None and last_group != group else ""
            out.append((t.line_start(min(deleted)[0]), f"{gap}import {module}{nl}"))
            last_group = group
        elif earlier:
            out.append((t.line_start(earlier[-1][1] + 1), f"{nl}import {module}{nl}"))
        elif later:
            out.append((t.line_start(later[0][0]), f"import {module}{nl}{nl}"))
        elif facts.future_end:
            out.append((t.line_start(facts.future_end + 1), f"{nl}import {module}{nl}"))
        else:
            line = facts.first_stmt_line or 1
            out.append((t.line_start(line), f"import {module}{nl}{nl}"))
    # Several new imports at one place: one insertion, in order.
    merged: dict[int, str] = {}
    for offset, text in out:
        merged[offset] = merged.get(offset, "") + text
    return [(o, _one_blank_line(s, nl)) for o, s in merged.items()]


def _one_blank_line(text: str, nl: str) -> str:
    """``"import a\n\n" + "\nimport b\n"``: one blank line between groups."""
    while nl * 3 in text:
        text = text.replace(nl * 3, nl * 2)
    return text


def apply_edits(source: bytes, facts, edits, add: set[str], remove: set[int]) -> bytes:
    """The new bytes of one file."""
    t = _Text(source)
    # Zero-width insertions at one offset land in list order: imports (inside
    # their block markers) come before an edit inserted at the same place.
    changes = []
    edit_changes = []
    for edit in edits:
        start, end = t.span(edit.span)
        column = start - t.line_start(edit.span[0])
        edit_changes.append((start, end, lambda seg, op=edit.op, c=column: _transform(seg, op, c)))
    gone = set()
    by_stmt: dict[tuple, list] = {}
    for imp in facts.imports:
        by_stmt.setdefault(imp.stmt_span, []).append(imp)
    for span, imps in by_stmt.items():
        dropped = {imp.local for imp in imps if imp.id in remove}
        if not dropped:
            continue
        if not _owns_lines(t, span):
            continue  # ``import a; b()``: leave it
        if len(dropped) == len({imp.local for imp in imps}):
            gone.add(span)
            start, end = t.line_start(span[0]), t.line_start(span[2] + 1)
            blank_before = span[0] > 1 and not t.lines[span[0] - 2].strip()
            blank_after = span[2] < len(t.lines) and not t.lines[span[2]].strip()
            if blank_before and blank_after and not imps[0].alone:
                end = t.line_start(span[2] + 2)  # do not leave two blank lines
            if imps[0].alone:
                indent = re.match(r"[ \t]*", t.lines[span[0] - 1]).group()
                edit_changes.append((start, end, lambda _s, i=indent: f"{i}pass{t.newline}"))
            else:
                edit_changes.append((start, end, lambda _s: ""))
        else:
            start, end = t.span(span)
            edit_changes.append((start, end, lambda seg, d=dropped: _drop_aliases(seg, d)))
    region = _import_region(t, facts) if (add or gone) else None
    if region is not None:
        changes.append((region[0], region[0], lambda _s: _BEGIN))
    for offset, text in _insertions(t, facts, add, gone):
        changes.append((offset, offset, lambda _s, x=text: x))
    if region is not None:
        changes.append((region[1], region[1], lambda _s: _END))
    new = _apply_ranges(t.text, changes + edit_changes)
    if region is not None:
        new = _tidy_region(new, t.newline, *region[2:])
    return new.encode(t.encoding)


_BEGIN, _END = "\x00offramp-imports\x00", "\x00/offramp-imports\x00"


def _import_region(t: _Text, facts):
    """``(start, end, blank lines before, blank lines after, widest inner gap)`` of
    the leading import block, trailing blank lines included."""
    spans = [imp.stmt_span for imp in facts.imports if imp.top and imp.module != "__future__"
             and facts.top_block_end and imp.stmt_span[2] <= facts.top_block_end]
    if not spans:
        return None
    first = min(s[0] for s in spans)
    last = facts.top_block_end
    after = 0
    while last + after < len(t.lines) and not t.lines[last + after].strip():
        after += 1
    before = 0
    while first - 2 - before >= 0 and not t.lines[first - 2 - before].strip():
        before += 1
    gap = run = 0
    for line in t.lines[first - 1:last]:
        run = run + 1 if not line.strip() else 0
        gap = max(gap, run)
    return (t.line_start(first), t.line_start(last + after + 1), before, after, max(gap, 1))


def _tidy_region(text: str, nl: str, before: int, after: int, gap: int) -> str:
    """The import block after edits: no leading blank line, inner gaps no
    wider than before, and the blank lines that followed it."""
    head, _, rest = text.partition(_BEGIN)
    body, _, tail = rest.partition(_END)
    lines = body.split(nl)
    if lines and lines[-1] == "":
        lines.pop()
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    out, run = [], 0
    for line in lines:
        run = run + 1 if not line.strip() else 0
        if run <= gap:
            out.append(line)
    if not out:
        return head + nl * max(0, after - before) + tail
    return head + nl.join(out) + nl + nl * after + tail
