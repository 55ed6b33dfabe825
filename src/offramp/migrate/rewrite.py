"""``offramp rewrite``: the fixes the whole tree proves safe, and why not the rest.

One run, four steps:

1. **Read** every ``.py`` file under PATH (bytes, like grep) and keep the
   ones that can hold a usage: they mention eventlet or greenlet, or a
   rule's other needles (``sleep(0``...).
2. **Analyse** those with the shared resolver (``_facts``), in a process
   pool on large trees.  Then, as long as the tree-wide pass finds places
   holding eventlet objects (``self._pool``, ``utils.POOL``) or names a
   test may mock, the other files that mention those names are analysed
   too.
3. **Plan** (``_plan``): every fix, or the use that blocks it.
4. **Apply** (``_apply``, libcst) to the files that get edits, and check
   that a bootstrap can reach every module that gains ``offramp.*`` calls.
"""

from __future__ import annotations

import ast
import difflib
import os
import re
import stat
import sys
import tempfile
import warnings
from collections import defaultdict
from dataclasses import dataclass, field

from offramp.migrate._facts import file_facts
from offramp.migrate._registry import Edit, Fix, needles
from offramp.migrate._walk import DEFAULT_EXCLUDES, ModuleNames, walk

# Below this much work a process pool costs more than it saves.
POOL_MIN_FILES = 12
KEEP = b"offramp: keep"
_KEEP_RE = re.compile(rb"#\s*offramp:\s*keep(-file)?\b")
_DESTINATION_PATCH = re.compile(rb"time\.sleep['\"]|\btime\s*,\s*['\"]sleep['\"]")
BOOTSTRAP = 'offramp.bootstrap(default="eventlet")'


@dataclass
class Result:
    """The outcome for one source: new bytes, and what was left alone why."""

    old: bytes
    new: bytes
    reports: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def changed(self) -> bool:
        return self.old != self.new


@dataclass
class FileResult:
    path: str  # as shown to the user
    result: Result

    def diff(self) -> str:
        old = self.result.old.decode("utf-8", "replace").splitlines(keepends=True)
        new = self.result.new.decode("utf-8", "replace").splitlines(keepends=True)
        shown = self.path.lstrip("/")
        return "".join(difflib.unified_diff(old, new, f"a/{shown}", f"b/{shown}"))


@dataclass
class Run:
    """Everything one ``rewrite`` run found and did."""

    results: list[FileResult] = field(default_factory=list)  # files that were analysed
    refused: list[str] = field(default_factory=list)  # paths refused (symlinks out of PATH)
    fixes: list = field(default_factory=list)  # (path, Fix)
    refusals: list = field(default_factory=list)  # (path of blocking use, Refusal)
    bootstrap_warnings: list[str] = field(default_factory=list)
    files_seen: int = 0
    files_parsed: int = 0


# -- pragmas -----------------------------------------------------------------

def keep_ranges(source: bytes) -> tuple[tuple, bool]:
    """Line ranges under ``# offramp: keep``, and whether the whole file is.

    On a line that starts a compound statement (``def``, ``class``,
    ``with``...), the pragma keeps the whole block.
    """
    if KEEP not in source:
        return (), False
    lines, whole = [], False
    for m in _KEEP_RE.finditer(source):
        if m.group(1):
            whole = True
        else:
            lines.append(source.count(b"\n", 0, m.start()) + 1)
    if whole or not lines:
        return (), whole
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return tuple((n, n) for n in lines), False
    wanted = set(lines)
    ranges = {n: (n, n) for n in lines}
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt) and node.lineno in wanted:
            first = node.decorator_list[0].lineno if getattr(node, "decorator_list", None) \
                else node.lineno
            ranges[node.lineno] = (min(first, node.lineno), max(ranges[node.lineno][1],
                                                                 node.end_lineno))
    return tuple(sorted(ranges.values())), False


def _facts_job(args):
    path, module, is_package = args
    with open(path, "rb") as fh:
        return file_facts(fh.read(), module, is_package)


def _progress(total: int, label: str):
    """A rich progress bar on a terminal stderr, else a no-op."""
    if total < POOL_MIN_FILES or not sys.stderr.isatty():
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    progress = Progress("[progress.description]{task.description}", BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(),
                        console=Console(stderr=True), auto_refresh=False, transient=True)
    progress.start()
    progress.add_task(label, total=total)
    return progress


def _can_fork_workers() -> bool:
    """Not from a process eventlet has monkey-patched (a test run in eventlet
    mode): its green threads and sockets do not survive a process pool."""
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is not None and patcher.is_monkey_patched("thread"):
        return False
    import multiprocessing

    return "forkserver" in multiprocessing.get_all_start_methods()


def analyse(jobs_list, jobs: int) -> list:
    """FileFacts for each ``(path, module, is_package)``, in order."""
    if not jobs_list:
        return []
    progress = _progress(len(jobs_list), "analysing")
    try:
        if jobs > 1 and len(jobs_list) >= POOL_MIN_FILES and _can_fork_workers():
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["offramp.migrate._facts", "offramp.migrate._rules"])
            out = []
            with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
                # Largest first, so one big file does not finish alone at the end.
                order = sorted(range(len(jobs_list)),
                               key=lambda i: -os.path.getsize(jobs_list[i][0]))
                futures = {i: pool.submit(_facts_job, jobs_list[i]) for i in order}
                for i in range(len(jobs_list)):
                    out.append(futures[i].result())
                    if progress is not None:
                        progress.advance(0)
                        progress.refresh()
            return out
        out = []
        for job in jobs_list:
            out.append(_facts_job(job))
            if progress is not None:
                progress.advance(0)
                progress.refresh()
        return out
    finally:
        if progress is not None:
            progress.stop()


# -- the run -------------------------------------------------------------------

def atomic_write(path: str, data: bytes) -> None:
    """Replace ``path`` in one step, keeping its permission bits."""
    mode = stat.S_IMODE(os.stat(path).st_mode)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".offramp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _path_excluded(rel: str, globs: tuple[str, ...]) -> bool:
    import fnmatch

    return any(fnmatch.fnmatchcase(rel, g) or fnmatch.fnmatchcase(rel, g.rstrip("/") + "/*")
               for g in globs)


def _b(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")  # module names from odd file names


def _watch_list(project, plan_objects) -> list:
    """``(literal, pattern)`` pairs: a file is read for the pattern only when
    it holds the literal (a substring test is far cheaper than a regex)."""
    out = set()
    for key in plan_objects:
        if key[0] == "A":
            name = re.escape(_b(key[1]))
            out.add((_b(key[1]), rb"\." + name + rb"\b|['\"]" + name + rb"['\"]"))
        elif key[0] == "G":
            out.add((_b(key[2]), rb"\b" + re.escape(_b(key[2])) + rb"\b"))
    for f in project.files:
        last = _b((f.module or "").rsplit(".", 1)[-1])
        for name, qual in f.facts.exports.items():
            if qual.split(".")[0] in ("eventlet", "greenlet") and last:
                literal = last + b"." + _b(name)
                out.add((literal, rb"\b" + re.escape(literal) + rb"\b"))
    return [(lit, re.compile(pat)) for lit, pat in sorted(out)]


def _watched(data: bytes, watch: list) -> bool:
    return any(lit in data and pat.search(data) for lit, pat in watch)


def _object_keys(project) -> set:
    """Tree places bound to eventlet objects: what other files must be read for."""
    from offramp.migrate._registry import constructor_rule

    keys = set()
    for i, f in enumerate(project.files):
        for ref in f.facts.refs:
            if ref.shape[0] == "call" and constructor_rule(ref.qualname):
                result = ref.shape[1].result
                if result[0] == "bind":
                    key = project.tree_key(i, result[1])
                    if key is not None and key[0] != "L":
                        keys.add(key)
        for occ in f.facts.occurrences:
            if occ.shape[0] == "bind":
                key = project.tree_key(i, occ.key)
                if key in keys:
                    target = project.tree_key(i, occ.shape[1])
                    if target is not None and target[0] != "L":
                        keys.add(target)
    return keys


def rewrite_tree(root: str, write: bool = False, excludes: tuple[str, ...] = DEFAULT_EXCLUDES,
                 exclude_paths: tuple[str, ...] = (), entry_points: tuple[str, ...] = (),
                 jobs: int | None = None, require_bootstrap: bool = False) -> Run:
    """Plan and (with ``write``) apply the safe fixes under ``root``.

    Files are written through their resolved path, and only when that path
    is inside the resolved ``root``: a symlink out of the tree is refused.
    """
    from offramp.migrate._plan import Project, SourceFile

    if not os.path.exists(root):
        raise FileNotFoundError(f"no such file or directory: {root}")
    jobs = jobs or os.cpu_count() or 1
    real_root = os.path.realpath(root)
    single = not os.path.isdir(real_root)
    base = os.path.dirname(real_root) if single else real_root
    run = Run()
    modules = ModuleNames()
    wanted = needles()
    candidates = []  # (shown, real, rel, data)
    seen = set()
    for entry in walk(root, excludes):
        if not (single or entry.rel.endswith(".py")):
            continue
        if exclude_paths and _path_excluded(entry.rel, exclude_paths):
            continue
        real = os.path.realpath(entry.path)
        if os.path.commonpath([base, real]) != base:
            run.refused.append(f"{entry.path}: resolves to {real}, outside {root}; refused")
            continue
        if real in seen:
            continue
        seen.add(real)
        with open(real, "rb") as fh:
            data = fh.read()
        shown = entry.path if single else os.path.join(root, entry.rel)
        candidates.append((shown, real, entry.rel, data))
    run.files_seen = len(candidates)

    entry_modules = {spec.partition(":")[0] for spec in entry_points}
    selected = [i for i, c in enumerate(candidates)
                if any(n in c[3] for n in wanted)
                or (b"bootstrap" in c[3] and b"offramp" in c[3])
                or (entry_modules and modules.name(c[1])[0] in entry_modules)]
    chosen = set(selected)
    files: list = []
    index_of: dict[int, int] = {}
    project = Project([])

    def add(indices):
        jobs_list = []
        for i in indices:
            shown, real, _rel, _data = candidates[i]
            module, is_package = modules.name(real)
            jobs_list.append((real, module, is_package))
        for i, facts, job in zip(indices, analyse(jobs_list, jobs), jobs_list):
            kept, whole = keep_ranges(candidates[i][3])
            index_of[i] = len(files)
            files.append(SourceFile(candidates[i][0], job[1], facts, kept, whole))

    known = {modules.name(c[1])[0] for c in candidates} - {""}
    add(selected)
    project = Project(files, known)
    # Follow objects and mockable names into the files that mention them.
    destination_checked = False
    while True:
        project = Project(files, known)
        watch = _watch_list(project, _object_keys(project))
        more = []
        for i, c in enumerate(candidates):
            if i in chosen:
                continue
            if _watched(c[3], watch) or (not destination_checked and b"sleep" in c[3]
                                         and _DESTINATION_PATCH.search(c[3])):
                more.append(i)
        destination_checked = True
        if not more:
            break
        chosen.update(more)
        add(more)
    project = Project(files, known)
    run.files_parsed = len(files)
    plan = project.plan()
    _entry_points(project, entry_points, plan)
    run.bootstrap_warnings, unreached = _bootstrap_check(project, plan, candidates, modules)
    if require_bootstrap and unreached:
        from offramp.migrate._registry import Refusal

        kept = []
        for fix in plan.fixes:
            stray = [c for c in fix.offramp_calls if c[0] in unreached]
            if stray:
                plan.refusals.append(Refusal(fix.what, "no offramp.bootstrap() reaches this module "
                                                       "(--require-bootstrap)", stray[0][0],
                                             stray[0][1]))
            else:
                kept.append(fix)
        plan.fixes = kept
        plan.add_imports.clear()
        project._imports(plan)
        run.bootstrap_warnings = []
    for fix in plan.fixes:
        run.fixes.append((files[fix.edits[0].file].path, fix))
    for refusal in plan.refusals:
        run.refusals.append((files[refusal.file].path, refusal))

    from offramp.migrate._apply import ApplyError, apply_edits

    by_file = plan.edits_by_file()
    for i, c in enumerate(candidates):
        shown, real, _rel, data = c
        j = index_of.get(i)
        if j is None:
            continue
        sf = files[j]
        result = Result(data, data, error=f"cannot parse: {sf.facts.error}" if sf.facts.error
                        else _undecodable(data))
        edits = by_file.get(j, [])
        add_mods = plan.add_imports.get(j, set())
        remove = plan.remove_imports.get(j, set())
        if edits or add_mods or remove:
            try:
                result.new = apply_edits(data, sf.facts, edits, add_mods, remove)
                compile(result.new, shown, "exec", dont_inherit=True)
            except (ApplyError, SyntaxError, ValueError, UnicodeError) as exc:
                result.new = data
                result.reports.append(f"not rewritten, the edit failed: {exc}")
        result.reports += [f"line {r.line}: left alone: {r.what}: {r.reason}"
                           for p, r in run.refusals if p == shown]
        if write and result.changed:
            atomic_write(real, result.new)
        run.results.append(FileResult(shown, result))
    return run


def _undecodable(data: bytes) -> str | None:
    """Why a file that ``ast`` accepted cannot be rewritten as text, if so."""
    import io
    import tokenize

    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        data.decode(encoding)
    except (SyntaxError, UnicodeDecodeError, LookupError) as exc:
        return f"cannot parse: not valid in its encoding ({exc})"
    return None


def _entry_points(project, entry_points, plan) -> None:
    """``offramp.bootstrap()`` first in each entry point.

    ``MODULE:FUNC``: as the first statement of the function (after its
    docstring).  ``MODULE``: at module level, right after the leading
    import block; for a test package's ``__init__``, which every test
    module of the package imports first.
    """
    for spec in entry_points:
        module, colon, func = spec.partition(":")
        index = project.modules.get(module)
        if index is None or (colon and not func):
            raise ValueError(f"invalid --entry-point {spec!r}: expected MODULE or MODULE:FUNCTION, "
                             "with MODULE a module of the tree being rewritten")
        facts = project.files[index].facts
        if any(r.qualname == "offramp.bootstrap" for r in facts.refs):
            continue  # already bootstraps
        path = project.files[index].path
        with open(path, "rb") as fh:
            tree = ast.parse(fh.read())
        if func:
            target = next((n for n in tree.body
                           if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                           and n.name == func), None)
            if target is None:
                raise ValueError(f"invalid --entry-point {spec!r}: no function {func} at the top "
                                 f"level of {module}")
            body = target.body
            if body[0].lineno == target.lineno:
                raise ValueError(f"invalid --entry-point {spec!r}: {func} is written on one line")
        else:
            body = tree.body
        i = 1 if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str) else 0
        if not func:
            while i < len(body) and isinstance(body[i], (ast.Import, ast.ImportFrom)):
                i += 1
        if i < len(body):
            line, indent = body[i].lineno, " " * body[i].col_offset
        else:
            line, indent = body[-1].end_lineno + 1 if body else 1, " " * (4 if func else 0)
        edit = Edit(index, (line, 0, line, 0), ("insert", f"{indent}{BOOTSTRAP}\n"))
        if not any(imp.scope == 0 and imp.local == "offramp" and not imp.is_from
                   for imp in facts.imports):
            plan.add_imports[index].add("offramp")
        plan.fixes.append(Fix(f"bootstrap in {spec}", (edit,), ((index, "offramp", 0),)))


_IMPORT_RE = re.compile(
    rb"^[ \t]*(?:import[ \t]+([\w. \t,]+)|from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+"
    rb"(\([^)]*\)|[^\n#;]*))", re.M)


def _imports_of(module: str, is_package: bool, data: bytes, known: set) -> set:
    """Tree modules a file imports, by a textual pass (cheap on every file)."""
    out = set()
    package = module if is_package else module.rpartition(".")[0]
    for m in _IMPORT_RE.finditer(data):
        if m.group(1):
            for part in m.group(1).split(b","):
                name = part.split()[0].decode("ascii", "replace") if part.split() else ""
                while name and name not in known:
                    name = name.rpartition(".")[0]
                if name:
                    out.add(name)
            continue
        source = m.group(2).decode("ascii", "replace")
        level = len(source) - len(source.lstrip("."))
        base = source.lstrip(".")
        if level:
            parts = package.split(".") if package else []
            parts = parts[: len(parts) - (level - 1)] if level > 1 else parts
            base = ".".join(parts + ([base] if base else []))
        for name in re.findall(rb"\w+", m.group(3)):
            full = f"{base}.{name.decode()}" if base else name.decode()
            if full in known:
                out.add(full)
        probe = base
        while probe and probe not in known:
            probe = probe.rpartition(".")[0]
        if probe:
            out.add(probe)
    # Importing a.b.c runs a/__init__ and a/b/__init__ first.
    for name in list(out):
        while "." in name:
            name = name.rpartition(".")[0]
            if name in known:
                out.add(name)
    return out


def _bootstrap_check(project, plan, candidates, modules) -> tuple[list[str], set]:
    """Warnings for, and the files of, modules that gain offramp.* calls with
    no bootstrap reachable."""
    gaining = defaultdict(list)
    for fix in plan.fixes:
        for file, line, _scope, _it in fix.offramp_calls:
            gaining[file].append(line)
    if not gaining:
        return [], set()
    names = {}
    for shown, real, _rel, data in candidates:
        names[real] = modules.name(real)
    known = {m for m, _ in names.values() if m}
    graph = {}
    for shown, real, _rel, data in candidates:
        module, is_package = names[real]
        graph[module] = _imports_of(module, is_package, data, known)
    roots = {f.module for f in project.files
             if any(r.qualname == "offramp.bootstrap" for r in f.facts.refs)}
    roots |= {project.files[fix.edits[0].file].module for fix in plan.fixes
              if fix.what.startswith("bootstrap in ")}
    reached, todo = set(roots), list(roots)
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in reached:
                reached.add(nxt)
                todo.append(nxt)
    out, unreached = [], set()
    for file, lines in sorted(gaining.items()):
        f = project.files[file]
        parents = {f.module.rsplit(".", n)[0] for n in range(1, f.module.count(".") + 1)}
        if f.module in reached or parents & roots:  # a package's __init__ runs first
            continue
        unreached.add(file)
        out.append(f"{f.path}: gains offramp calls (line {', '.join(map(str, sorted(lines)[:5]))}) "
                   "but no module that calls offramp.bootstrap() imports it")
    return out, unreached


def rewrite_source(source: bytes, module: str = "snippet") -> Result:
    """Rewrite one module's bytes on its own (a tree of one file)."""
    import shutil

    directory = tempfile.mkdtemp(prefix="offramp-rewrite-")
    try:
        path = os.path.join(directory, f"{module}.py")
        with open(path, "wb") as fh:
            fh.write(source)
        run = rewrite_tree(path, jobs=1)
        return run.results[0].result if run.results else Result(source, source)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


__all__ = ["FileResult", "Result", "Run", "atomic_write", "rewrite_source", "rewrite_tree"]
