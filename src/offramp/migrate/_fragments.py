"""Parse only the parts of a file that can hold a finding.

Most of a large file that mentions eventlet never touches it: nova's
30,000-line ``test_driver.py`` has a few dozen such lines.  Parsing and
walking the whole file costs a hundred times what the rules need, so a
file is cut into *units*: the prologue (docstring, imports, constants up
to the first ``def``/``class`` at column 0), each top-level
``def``/``class`` with its decorators and whatever module code follows it,
and, inside a class, each member (``def``/``class``/decorators at the
body's indentation) with the class's header.  Only the units that mention
a needle, or a name the file binds to an eventlet thing, are kept; the
others become blank lines (a class member, a ``pass``), so every kept
line keeps its line number and columns.

Which names matter is learnt from the kept parts themselves (``from
eventlet import greenthread`` binds ``greenthread``, ``self._pool =
eventlet.GreenPool()`` binds ``_pool``), so the selection grows until it
is stable.  A cut is trusted only if the parsed fragment's statements
start and end inside the kept units (a ``def`` line inside a string would
break that); otherwise, or when the fragment does not parse, the caller
parses the whole file.  One thing a fragment cannot see: a syntax error
in a part it left out.
"""

from __future__ import annotations

import ast
import functools
import re
import warnings
from bisect import bisect_left

from offramp.migrate._prefilter import gates

# What starts a unit: a def, a class or a decorator, at the unit's indentation.
_HEADS = (b"@", b"def ", b"def\t", b"async def ", b"class ", b"class\t")
_ANY_CASE = (b"eventlet", b"greenlet")
_MEMBER_INDENT = re.compile(rb"\n( +)(?:@|def[ \t]|async[ \t]+def[ \t]|class[ \t])")
# Rebinding a module a call rule looks at (``time = FakeTime()``) changes
# what its calls mean, though the line names nothing eventlet.
_REBOUND = (b"time", b"mock", b"unittest", b"threading")
_BINDS = (b" =", b"=", b":")  # after the name: an assignment or an annotation
_BIND_STARTS = frozenset(op[0] for op in _BINDS)
_WORD = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_MAX_ROUNDS = 6


class _Unit:
    """A byte range of whole lines; a class unit also has members."""

    __slots__ = ("start", "end", "members", "indent")

    def __init__(self, start: int, end: int):
        self.start = start
        self.end = end
        self.members: list[tuple[int, int]] = []  # the first starts where the header ends
        self.indent = b""


def _find_all(source: bytes, needle: bytes, lo: int = 0, hi: int | None = None) -> list[int]:
    out = []
    find = source.find
    i = find(needle, lo) if hi is None else find(needle, lo, hi)
    while i >= 0:
        out.append(i)
        i = find(needle, i + 1) if hi is None else find(needle, i + 1, hi)
    return out


def _starts(source: bytes, indent: bytes, lo: int, hi: int) -> list[int]:
    """Starts of the lines in ``[lo, hi)`` that begin, at ``indent``, a def, a
    class or a decorator; decorators and what they decorate are one start."""
    found = [m.start() + 1 for m in _head_at(indent).finditer(source, max(lo - 1, 0), hi)]
    if lo == 0 and not indent and source.startswith(_HEADS):
        found.insert(0, 0)
    out = []
    in_decorators = False
    at = len(indent)
    for start in found:
        if not in_decorators:
            out.append(start)
        in_decorators = source[start + at] == 0x40  # "@"
    return out


@functools.cache
def _head_at(indent: bytes) -> re.Pattern:
    # One pass for every head; the leading newline lets the search skip
    # from line to line at memchr speed.
    return re.compile(b"\\n" + re.escape(indent) + rb"(?:@|(?:def|class|async def)[ \t])")


def _units(source: bytes) -> list[_Unit]:
    """The prologue, then one unit per top-level def/class (members split)."""
    starts = _starts(source, b"", 0, len(source))
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    units = [_Unit(a, b) for a, b in zip(starts, [*starts[1:], len(source)])]
    for unit in units[1:]:
        at = unit.start
        if source[at] == 0x40:  # "@": what the decorators decorate
            heads = [source.find(b"\n" + h, at, unit.end) for h in (b"class", b"def", b"async")]
            at = min([h for h in heads if h >= 0], default=-2) + 1
        if at <= 0 or not source.startswith(b"class", at):
            continue
        line_end = source.find(b"\n", at, unit.end)
        if line_end < 0:
            continue
        m = _MEMBER_INDENT.search(source, line_end, unit.end)
        if m is None:
            continue
        members = _starts(source, m.group(1), line_end + 1, unit.end)
        if not members:
            continue
        unit.indent = m.group(1)
        unit.members = list(zip(members, [*members[1:], unit.end]))
    return units


class Selection:
    """The kept parts of one file, and the fragment made of them."""

    def __init__(self, source: bytes, units: list[_Unit], hits: list[int]):
        self.source = source
        pieces = []
        self.runs: list[tuple[int, int]] = []  # kept top-level line ranges
        self.class_runs: dict[int, list] = {}  # class start line -> kept line ranges
        self.placeholders: set[int] = set()  # lines of a "pass" standing for members
        line = 1

        def hit(a, b):
            i = bisect_left(hits, a)
            return i < len(hits) and hits[i] < b

        for index, unit in enumerate(units):
            keep = index == 0 or hit(unit.start, unit.end)
            text_lines = source.count(b"\n", unit.start, unit.end)
            if not keep:
                pieces.append(b"\n" * text_lines)
                line += text_lines
                continue
            self._add_run(self.runs, line, line + text_lines)
            if not unit.members:
                pieces.append(source[unit.start:unit.end])
                line += text_lines
                continue
            first = unit.members[0][0]
            pieces.append(source[unit.start:first])
            head_lines = source.count(b"\n", unit.start, first)
            runs = [(line, line + head_lines)]
            class_line = line
            line += head_lines
            dropped = False
            for a, b in unit.members:
                n = source.count(b"\n", a, b)
                if hit(a, b):
                    pieces.append(source[a:b])
                    self._add_run(runs, line, line + n)
                    dropped = False
                elif not dropped:
                    # One "pass" per dropped run keeps the body non-empty.
                    pieces.append(unit.indent + b"pass" + b"\n" * n)
                    self.placeholders.add(line)
                    dropped = True
                else:
                    pieces.append(b"\n" * n)
                line += n
            self.class_runs[class_line] = runs
        self.fragment = b"".join(pieces)

    @staticmethod
    def _add_run(runs, first, last):
        if runs and runs[-1][1] >= first:
            runs[-1] = (runs[-1][0], max(runs[-1][1], last))
        else:
            runs.append((first, last))

    def trusted(self, tree: ast.Module) -> bool:
        """Whether every statement lies inside the kept text it came from."""
        if not _inside_runs(tree.body, self.runs, set()):
            return False
        for stmt in tree.body:
            runs = self.class_runs.get(_first_line(stmt))
            if runs is not None:
                if type(stmt) is not ast.ClassDef \
                        or not _inside_runs(stmt.body, runs, self.placeholders):
                    return False
        return True


def _first_line(stmt) -> int:
    decorators = getattr(stmt, "decorator_list", None)
    return min(stmt.lineno, *(d.lineno for d in decorators)) if decorators else stmt.lineno


def _inside_runs(body, runs, placeholders) -> bool:
    starts = [r[0] for r in runs]
    for stmt in body:
        first = _first_line(stmt)
        if first in placeholders and type(stmt) is ast.Pass:
            continue
        i = bisect_left(starts, first + 1) - 1
        if i < 0 or not runs[i][0] <= first <= stmt.end_lineno <= runs[i][1]:
            return False
    return True


def _needle_hits(source: bytes, lowered: bytes, needles: tuple) -> list[int]:
    """Offsets of a needle (``eventlet`` and ``greenlet`` in any case) or of
    a module a call rule looks at being rebound."""
    found = []
    for needle in needles:
        if needle in _ANY_CASE:
            found += _find_all(lowered, needle)
    any_case = len(found)
    for gate, members in _gates(needles):
        at = _find_all(source, gate)
        if len(members) == 1 and members[0][0] == gate:
            found += at
            continue
        # Needles sharing the gate (``'Event'``, ``threading.Event``): one
        # pass finds the gate, each occurrence is checked for each needle.
        found += [i - k for i in at for needle, k in members
                  if i >= k and source.startswith(needle, i - k)]
    # Only call rules look at the rebound modules, and their needles are
    # all matched as written: with none of those here, no call can match.
    size = len(source)
    for name in _REBOUND if len(found) > any_case else ():
        after = len(name)
        for i in _find_all(source, name):
            # Most hits (mock.patch, import time) fail on the next byte.
            if i + after >= size or source[i + after] not in _BIND_STARTS:
                continue
            op = next((op for op in _BINDS if source.startswith(op, i + after)), None)
            if op is None or source[i + after + len(op):i + after + len(op) + 1] == b"=":
                continue  # not bound here, or "=="
            line = source.rfind(b"\n", 0, i) + 1
            if not source[line:i].strip():
                found.append(i)
    return found


@functools.cache
def _gates(needles: tuple) -> tuple:
    """``(gate, ((needle, offset of the gate in it), ...))`` for the needles
    matched as written, grouped as the prefilter groups them."""
    exact = tuple(n for n in needles if n not in _ANY_CASE)
    return tuple((gate, tuple((n, n.index(gate)) for n in members))
                 for gate, members in gates(exact))


def _name_hits(source: bytes, names) -> list[int]:
    """Offsets where one of ``names`` occurs as a whole word."""
    found = []
    for name in names:
        word = name.encode()
        n = len(word)
        for i in _find_all(source, word):
            if (i == 0 or source[i - 1] not in _WORD) and source[i + n:i + n + 1] not in _WORD_END:
                found.append(i)
    return found


_IMPORTED = re.compile(rb"^[ \t]*from[ \t]+(?:eventlet|greenlet)[\w.]*[ \t]+import[ \t]+"
                       rb"\(?([\w ,\t]*)"
                       rb"|^[ \t]*import[ \t]+(?:eventlet|greenlet)[\w.]*[ \t]+as[ \t]+(\w+)", re.M)


def _imported_names(source: bytes, hits: list[int]) -> set[str]:
    """Names bound by eventlet imports, read from the lines with a needle:
    a first guess, so that one parse usually suffices."""
    names = set()
    seen = set()
    for i in hits:
        line = source.rfind(b"\n", 0, i) + 1
        if line in seen:
            continue
        seen.add(line)
        m = _IMPORTED.match(source, line, source.find(b"\n", i) % (len(source) + 1))
        if m is None:
            continue
        if m.group(2):
            names.add(m.group(2).decode())
            continue
        for alias in m.group(1).split(b","):
            words = alias.split()
            if words:
                names.add(words[-1].decode("ascii", "replace"))
    return names


_WORD_END = frozenset(bytes([c]) for c in _WORD)


def parse_parts(source: bytes, needles: tuple, facts_of):
    """``(facts, selection)`` for the parts of ``source`` that matter, or None.

    ``facts_of(tree)`` returns ``(facts, names)``: the facts of the parsed
    parts and the names they bind to eventlet things; parts mentioning
    those names are added until nothing changes.  None means: parse the
    whole file (too few units to gain anything, a cut that cannot be
    trusted, or a fragment that does not parse).
    """
    units = _units(source)
    # A module that is one big class still splits: its members count.
    if sum(1 + len(unit.members) for unit in units) < 3:
        return None
    needle_hits = _needle_hits(source, source.lower(), needles)
    names = frozenset(_imported_names(source, needle_hits))
    hits = sorted(needle_hits + _name_hits(source, names))
    last = None
    for _ in range(_MAX_ROUNDS):
        selection = Selection(source, units, hits)
        if last is not None and selection.fragment == last[1].fragment:
            return last  # the new names add no part
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(selection.fragment)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None
        if not selection.trusted(tree):
            return None
        facts, bound = facts_of(tree)
        if bound <= names:
            return facts, selection
        hits = sorted(hits + _name_hits(source, bound - names))
        names = names | bound
        last = facts, selection
    return None
