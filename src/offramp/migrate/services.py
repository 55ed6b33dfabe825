"""``offramp services``: what still keeps each entry point on eventlet.

For every console or WSGI script (or module named by the caller), the
modules it loads are its import closure: grimp's static import graph, each
module's parent packages (which run first), and the *string edges* that
name-based loading creates (see ``_strings``).  The closure's modules that
use eventlet, by ``scan``'s findings, are reported with the shortest chain
that loads them, preferring chains with the fewest string edges.

A string edge counts for every service whose closure holds the module with
the string, except the entries of a map keyed by service names (nova's
``SERVICE_MANAGERS``): those count for the service of that key only.  That
assumes the map is read with the running service's own name, which is how
such tables are used; a read with a constant key elsewhere in the closure
is followed as an edge of its own.  ``keyed_maps="all"`` drops the
assumption.  Nothing scanned is imported or run.
"""

from __future__ import annotations

import heapq
import importlib
import os
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

from offramp.migrate import _project
from offramp.migrate._project import EntryPoint, Project, ProjectError
from offramp.migrate._strings import IMPORT_CALLS, ModuleStrings, StringRef, module_strings
from offramp.migrate._walk import DEFAULT_EXCLUDES, TEST_DIRS, is_test_path

__all__ = ["Hop", "ModuleUse", "ProjectError", "ServiceResult", "ServicesReport", "services"]

_EVENTLET = re.compile(r"eventlet|greenlet", re.I)
_DOTTED = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")
# A string names a module, or something at most this many attributes inside
# one (module.Class, module.Class.method).
_MAX_ATTRS = 2


@dataclass(frozen=True)
class Hop:
    """One step of a chain: ``module``, reached from the previous hop by ``kind``."""

    module: str
    kind: str | None = None  # import | package | string; None for the entry point
    line: int | None = None  # in the previous hop's file
    where: str | None = None  # that file and line, project-relative
    via: str | None = None  # string edges: the construct that holds the name
    text: str | None = None  # string edges: the string itself
    scope: str | None = None  # string edges: which services it counts for

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class ModuleUse:
    module: str
    path: str
    usages: int
    kinds: dict[str, int]
    imports_eventlet: bool
    chain: list[Hop]

    @property
    def string_edges(self) -> int:
        return sum(h.kind == "string" for h in self.chain)

    def as_dict(self) -> dict:
        return {"module": self.module, "path": self.path, "usages": self.usages,
                "kinds": self.kinds, "imports_eventlet": self.imports_eventlet,
                "string_edges": self.string_edges,
                "chain": [h.as_dict() for h in self.chain]}


@dataclass
class ServiceResult:
    entry_point: EntryPoint
    in_project: bool
    closure: int = 0  # modules of the project it loads
    modules: list[ModuleUse] = field(default_factory=list)
    missing: bool = False  # named under a project package that has no such module

    @property
    def ready(self) -> bool:
        """Nothing in its closure uses eventlet (only meaningful in_project)."""
        return self.in_project and not self.modules

    @property
    def usages(self) -> int:
        return sum(m.usages for m in self.modules)

    def as_dict(self) -> dict:
        ep = self.entry_point
        return {"name": ep.name, "group": ep.group, "target": ep.target,
                "in_project": self.in_project, "missing": self.missing, "closure": self.closure,
                "ready": self.ready, "usages": self.usages,
                "eventlet_modules": [m.as_dict() for m in self.modules]}


@dataclass
class ServicesReport:
    root: str
    declared_in: list[str]
    services: list[ServiceResult]
    modules: int  # in the project's import graph
    string_edges: int  # resolved, over the whole project
    keyed_maps: dict[str, str]  # map name -> where it is defined
    keyed_mode: str
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"root": self.root, "declared_in": self.declared_in,
                "modules": self.modules, "string_edges": self.string_edges,
                "keyed_maps": self.keyed_maps, "keyed_mode": self.keyed_mode,
                "services": [s.as_dict() for s in self.services],
                "warnings": self.warnings}


class _Modules:
    """The project's modules, their files, and grimp's import graph."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.graph = _build_graph(project)
        self.names = frozenset(self.graph.modules)
        self._paths: dict[str, str | None] = {}
        self._imports: dict[str, frozenset[str]] = {}

    def path(self, module: str) -> str | None:
        """The module's file, relative to the project root (posix)."""
        if module not in self._paths:
            top, *rest = module.split(".")
            base = os.path.join(self.project.packages[top], *rest)
            found = None
            for candidate in (os.path.join(base, "__init__.py"), base + ".py"):
                if os.path.isfile(candidate):
                    found = os.path.relpath(candidate, self.project.root).replace(os.sep, "/")
                    break
            self._paths[module] = found
        return self._paths[module]

    def imports(self, module: str) -> frozenset[str]:
        if module not in self._imports:
            self._imports[module] = frozenset(self.graph.find_modules_directly_imported_by(module))
        return self._imports[module]

    def import_line(self, importer: str, imported: str) -> int | None:
        details = self.graph.get_import_details(importer=importer, imported=imported)
        return min((d["line_number"] for d in details), default=None)

    def resolve(self, value: str) -> str | None:
        """The project module a string names (``pkg.mod``, ``pkg.mod.Class``, ``pkg.mod:fn``)."""
        if value.count(":") == 1:
            value = value.replace(":", ".")
        if not _DOTTED.match(value):
            return None
        parts = value.split(".")
        if parts[0] not in self.project.packages:
            return None
        for cut in range(len(parts), max(len(parts) - _MAX_ATTRS - 1, 0), -1):
            name = ".".join(parts[:cut])
            if name in self.names:
                return name
        return None

    def starting_with(self, prefix: str, importer: str) -> list[str]:
        """Modules a name starting with ``prefix`` can load: the matching children.

        ``'pkg.virt.'`` gives every module directly under ``pkg.virt``;
        ``'{__name__}._'`` (in ``pkg.backends``) those under it starting with ``_``.
        """
        own_package = importer if (self.path(importer) or "").endswith("__init__.py") \
            else importer.rpartition(".")[0]
        prefix = prefix.replace("{__name__}", importer).replace("{__package__}", own_package)
        package, _, stem = prefix.rpartition(".")
        if package not in self.names:
            return []
        return sorted(m for m in self.names if m.rpartition(".")[0] == package
                      and m.rpartition(".")[2].startswith(stem))


def _build_graph(project: Project):
    """grimp's graph of the project's packages, found in its own directories.

    grimp locates packages with importlib, so the source directories go
    first on sys.path, and a package of the same name that this process
    already imported is set aside while the graph is built.
    """
    import grimp

    names = sorted(project.packages)
    saved_path = list(sys.path)
    saved = {n: sys.modules.pop(n) for n in names if n in sys.modules}
    sys.path[:0] = project.source_dirs
    importlib.invalidate_caches()
    try:
        return grimp.build_graph(*names, cache_dir=None)
    finally:
        sys.path[:] = saved_path
        sys.modules.update(saved)
        importlib.invalidate_caches()


@dataclass(frozen=True)
class _Edge:
    target: str
    kind: str
    line: int | None = None
    via: str | None = None
    text: str | None = None
    scope: str | None = None


class _StringEdges:
    """String edges of every module, read once per file."""

    def __init__(self, modules: _Modules, service_names: set[str], keyed_mode: str) -> None:
        self.modules = modules
        self.service_names = service_names
        self.keyed_mode = keyed_mode
        self.groups = modules.project.plugin_groups()
        self.parsed: dict[str, ModuleStrings] = {}
        self.warnings: list[str] = []
        packages = b"|".join(re.escape(n.encode()) for n in sorted(modules.project.packages))
        # A quoted project name, or a loading call whose name may be built at run time.
        self._candidates = re.compile(rb"""['"](?:""" + packages + rb""")[.:]|\b(?:"""
                                      + "|".join(sorted(IMPORT_CALLS)).encode() + rb""")\(""")
        self._groups = re.compile(b"|".join(re.escape(g.encode()) for g in sorted(self.groups))) \
            if self.groups else None
        self.keyed: dict[str, list[tuple[str, StringRef]]] = {}  # map name -> (module, entry)
        self._cache: dict[str, list[_Edge]] = {}
        self._prepass()

    def _source(self, module: str) -> bytes | None:
        path = self.modules.path(module)
        if path is None:
            return None
        try:
            with open(os.path.join(self.modules.project.root, path), "rb") as fh:
                return fh.read()
        except OSError as exc:
            self.warnings.append(f"{path}: {exc.strerror}")
            return None

    def _parse(self, module: str, source: bytes | None) -> ModuleStrings:
        if module not in self.parsed:
            found = ModuleStrings()
            if source is not None and self._worth_parsing(module, source):
                found = module_strings(source)
                if found.error:
                    self.warnings.append(f"{self.modules.path(module)}: {found.error}; "
                                         f"its strings are not followed")
            self.parsed[module] = found
        return self.parsed[module]

    def _worth_parsing(self, module: str, source: bytes) -> bool:
        """A quoted project name or a plugin namespace: parsing is the costly part."""
        return bool(self._candidates.search(source)
                    or (self._groups is not None and self._groups.search(source)))

    def _prepass(self) -> None:
        """Parse production modules up front: maps must be known before lookups."""
        sources = {}
        for module in sorted(self.modules.names):
            path = self.modules.path(module)
            if path is None or is_test_path(path):
                continue
            sources[module] = source = self._source(module)
            for ref in self._parse(module, source).refs:
                if ref.context == "map":
                    self.keyed.setdefault(ref.map_name, []).append((module, ref))
        # Only maps whose every key is a service name are per-service tables.
        self.keyed = {name: entries for name, entries in self.keyed.items()
                      if all(ref.key in self.service_names for _, ref in entries)}
        if self.keyed:  # files reading a keyed map by a constant key need a parse too
            needle = re.compile(b"|".join(re.escape(n.encode()) for n in self.keyed))
            for module, source in sources.items():
                if source is not None and needle.search(source) and not self.parsed[module].refs:
                    self.parsed[module] = module_strings(source)

    def keyed_maps(self) -> dict[str, str]:
        return {name: ", ".join(sorted({self.modules.path(m) for m, _ in entries}))
                for name, entries in sorted(self.keyed.items())}

    def edges(self, module: str, service: str | None) -> list[_Edge]:
        """Edges out of ``module`` for ``service`` (None: its service name is unknown)."""
        out = list(self._common(module))
        if self.keyed_mode != "per-service":
            return out
        for ref in self._refs(module).refs:
            if ref.context != "map" or ref.map_name not in self.keyed:
                continue
            if service is None:
                scope = "this entry point: its service name is unknown, so every entry counts"
            elif ref.key == service:
                scope = f"{service} only: a map keyed by service name"
            else:
                continue
            target = self.modules.resolve(ref.value)
            if target and target != module:
                out.append(_Edge(target, "string", ref.line,
                                 f"{ref.map_name}[{ref.key!r}] = {ref.value!r}", ref.value, scope))
        return out

    def _refs(self, module: str) -> ModuleStrings:
        if module not in self.parsed:  # a test module reached from a service
            self._parse(module, self._source(module))
        return self.parsed[module]

    def _common(self, module: str) -> list[_Edge]:
        """The edges that count for every service loading ``module``."""
        if module in self._cache:
            return self._cache[module]
        found = self._refs(module)
        everyone = f"every service that loads {module}"
        out = []
        for ref in found.refs:
            per_service = ref.context == "map" and ref.map_name in self.keyed
            if per_service and self.keyed_mode == "per-service":
                continue  # in edges()
            if ref.context == "import prefix":
                for target in self.modules.starting_with(ref.value, module):
                    if target != module:
                        out.append(_Edge(target, "string", ref.line,
                                         f"{ref.call}() of a name starting {ref.value!r}: any "
                                         f"module it can name", ref.value, everyone))
                continue
            target = self.modules.resolve(ref.value)
            if target and target != module:
                via = {"import call": f"{ref.call}({ref.value!r})",
                       "config default": f"{ref.call}(default={ref.value!r})",
                       "map": f"{ref.map_name}[{ref.key!r}] = {ref.value!r}",
                       }.get(ref.context, repr(ref.value))
                if ref.context == "map" and ref.map_name in self.keyed:
                    via += ", a map keyed by service name, not attributed per service"
                out.append(_Edge(target, "string", ref.line, via, ref.value, everyone))
            for ep in self.groups.get(ref.value, ()):
                target = self.modules.resolve(ep.module)
                if target and target != module:
                    out.append(_Edge(target, "string", ref.line,
                                     f"stevedore namespace {ref.value!r}, entry point "
                                     f"{ep.name} = {ep.target}",
                                     ref.value, everyone))
        for lookup in found.lookups:
            for origin, ref in self.keyed.get(lookup.map_name, ()):
                target = self.modules.resolve(ref.value)
                if ref.key == lookup.key and target and target != module:
                    out.append(_Edge(target, "string", lookup.line,
                                     f"{lookup.map_name}[{lookup.key!r}] read with a constant key; "
                                     f"the map holds {ref.value!r}",
                                     ref.value, everyone))
        self._cache[module] = out
        return out


def _closure(start: str, modules: _Modules, strings: _StringEdges, service: str | None):
    """Shortest chains from ``start``: fewest string edges first, then fewest hops."""
    best: dict[str, tuple[tuple[int, int], str | None, _Edge | None]] = {
        start: ((0, 0), None, None)}
    heap = [((0, 0), start)]
    while heap:
        cost, module = heapq.heappop(heap)
        if cost > best[module][0]:
            continue
        edges = [_Edge(t, "import") for t in sorted(modules.imports(module))]
        parent = module.rpartition(".")[0]
        if parent in modules.names:
            edges.append(_Edge(parent, "package"))
        edges += strings.edges(module, service)
        for edge in edges:
            step = (cost[0] + (edge.kind == "string"), cost[1] + 1)
            if edge.target not in best or step < best[edge.target][0]:
                best[edge.target] = (step, module, edge)
                heapq.heappush(heap, (step, edge.target))
    return best


def _chain(best, module: str, modules: _Modules) -> list[Hop]:
    hops = []
    while True:
        _, previous, edge = best[module]
        if edge is None:
            hops.append(Hop(module))
            break
        line = edge.line if edge.kind == "string" else (
            modules.import_line(previous, module) if edge.kind == "import" else None)
        where = f"{modules.path(previous)}:{line}" if line is not None else None
        hops.append(Hop(module, edge.kind, line, where, edge.via, edge.text, edge.scope))
        module = previous
    return hops[::-1]


def _usage(modules: _Modules, wanted: set[str]):
    """scan's findings for the project's packages, indexed by project-relative path.

    Each package is scanned once, test directories left out; a module of a
    test directory that a service does load is scanned on its own.
    """
    from offramp.migrate.scan import scan

    root = modules.project.root
    by_path: dict[str, list] = {}
    importing: set[str] = set()
    warnings: list[str] = []

    def add(result, prefix: str) -> None:
        for usage in result.usages:
            by_path.setdefault(prefix + usage.path, []).append(usage)
        importing.update(prefix + p for p in result.production + result.test)
        warnings.extend(prefix + w for w in result.warnings)

    for name, directory in sorted(modules.project.packages.items()):
        prefix = os.path.relpath(directory, root).replace(os.sep, "/") + "/"
        add(scan(directory, DEFAULT_EXCLUDES + tuple(sorted(TEST_DIRS))), prefix)
    for module in sorted(wanted):
        path = modules.path(module)
        if path and set(path.split("/")[:-1]) & TEST_DIRS:
            result = scan(os.path.join(root, path))
            for usage in result.usages:
                usage.path = path
            by_path[path] = result.usages
            if result.production or result.test:
                importing.add(path)
    return by_path, importing, warnings


def services(root: str, modules: list[str] | None = None, keyed_maps: str = "per-service",
             progress=None) -> ServicesReport:
    """Entry points of the project at ``root`` (or ``modules``) and what loads eventlet in each."""
    if keyed_maps not in ("per-service", "all"):
        raise ValueError(f"invalid keyed_maps {keyed_maps!r}: expected 'per-service' or 'all'")
    started = time.perf_counter()
    project = _project.load(root)
    given = [_project.parse_module_arg(m) for m in modules or ()]
    entry_points = given or project.services
    if not entry_points:
        raise ProjectError(
            f"{root}: no console_scripts or wsgi_scripts in setup.cfg, and no [project.scripts] "
            f"in pyproject.toml; name the modules to check, e.g. --module pkg.cmd.api")
    if not project.packages:
        raise ProjectError(f"{root}: no Python package (a directory with __init__.py) "
                           f"directly in it or in its src/ directory")
    graph = _Modules(project)
    names = {ep.name for ep in project.services + given if ep.named}
    strings = _StringEdges(graph, names, keyed_maps)
    closures = {}
    for ep in entry_points:
        if ep.module in graph.names:
            closures[ep] = _closure(ep.module, graph, strings, ep.name if ep.named else None)
        if progress:
            progress(len(closures), len(entry_points))
    wanted = set().union(*closures.values()) if closures else set()
    by_path, importing, warnings = _usage(graph, wanted)
    results = []
    for ep in entry_points:
        if ep not in closures:
            top = ep.module.split(".")[0]
            results.append(ServiceResult(ep, False, missing=top in project.packages))
            continue
        best = closures[ep]
        uses = []
        for module in best:
            path = graph.path(module)
            found = by_path.get(path, [])
            if not (path in importing or any(_EVENTLET.search(u.name) for u in found)):
                continue  # e.g. only time.sleep(0): a finding, but no eventlet
            uses.append(ModuleUse(module, path, len(found),
                                  dict(Counter(u.kind for u in found).most_common()),
                                  path in importing, _chain(best, module, graph)))
        uses.sort(key=lambda u: (u.string_edges, len(u.chain), u.module))
        results.append(ServiceResult(ep, True, len(best), uses))
    edge_count = sum(len(strings._common(m)) for m in strings.parsed)
    return ServicesReport(project.root, [] if given else project.declared_in, results,
                          len(graph.names), edge_count, strings.keyed_maps(), keyed_maps,
                          strings.warnings + warnings, time.perf_counter() - started)
