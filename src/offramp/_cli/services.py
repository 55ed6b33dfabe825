"""``offramp services [PATH]``: what still keeps each service on eventlet."""

from __future__ import annotations

import json
import sys

from offramp._cli import _output

LEGEND = ("Chains: -> imports, ^ its parent package (which runs first), ~> a string edge: "
          "a name in a string that the code loads (the last column says where).")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "services", help="which entry points load eventlet, and through which imports",
        description="For each console/WSGI script of the project (setup.cfg, pyproject.toml) "
                    "or each --module, list the modules of its import closure that use "
                    "eventlet, with scan's counts and the chain that loads each. The closure "
                    "follows imports (grimp), parent packages, and string edges: names of "
                    "project modules in strings, import_module/import_class/import_object "
                    "calls, oslo.config defaults and stevedore namespaces. Nothing is "
                    "imported unless --probe is given.")
    p.add_argument("path", metavar="PATH", nargs="?", default=".",
                   help="project root, holding setup.cfg or pyproject.toml (default: .)")
    p.add_argument("-m", "--module", action="append", metavar="[NAME=]MODULE[:FUNC]",
                   help="check this module instead of the declared entry points (repeatable)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--keyed-maps", choices=("per-service", "all"), default="per-service",
                   help="entries of a map keyed by service names (SERVICE_MANAGERS) count for "
                        "the service of their key only (per-service, the default), or for "
                        "every service that loads the map (all)")
    p.add_argument("--probe", action="store_true",
                   help="also import each entry point's module in a child interpreter in "
                        "offramp's threading mode, and report the real chain of the eventlet "
                        "import that fails it, or 'clean' (the project must be installed)")
    p.add_argument("--python", metavar="PATH",
                   help="interpreter for --probe (default: this one); it needs offramp too")
    p.set_defaults(func=run)


def run(args) -> int:
    from offramp.migrate import _probe
    from offramp.migrate.services import ProjectError, services

    try:
        with _output.progress("closures") as progress:
            report = services(args.path, args.module, args.keyed_maps, progress=progress)
    except (ProjectError, ValueError, OSError) as exc:
        print(f"offramp services: {exc}", file=sys.stderr)
        return 2
    probes = {}
    if args.probe:
        for service in report.services:
            ep = service.entry_point
            if ep.module not in probes:
                print(f"offramp services: probing {ep.module}", file=sys.stderr)
                probes[ep.module] = _probe.probe(ep.module, args.python)
    if args.json:
        data = report.as_dict()
        for service in data["services"]:
            if probes:
                found = probes[service["target"].partition(":")[0]]
                service["probe"] = found.as_dict()
        print(json.dumps(data, indent=2))
    else:
        _render(report, probes, args.path)
    return 0


def _verdict(service) -> str:
    if service.missing:
        return "no such module in the project"
    if not service.in_project:
        return "outside the project"
    if service.ready:
        return "ready"
    static = sum(not m.string_edges for m in service.modules)
    return f"eventlet ({static} by import)" if static else "eventlet (string edges only)"


def _render(report, probes, path: str) -> None:
    rows = []
    for s in report.services:
        ep = s.entry_point
        by_strings = sum(bool(m.string_edges) for m in s.modules)
        row = [ep.name, ep.group, ep.target,
               s.closure if s.in_project else "-", len(s.modules) if s.in_project else "-",
               by_strings if s.in_project else "-", s.usages if s.in_project else "-",
               _verdict(s)]
        if probes:
            row.append(_probe_cell(probes[ep.module]))
        rows.append(row)
    columns = ["service", "group", "entry point", "modules", "use eventlet", "via strings",
               "usages", "verdict"] + (["probe"] if probes else [])
    source = ", ".join(report.declared_in) or "command line"
    _output.table(f"Entry points of {path} ({source})", columns, rows,
                  numeric=("modules", "use eventlet", "via strings", "usages"))
    for s in report.services:
        if not s.modules:
            continue
        ep = s.entry_point
        by_strings = sum(bool(m.string_edges) for m in s.modules)
        _output.table(
            f"{ep.name} ({ep.target}): {len(s.modules)} modules use eventlet, "
            f"{by_strings} of them only through string edges",
            ("module", "usages", "kinds", "chain", "string edges on the chain"),
            [(m.module, m.usages, _kinds(m.kinds), chain_text(m.chain), _string_notes(m.chain))
             for m in s.modules],
            numeric=("usages",))
        probe = probes.get(ep.module)
        if probe is not None and probe.status == "eventlet":
            _output.text(f"probe: {probe.error}\n  chain: {_probe_chain(probe)}")
    if report.keyed_maps:
        where = "; ".join(f"{name} in {path}" for name, path in report.keyed_maps.items())
        how = ("each entry counts for the service of its key only" if report.keyed_mode ==
               "per-service" else "every entry counts for every service loading the map "
               "(--keyed-maps all)")
        _output.text(f"Maps keyed by service name: {where}: {how}.")
    _output.text(LEGEND)
    for warning in report.warnings:
        _output.text(f"warning: {warning}")


def _kinds(kinds: dict[str, int]) -> str:
    return ", ".join(f"{kind} {n}" for kind, n in kinds.items())


def chain_text(chain) -> str:
    parts = [chain[0].module]
    for hop in chain[1:]:
        parts.append({"import": "->", "package": "^", "string": "~>"}[hop.kind])
        parts.append(hop.module)
    return " ".join(parts)


def _string_notes(chain) -> str:
    notes = []
    for hop in chain[1:]:
        if hop.kind == "string":
            notes.append(f"{hop.where} {hop.via} (counts for {hop.scope})")
    return "; ".join(notes)


def _probe_cell(result) -> str:
    if result.status == "clean":
        return "clean" + (f" ({len(result.tolerated)} optional eventlet imports refused)"
                          if result.tolerated else "")
    if result.status == "eventlet":
        return "eventlet: " + _probe_chain(result)
    return f"error: {result.error}"


def _probe_chain(result) -> str:
    from offramp.migrate._probe import chain_text as text

    return text(result.chain) + f" -> {result.refused}"
