"""``offramp rewrite --write`` on real trees from PyPI, checked, and timed next to scan.

For each project (sdists by exact version: nova 31.0.0, oslo.messaging
16.1.0, glance 30.0.0 by default), on a fresh copy of the sdist:

* times ``grep -R -i eventlet``, ``offramp scan``, ``offramp rewrite``
  (dry run) and ``offramp rewrite --write``, side by side in one run;
* checks that every changed file compiles, that ``flake8 --select
  F401,F811,F821`` reports nothing on the changed files that it did not
  report before, that a second ``--write`` changes nothing, and the
  reviewer's hazard list (an independent textual audit, not offramp's
  own reasoning): no ``offramp.spawn(...)`` result later ``.wait()``,
  ``.kill()`` or ``.link()``-ed, no ``threading.Semaphore`` whose
  ``.balance`` is read, no ``SimpleQueue(n)``;
* prints a table, with files changed, fixes made and left alone by reason.

Exits 1 when a check fails.  The sdists are fetched with ``pip download
--no-deps --no-binary :all: NAME==VERSION`` into ``--cache`` (default
``$OFFRAMP_CORPUS_CACHE``, else a temporary directory); an existing
``NAME-VERSION.tar.gz`` there is reused.

Usage: python bench/bench_rewrite.py [--cache DIR] [--work DIR] [--only nova]
"""

from __future__ import annotations

import argparse
import ast
import collections
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time

from _sdists import extract, sdist

PROJECTS = [("nova", "31.0.0"), ("oslo.messaging", "16.1.0"), ("glance", "30.0.0")]
ENV = dict(os.environ, LC_ALL="C.UTF-8")


def timed(cmd, cwd) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, env=ENV)
    return time.perf_counter() - start, out


def offramp(*args: str) -> list[str]:
    return [sys.executable, "-m", "offramp", *args]


def digest(root: str) -> dict[str, str]:
    out = {}
    for d, _, names in os.walk(root):
        for n in names:
            if n.endswith(".py"):
                p = os.path.join(d, n)
                with open(p, "rb") as fh:
                    out[os.path.relpath(p, root)] = hashlib.sha1(fh.read()).hexdigest()
    return out


def flake8(root: str, files: list[str]) -> collections.Counter:
    """(file, code, message) of F401/F811/F821, line numbers dropped."""
    if not files:
        return collections.Counter()
    out = subprocess.run([sys.executable, "-m", "flake8", "--select", "F401,F811,F821", *files],
                         cwd=root, capture_output=True, text=True)
    found = collections.Counter()
    for line in out.stdout.splitlines():
        m = re.match(r"(.+?):\d+:\d+: (\w+) (.*)", line)
        if m:
            found[(m.group(1), m.group(2), m.group(3))] += 1
    return found


def _dotted(node) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _line(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def hazards(root: str) -> list[str]:
    """The reviewer's list, by text and ``ast``, on every ``.py`` file."""
    texts = {}
    for d, _, names in os.walk(root):
        for n in names:
            if n.endswith(".py"):
                with open(os.path.join(d, n), "rb") as fh:
                    texts[os.path.relpath(os.path.join(d, n), root)] = fh.read()
    spawned, semaphores, found = set(), set(), []
    for rel, data in texts.items():
        if b"SimpleQueue(" in data:
            for m in re.finditer(rb"SimpleQueue\(\s*[^)\s]", data):
                found.append(f"{rel}:{_line(data, m.start())}: SimpleQueue(n)")
        if b"offramp.spawn" not in data and b"Semaphore" not in data:
            continue
        try:
            tree = ast.parse(data)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("wait", "kill", "link") \
                    and isinstance(node.value, ast.Call) \
                    and _dotted(node.value.func) == "offramp.spawn":
                found.append(f"{rel}:{node.lineno}: offramp.spawn(...).{node.attr}()")
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                callee = _dotted(node.value.func)
                for target in node.targets:
                    name = target.attr if isinstance(target, ast.Attribute) else \
                        target.id if isinstance(target, ast.Name) else None
                    if name and callee == "offramp.spawn":
                        spawned.add(name)
                    if name and callee in ("threading.Semaphore", "threading.BoundedSemaphore"):
                        semaphores.add(name)
    # By name, in every file: a use through any receiver counts.
    for rel, data in texts.items():
        for name in spawned:
            for m in re.finditer(rb"\b" + re.escape(name.encode()) + rb"\.(wait|kill|link)\(", data):
                found.append(f"{rel}:{_line(data, m.start())}: "
                             f"{name}.{m.group(1).decode()}() on an offramp.spawn result")
        for name in semaphores:
            for m in re.finditer(rb"\b" + re.escape(name.encode()) + rb"\.balance\b", data):
                found.append(f"{rel}:{_line(data, m.start())}: {name}.balance on a "
                             "threading semaphore")
    return found


def run_project(name, version, cache, work) -> dict:
    archive = sdist(name, version, cache)
    pristine = extract(archive, os.path.join(work, name, "pristine"))
    tree = extract(archive, os.path.join(work, name, "tree"))
    load_before = os.getloadavg()[0]
    grep_t, grep = timed(["grep", "--exclude-dir=releasenotes", "-i", "eventlet", "-R", "."], tree)
    scan_t, scan = timed(offramp("scan", ".", "--json"), tree)
    dry_t, dry = timed(offramp("rewrite", ".", "--json"), tree)
    write_t, wrote = timed(offramp("rewrite", ".", "--write", "--json"), tree)
    summary = json.loads(wrote.stdout)
    before, after = digest(pristine), digest(tree)
    changed = sorted(p for p in after if after[p] != before.get(p))
    compile_errors = []
    for rel in changed:
        with open(os.path.join(tree, rel), "rb") as fh:
            try:
                compile(fh.read(), rel, "exec", dont_inherit=True)
            except SyntaxError as exc:
                compile_errors.append(f"{rel}: {exc}")
    new_flake = flake8(tree, changed) - flake8(pristine, changed)
    _, again = timed(offramp("rewrite", ".", "--write", "--json"), tree)
    second = digest(tree) != after or json.loads(again.stdout)["files_changed"]
    found = hazards(tree)
    reasons = collections.Counter(r["reason"].split(" (")[0] for r in summary["refusals"])
    return {
        "project": f"{name} {version}", "py_files": summary["files_seen"],
        "analysed": summary["files_analysed"], "changed": len(changed),
        "fixes": len(summary["fixes"]), "refused": len(summary["refusals"]),
        "reasons": reasons, "bootstrap_warnings": len(summary["bootstrap_warnings"]),
        "grep_s": grep_t, "grep_lines": grep.stdout.count(b"\n"),
        "scan_s": scan_t, "scan_lines": json.loads(scan.stdout)["lines"],
        "dry_s": dry_t, "write_s": write_t, "compile_errors": compile_errors,
        "flake8_new": sorted(new_flake), "second_run_changes": bool(second),
        "hazards": found, "load": (load_before, os.getloadavg()[0]),
        "diff_ok": dry.returncode == 0 and wrote.returncode == 0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", default=os.environ.get("OFFRAMP_CORPUS_CACHE"),
                        help="directory of sdists (reused, downloads go there)")
    parser.add_argument("--work", help="scratch directory (default: a temporary one)")
    parser.add_argument("--only", action="append", help="project names to run")
    args = parser.parse_args()
    cache = args.cache or tempfile.mkdtemp(prefix="offramp-sdists-")
    work = args.work or tempfile.mkdtemp(prefix="offramp-corpus-")
    os.makedirs(cache, exist_ok=True)
    print(f"load average at start: {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs")
    failed = False
    rows = []
    for name, version in PROJECTS:
        if args.only and name not in args.only:
            continue
        r = run_project(name, version, cache, work)
        rows.append(r)
        ok = not (r["compile_errors"] or r["flake8_new"] or r["second_run_changes"]
                  or r["hazards"] or not r["diff_ok"])
        failed |= not ok
        print(f"\n## {r['project']}  ({'all checks pass' if ok else 'CHECK FAILED'})")
        print(f"  .py files {r['py_files']}, analysed {r['analysed']}, changed {r['changed']}; "
              f"fixes made {r['fixes']}, left alone {r['refused']}; modules gaining offramp calls "
              f"with no bootstrap reachable: {r['bootstrap_warnings']}")
        print(f"  grep {r['grep_s']:6.2f} s ({r['grep_lines']} lines) | scan {r['scan_s']:6.2f} s "
              f"({r['scan_lines']} lines) | rewrite dry run {r['dry_s']:6.2f} s | "
              f"rewrite --write {r['write_s']:6.2f} s | rewrite/scan "
              f"{r['dry_s'] / r['scan_s']:.1f}x | load {r['load'][0]:.1f}->{r['load'][1]:.1f}")
        print(f"  compile errors: {len(r['compile_errors'])}; new flake8 F401/F811/F821: "
              f"{len(r['flake8_new'])}; second run changes: {r['second_run_changes']}; "
              f"hazards: {len(r['hazards'])}")
        for line in r["compile_errors"] + [str(x) for x in r["flake8_new"]] + r["hazards"]:
            print(f"    {line}")
        print("  left alone, by reason:")
        for reason, n in r["reasons"].most_common():
            print(f"    {n:4d}  {reason}")
    print("\n| project | .py files | analysed | changed | fixes | left alone | dry run | --write "
          "| scan | grep |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['project']} | {r['py_files']} | {r['analysed']} | {r['changed']} | "
              f"{r['fixes']} | {r['refused']} | {r['dry_s']:.1f} s | {r['write_s']:.1f} s | "
              f"{r['scan_s']:.1f} s | {r['grep_s']:.2f} s |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
