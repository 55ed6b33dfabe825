"""``offramp scan``: how much Eventlet a tree holds, and of which kinds.

Three figures: the grep-compatible line count (see ``_grep``), the files
that import eventlet (production vs test), and every Python usage
classified by rule with its suggested replacement.  Files are read as
bytes; nothing scanned is imported or run.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from types import SimpleNamespace
from typing import NamedTuple

from offramp.migrate import _grep
from offramp.migrate._analyze import imports_eventlet
from offramp.migrate._batch import analysed, analyses_of
from offramp.migrate._cache import Cache
from offramp.migrate._prefilter import Prefilter
from offramp.migrate._registry import needles
from offramp.migrate._returns import follow
from offramp.migrate._survey import counting, survey
from offramp.migrate._walk import DEFAULT_EXCLUDES, is_test_path, walk

# Files above this are streamed for the count and never held in memory.
STREAM_BYTES = 64 * 1024 * 1024


class Usage(NamedTuple):
    path: str
    line: int
    col: int
    kind: str
    name: str
    suggestion: str
    category: str
    how: str

    def as_dict(self) -> dict:
        return self._asdict()


class ScanResult(SimpleNamespace):
    """The ``lines`` grep would print; the ``production`` and ``test`` files
    importing eventlet; the ``usages``; and ``warnings`` on files counted by
    text only (unparseable, too big, unreadable...)."""

    def __init__(self) -> None:
        super().__init__(lines=0, production=[], test=[], usages=[], warnings=[])

    def as_dict(self) -> dict:
        kinds = Counter(u.kind for u in self.usages)
        return {
            "lines": self.lines,
            "files_importing": {"production": self.production, "test": self.test},
            "usages": [u.as_dict() for u in self.usages],
            "by_kind": dict(sorted(kinds.items())),
            "warnings": self.warnings,
        }


def scan(root: str, excludes: tuple[str, ...] = DEFAULT_EXCLUDES, utf8: bool | None = None,
         legacy_binary: bool = False, cache: Cache | None = None,
         jobs: int | None = None) -> ScanResult:
    """Scan ``root`` (a directory or one file).

    ``cache`` keeps each file's analysis by content between runs; ``jobs``
    caps the worker processes (default: one per available CPU).
    """
    if not os.path.exists(root):
        raise FileNotFoundError(f"no such file or directory: {root}")
    utf8 = _grep.utf8_locale() if utf8 is None else utf8
    result = ScanResult()
    walk_errors: list[str] = []
    entries, marks = [], []  # marks: walk errors told before each entry
    for entry in walk(root, excludes, walk_errors):
        entries.append(entry)
        marks.append(len(walk_errors))
    look = counting(utf8, legacy_binary, Prefilter(needles()), STREAM_BYTES)
    # (rel, path, data, where its warning goes in result.warnings, analysis if made)
    picked = []
    told = 0
    for entry, mark, seen in zip(entries, marks, survey(entries, look, jobs, analysed(cache))):
        result.warnings += walk_errors[told:mark]
        told = mark
        result.lines += seen.count
        if seen.error:
            result.warnings.append(f"{entry.rel}: {seen.error}")
        elif seen.too_big:
            result.warnings.append(f"{entry.rel}: larger than {STREAM_BYTES} bytes, counted only")
        elif seen.data is not None:
            picked.append((entry.rel, entry.path, seen.data, len(result.warnings),
                           seen.analysis))
    result.warnings += walk_errors[told:]
    analyses = analyses_of([(data, made) for _, _, data, _, made in picked], cache, jobs)
    follow([(path, data) for _, path, data, _, _ in picked], analyses, cache)
    fallbacks = []
    for (rel, _, data, mark, _), analysis in zip(picked, analyses):
        if analysis.error:
            fallbacks.append((mark, f"{rel}: {analysis.error}; fell back to text matching"))
        if imports_eventlet(data):
            (result.test if is_test_path(rel) else result.production).append(rel)
        result.usages.extend(
            Usage(rel, f.line, f.col, f.rule.kind, f.name, f.rule.suggestion,
                  f.rule.category, f.how)
            for f in analysis.findings)
    for mark, warning in reversed(fallbacks):  # in walk order, as if told on the way
        result.warnings.insert(mark, warning)
    return result


def to_json(result: ScanResult) -> str:
    return json.dumps(result.as_dict(), indent=2)


def to_csv(result: ScanResult) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["path", "line", "col", "kind", "name", "suggestion"])
    for u in result.usages:
        writer.writerow([u.path, u.line, u.col, u.kind, u.name, u.suggestion])
    return out.getvalue()
