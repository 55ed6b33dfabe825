"""``offramp trend``: the scan figures across git history, incrementally.

No checkout: trees and blobs are read with ``cat-file --batch``.  Counts are
cached by blob (and subtrees by tree sha + path), so a point whose commit
changed ten files costs ten blob reads, not a full ``git grep``.

Points: a date D stands for the end of that day, UTC (or the exact instant
if a time is given); its commit is the newest first-parent commit of the
branch whose committer date is not after D.

In flight, for a ref R at a point P: 0 if R's tip is already an ancestor
of P (merged) or was committed after P's date (not yet proposed);
otherwise ``max(0, lines(B) - lines(R))`` with B = merge-base(P, R).  Files
R does not touch are equal in B and R, so this is the net removal by the
files R changes, measured against the state R was written on.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import posixpath
import re
from dataclasses import dataclass, field

from offramp.migrate import _grep
from offramp.migrate._analyze import imports_eventlet
from offramp.migrate._cache import Cache
from offramp.migrate._git import Git, GitError
from offramp.migrate._walk import DEFAULT_EXCLUDES, excluded, is_test_path

__all__ = ["GitError", "NoPoints", "Point", "TreeCounter", "parse_every", "parse_date", "trend"]

_EVERY_RE = re.compile(r"^(\d+)([dw])$")
_REGULAR = ("100644", "100755", "100664")
_SYMLINK = "120000"


def parse_every(text: str) -> dt.timedelta:
    m = _EVERY_RE.match(text.strip())
    if not m or int(m.group(1)) == 0:
        raise ValueError(f"invalid --every {text!r}: expected a positive number followed by "
                         f"d (days) or w (weeks), e.g. 7d or 2w")
    return dt.timedelta(days=int(m.group(1)) * (7 if m.group(2) == "w" else 1))


def parse_date(text: str, option: str = "date") -> dt.datetime:
    """YYYY-MM-DD (end of that day, UTC) or an ISO date-time."""
    text = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = dt.date.fromisoformat(text)
            return dt.datetime.combine(day, dt.time(23, 59, 59), dt.timezone.utc)
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"invalid {option} {text!r}: expected YYYY-MM-DD or an ISO "
                         f"date-time such as 2025-04-14T12:00:00+00:00") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class Count:
    lines: int = 0
    production: tuple[str, ...] = ()
    test: tuple[str, ...] = ()
    links: tuple[tuple[str, str], ...] = ()  # (path, blob sha) of symlinks inside

    def __add__(self, other: Count) -> Count:
        return Count(self.lines + other.lines, self.production + other.production,
                     self.test + other.test, self.links + other.links)


class TreeCounter:
    """grep-compatible counts of git trees, memoised by object id."""

    def __init__(self, git: Git, excludes=DEFAULT_EXCLUDES, utf8: bool | None = None,
                 legacy_binary: bool = False, cache: Cache | None = None) -> None:
        self.git, self.excludes = git, tuple(excludes)
        self.utf8 = _grep.utf8_locale() if utf8 is None else utf8
        self.legacy = legacy_binary
        # Blob counts depend on the blob and on how grep is modelled, not on
        # the commit: kept between runs when a cache is given.
        self.cache, self._mode = cache, f"utf8={int(self.utf8)}-legacy={int(self.legacy)}"
        self.blobs: dict[tuple[str, bool], tuple[int, bool]] = \
            cache.load_counts(self._mode) if cache is not None else {}
        self._loaded = len(self.blobs)
        self.trees: dict[tuple[str, str], Count] = {}
        self.commits: dict[str, Count] = {}  # by root tree, symlinks followed
        self.link_targets: dict[str, str] = {}
        self.blob_reads = 0

    def _count_blobs(self, wanted: list[tuple[str, bool]]) -> None:
        """Read and count the blobs not cached yet, in one pipelined batch."""
        missing = list(dict.fromkeys(k for k in wanted if k not in self.blobs))
        for (sha, is_py), (_, data) in zip(missing, self.git.read_many([s for s, _ in missing])):
            self.blob_reads += 1
            lines = _grep.count_bytes(data, self.utf8, self.legacy)
            self.blobs[(sha, is_py)] = (lines, bool(is_py and lines and imports_eventlet(data)))

    def save(self) -> None:
        """Keep the blob counts for the next run, if any are new."""
        if self.cache is not None and len(self.blobs) > self._loaded:
            self.cache.save_counts(self._mode, self.blobs)
            self._loaded = len(self.blobs)

    def tree(self, sha: str, prefix: str = "") -> Count:
        key = (sha, prefix)
        if key in self.trees:
            return self.trees[key]
        lines, prod, test, links = 0, [], [], []
        entries = list(self.git.tree_entries(sha))
        self._count_blobs([(child, name.endswith(".py"))
                           for mode, name, child in entries if mode in _REGULAR])
        for mode, name, child in entries:
            path = prefix + name
            if mode == "40000":
                if not excluded(name, self.excludes):
                    sub = self.tree(child, path + "/")
                    lines += sub.lines
                    prod += sub.production
                    test += sub.test
                    links += sub.links
            elif mode in _REGULAR:
                n, imports = self.blobs[(child, name.endswith(".py"))]
                lines += n
                if imports:
                    (test if is_test_path(path) else prod).append(path)
            elif mode == _SYMLINK:  # followed per commit; submodules are skipped
                links.append((path, child))
        self.trees[key] = result = Count(lines, tuple(prod), tuple(test), tuple(links))
        return result

    def commit(self, sha: str) -> Count:
        root = self.commit_tree(sha)
        if root not in self.commits:
            self.commits[root] = self._with_links(root, self.tree(root), 0)
        return self.commits[root]

    def _with_links(self, root: str, count: Count, depth: int, shown: str = "",
                    real: str = "", outer: frozenset[str] = frozenset({""})) -> Count:
        """Add what ``grep -R`` reads through the symlinks in ``count``.

        Like grep: a link to a file counts that file again under the link's
        name; a link to a directory is walked unless that directory is on the
        current traversal path (a loop); dangling links and links leaving the
        tree are skipped.  Targets resolve from the link's real location
        (``shown`` paths under a linked directory live under ``real``).
        """
        total = Count(count.lines, count.production, count.test)
        for path, blob in count.links:
            rel_dir = posixpath.dirname(path[len(shown):])
            real_dir = posixpath.join(real, rel_dir).strip("/")
            target = self._link_target(blob)
            resolved = posixpath.normpath(posixpath.join(real_dir, target))
            resolved = "" if resolved == "." else resolved
            if target.startswith("/") or resolved == ".." or resolved.startswith("../"):
                continue
            entry = self._lookup(root, resolved)
            if entry is None:
                continue
            mode, sha = entry
            name = posixpath.basename(path)
            if mode in _REGULAR:
                is_py = name.endswith(".py")
                self._count_blobs([(sha, is_py)])
                n, imports = self.blobs[(sha, is_py)]
                where = ((), (path,)) if is_test_path(path) else ((path,), ())
                total += Count(n, *(where if imports else ((), ())))
            elif mode == "40000" and depth < 8 and not excluded(name, self.excludes):
                ancestors = set(outer)
                cur = real
                for part in filter(None, rel_dir.split("/")):
                    cur = f"{cur}/{part}" if cur else part
                    ancestors.add(cur)
                if resolved not in ancestors:
                    total += self._with_links(root, self.tree(sha, path + "/"), depth + 1,
                                              path + "/", resolved,
                                              frozenset(ancestors | {resolved}))
        return total

    def _link_target(self, blob: str) -> str:
        if blob not in self.link_targets:
            self.link_targets[blob] = self.git.read(blob)[1].decode("utf-8", "surrogateescape")
        return self.link_targets[blob]

    def _lookup(self, tree: str, path: str) -> tuple[str, str] | None:
        """``(mode, sha)`` at ``path`` under ``tree``; None if absent."""
        mode, sha = "40000", tree
        for part in filter(None, path.split("/")):
            if mode != "40000":
                return None
            found = [(m, c) for m, n, c in self.git.tree_entries(sha) if n == part]
            if not found:
                return None
            mode, sha = found[0]
        return mode, sha

    def commit_tree(self, sha: str) -> str:
        kind, data = self.git.read(sha)
        if kind != "commit":
            raise GitError(f"{sha} is a {kind}, not a commit")
        return data.split(b"\n", 1)[0].split()[1].decode()


@dataclass
class Point:
    label: str
    date: dt.datetime
    commit: str
    lines: int = 0
    production: int = 0
    test: int = 0
    in_flight: int = 0
    in_flight_refs: dict[str, int] = field(default_factory=dict)
    named: bool = False  # a tag or LABEL=DATE: quoted on the Mermaid axis

    def as_dict(self) -> dict:
        return {
            "label": self.label,
            "date": self.date.date().isoformat(),
            "commit": self.commit,
            "lines": self.lines,
            "files_importing": {"production": self.production, "test": self.test},
            "in_flight": self.in_flight,
            "in_flight_refs": self.in_flight_refs,
        }


def _when(ts: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc)


class History:
    """First-parent history of a branch, oldest dropped as needed."""

    def __init__(self, git: Git, branch: str) -> None:
        out = git.run("log", "--first-parent", "--format=%H %ct", branch, "--")
        self.commits = [(sha, int(ts)) for sha, ts in (line.split() for line in out.splitlines())]
        if not self.commits:
            raise GitError(f"branch {branch!r} has no commits")

    def as_of(self, when: dt.datetime) -> tuple[str, int] | None:
        limit = when.timestamp()
        return next(((sha, ts) for sha, ts in self.commits if ts <= limit), None)

    @property
    def first_date(self) -> dt.datetime:
        return _when(min(ts for _, ts in self.commits))

    @property
    def tip_date(self) -> dt.datetime:
        return _when(self.commits[0][1])


class NoPoints(ValueError):
    """Nothing to count: every date is before the history, no tag matched."""


def _no_points(history: History, dates: list, tags: str | None) -> NoPoints:
    first, tip = history.first_date.date(), history.tip_date.date()
    why = [f"the history covers {first} to {tip} (first-parent commits)"]
    if dates:
        span = (f"the requested date {dates[0][1].date()} is" if len(dates) == 1 else
                f"all {len(dates)} requested dates ({dates[0][1].date()} to "
                f"{dates[-1][1].date()}) are")
        why.append(f"{span} before its first commit")
    if tags is not None:
        why.append(f"no tag matches {tags!r}")
    return NoPoints(f"no points: {', and '.join(why)}. Ask for dates from {first} on, "
                    f"e.g. --since {first}, or --at {tip}")


def date_points(history: History, every: dt.timedelta | None, since: dt.datetime | None,
                until: dt.datetime | None, at: list[tuple[str | None, dt.datetime]]):
    """``(label, date, named)`` for --at and --every, in date order."""
    wanted = [(label or when.date().isoformat(), when, bool(label)) for label, when in at]
    if every is not None:
        until = until or parse_date(history.tip_date.date().isoformat())
        # Default: a year back from the end, or the first commit if later.
        when = since or max(parse_date(history.first_date.date().isoformat()),
                            until - dt.timedelta(days=364))
        if when > until:
            raise ValueError(f"--since {when.date()} is after the end of the range {until.date()}")
        while when <= until:
            wanted.append((when.date().isoformat(), when, False))
            when += every
    return sorted(wanted, key=lambda w: w[1])


def tag_points(git: Git, pattern: str):
    out = git.run("for-each-ref", "--format=%(refname:short) %(*objectname) %(objectname)",
                  "refs/tags")
    points = []
    for line in out.splitlines():
        parts = line.split()
        name, sha = parts[0], parts[-2] if len(parts) == 3 else parts[-1]
        if fnmatch.fnmatchcase(name, pattern):
            ts = int(git.run("log", "-1", "--format=%ct", sha, "--").strip())
            points.append((name, _when(ts), True, sha))
    return sorted(points, key=lambda p: p[1])


def resolve_refs(git: Git, refs: list[str]) -> dict[str, tuple[str, int]]:
    """Ref name -> (tip sha, committer timestamp); globs match refs/."""
    found: dict[str, tuple[str, int]] = {}
    for ref in refs:
        if any(ch in ref for ch in "*?["):
            out = git.run("for-each-ref", "--format=%(refname) %(objectname)")
            names = [(full, sha) for full, sha in (line.split() for line in out.splitlines())
                     if fnmatch.fnmatchcase(full, ref) or fnmatch.fnmatchcase(_short(full), ref)]
            if not names:
                raise ValueError(f"--in-flight {ref!r} matches no refs")
        else:
            try:
                names = [(ref, git.run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").strip())]
            except GitError:
                raise ValueError(f"--in-flight {ref!r} is not a ref or commit of this repository") from None
        for name, sha in names:
            found[name] = (sha, int(git.run("log", "-1", "--format=%ct", sha, "--").strip()))
    return found


def _short(refname: str) -> str:
    for prefix in ("refs/heads/", "refs/remotes/", "refs/tags/", "refs/"):
        if refname.startswith(prefix):
            return refname[len(prefix):]
    return refname


def in_flight(git: Git, counter: TreeCounter, point_sha: str, point_date: dt.datetime,
              refs: dict[str, tuple[str, int]]) -> dict[str, int]:
    result = {}
    for name, (tip, ts) in refs.items():
        if ts > point_date.timestamp():
            result[name] = 0  # not proposed yet at this point
            continue
        base = git.run("merge-base", point_sha, tip, ok_codes=(0, 1)).strip()
        if not base or base == tip:
            result[name] = 0  # merged (or unrelated history)
            continue
        result[name] = max(0, counter.commit(base).lines - counter.commit(tip).lines)
    return result


def trend(repo: str, branch: str = "HEAD", every: str | None = None, since: str | None = None,
          until: str | None = None, at: str | None = None, tags: str | None = None,
          refs: list[str] | None = None, excludes=DEFAULT_EXCLUDES, utf8: bool | None = None,
          progress=None, cache: Cache | None = None) -> tuple[list[Point], TreeCounter]:
    """Compute the points; ``progress(done, total)`` is called per point.

    ``cache`` keeps blob counts between runs."""
    step = parse_every(every) if every else None
    since_d = parse_date(since, "--since") if since else None
    until_d = parse_date(until, "--until") if until else None
    at_list = []
    for item in filter(None, (s.strip() for s in (at or "").split(","))):
        label, _, text = item.rpartition("=")
        at_list.append((label or None, parse_date(text, "--at date")))
    if step is None and not at_list and tags is None:
        step = parse_every("7d")
    git = Git(repo)
    try:
        history = History(git, branch)
        wanted = []
        dates = date_points(history, step, since_d, until_d, at_list)
        for label, when, named in dates:
            found = history.as_of(when)
            if found:  # before the first commit: nothing to count
                wanted.append((label, when, named, found[0]))
        if tags is not None:
            wanted += tag_points(git, tags)
            wanted.sort(key=lambda w: w[1])
        if not wanted:
            raise _no_points(history, dates, tags)
        ref_tips = resolve_refs(git, refs or [])
        counter = TreeCounter(git, excludes, utf8, cache=cache)
        points = []
        for index, (label, when, named, sha) in enumerate(wanted):
            count = counter.commit(sha)
            flights = in_flight(git, counter, sha, when, ref_tips)
            points.append(Point(label, when, sha, count.lines, len(count.production),
                                len(count.test), sum(flights.values()), flights, named))
            if progress:
                progress(index + 1, len(wanted))
        counter.save()
        return points, counter
    finally:
        git.close()
