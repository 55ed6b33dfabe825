"""``offramp lint``: flag Eventlet usage that has a ready replacement.

Codes come from the rules (``OFR1xx`` primitives, ``OFR2xx`` non-eventlet
patterns that only made sense under eventlet) plus two of lint's own:
``OFR301`` for ``import eventlet`` outside the allowlist and ``OFR000`` for
a file that does not parse.  The flake8 plugin shares :func:`lint_analysis`.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from typing import NamedTuple

from offramp.migrate import _walk
from offramp.migrate._analyze import Analysis
from offramp.migrate._batch import analysed, analyses_of
from offramp.migrate._cache import Cache
from offramp.migrate._prefilter import Prefilter
from offramp.migrate._registry import needles
from offramp.migrate._survey import Seen, survey
from offramp.migrate._walk import DEFAULT_EXCLUDES, walk

IMPORT_CODE = "OFR301"
IMPORT_MESSAGE = "import of eventlet outside the allowlist (--allow)"
PARSE_CODE = "OFR000"


class LintFinding(NamedTuple):
    path: str
    line: int
    col: int  # 1-based
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col} {self.code} {self.message}"


def allowed(path: str, allow: tuple[str, ...]) -> bool:
    """Whether ``path`` matches an allowlist glob (``*`` crosses ``/``)."""
    path = path.replace(os.sep, "/").removeprefix("./")
    return any(fnmatch.fnmatchcase(path, glob.removeprefix("./")) for glob in allow)


def lint_analysis(analysis: Analysis, import_allowed: bool):
    """Yield ``(line, col, code, message)`` for one analysed file."""
    if analysis.error:
        yield 1, 1, PARSE_CODE, f"not linted: {analysis.error}"
        return
    for f in analysis.findings:
        if f.rule.lint and f.how == "code":
            yield f.line, f.col, f.rule.code, f.message
    if not import_allowed:
        for line, col in analysis.imports:
            yield line, col, IMPORT_CODE, IMPORT_MESSAGE


def lint(root: str, allow: tuple[str, ...] = (), excludes=DEFAULT_EXCLUDES,
         cache: Cache | None = None, jobs: int | None = None) -> list[LintFinding]:
    """Lint every ``.py`` file under ``root`` (or ``root`` itself)."""
    return lint_paths([root], allow, excludes, cache, jobs)


def lint_paths(roots: Sequence[str], allow: tuple[str, ...] = (), excludes=DEFAULT_EXCLUDES,
               cache: Cache | None = None,
               jobs: int | None = None) -> list[LintFinding]:
    """:func:`lint` of each root, in the order given, analysed in one batch
    (pre-commit passes hundreds of single files)."""
    for root in roots:
        if not os.path.exists(root):
            raise FileNotFoundError(f"no such file or directory: {root}")
    wanted = Prefilter(needles())
    entries = []  # (index of root, entry, whether the root is a file)
    for index, root in enumerate(roots):
        single = not os.path.isdir(root)
        entries += [(index, entry, single) for entry in walk(root, excludes)
                    if entry.rel.endswith(".py") or single]

    def look(item) -> Seen:
        data = _walk.read(item[1].path)
        return Seen(0, data if wanted.wants(data) else None)

    picked = []  # (index of root, shown path, allowed, data, its analysis if made)
    seens = survey(entries, look, jobs, analysed(cache))
    for (index, entry, single), seen in zip(entries, seens):
        if seen.data is None:
            continue
        shown = entry.path if single else os.path.join(roots[index], entry.rel)
        # Globs may be written relative to PATH or to the current directory.
        ok = allowed(entry.rel, allow) or allowed(shown, allow)
        picked.append((index, shown, ok, seen.data, seen.analysis))
    analyses = analyses_of([(data, made) for *_, data, made in picked], cache, jobs)
    by_root: list[list[LintFinding]] = [[] for _ in roots]
    for (index, shown, ok, _, _), analysis in zip(picked, analyses):
        by_root[index].extend(LintFinding(shown, line, col, code, msg)
                              for line, col, code, msg in lint_analysis(analysis, ok))
    return [finding for found in by_root for finding in sorted(found)]
