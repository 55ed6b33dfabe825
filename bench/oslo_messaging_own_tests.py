"""oslo.messaging 16.1.0 held to its own unit tests, before and after ``offramp rewrite``.

1. Fetches the sdist (``pip download``; ``--cache`` or
   ``$OFFRAMP_CORPUS_CACHE`` is reused) and unpacks two copies.
2. Rewrites one with ``offramp rewrite --write --entry-point
   oslo_messaging.tests``: the documented bootstrap step for a test suite
   is ``offramp.bootstrap()`` in the test package's ``__init__``, which
   every test module imports first (it is where oslo.messaging already
   calls ``eventlet.monkey_patch()``).
3. Builds a venv (``--venv``, reused) with offramp and oslo.messaging's
   requirements, and runs the same deterministic subset of its unit tests
   (no broker needed) on both copies, each test's outcome recorded.
4. Prints both tallies and every test whose outcome differs; exits 1 if
   any does.

``--control`` also runs the rewritten copy without the bootstrap step, to
show that the comparison notices a broken tree.

Usage: python bench/oslo_messaging_own_tests.py [--cache DIR] [--work DIR] [--venv DIR]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_rewrite import extract, sdist  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_unittest_json.py")
# The rewritten module, and the ones exercising the code around it.
SUBSET = [
    "oslo_messaging.tests.rpc.test_server",
    "oslo_messaging.tests.rpc.test_dispatcher",
    "oslo_messaging.tests.rpc.test_client",
    "oslo_messaging.tests.notify.test_listener",
    "oslo_messaging.tests.notify.test_notifier",
    "oslo_messaging.tests.test_transport",
    "oslo_messaging.tests.test_utils",
]
# Not installed on purpose: C extensions or servers the subset does not use.
SKIP_REQUIREMENTS = ("confluent-kafka", "pifpaf", "coverage", "stestr")


def venv(path: str, tree: str) -> str:
    python = os.path.join(path, "bin", "python")
    if os.path.exists(os.path.join(path, ".ready")):
        return python
    subprocess.run([sys.executable, "-m", "venv", path], check=True)
    reqs = []
    for name in ("requirements.txt", "test-requirements.txt"):
        with open(os.path.join(tree, name)) as fh:
            for line in fh:
                req = line.split("#")[0].strip()
                if req and not req.lower().startswith(SKIP_REQUIREMENTS):
                    reqs.append(req)
    subprocess.run([python, "-m", "pip", "install", "--quiet", f"{ROOT}[eventlet]", *reqs],
                   check=True)
    open(os.path.join(path, ".ready"), "w").close()
    return python


def run_tests(python: str, tree: str, out: str) -> tuple[dict, float]:
    start = time.perf_counter()
    env = dict(os.environ, PYTHONPATH=tree)
    env.pop("OFFRAMP_CONCURRENCY", None)
    subprocess.run([python, RUNNER, out, *SUBSET], cwd=tree, env=env, capture_output=True)
    with open(out) as fh:
        return json.load(fh), time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", default=os.environ.get("OFFRAMP_CORPUS_CACHE"))
    parser.add_argument("--work")
    parser.add_argument("--venv")
    parser.add_argument("--control", action="store_true",
                        help="also run the rewritten tree without the bootstrap step")
    args = parser.parse_args()
    cache = args.cache or tempfile.mkdtemp(prefix="offramp-sdists-")
    work = args.work or tempfile.mkdtemp(prefix="offramp-om-")
    os.makedirs(cache, exist_ok=True)
    archive = sdist("oslo.messaging", "16.1.0", cache)
    before_tree = extract(archive, os.path.join(work, "before"))
    after_tree = extract(archive, os.path.join(work, "after"))
    rewrite = subprocess.run([sys.executable, "-m", "offramp", "rewrite", ".", "--write",
                              "--json", "--entry-point", "oslo_messaging.tests"],
                             cwd=after_tree, capture_output=True, text=True)
    summary = json.loads(rewrite.stdout)
    print(f"rewrite: {len(summary['files_changed'])} files changed, {len(summary['fixes'])} "
          f"fixes (bootstrap included), {len(summary['refusals'])} left alone")
    python = venv(args.venv or os.path.join(work, "venv"), before_tree)
    before, t_before = run_tests(python, before_tree, os.path.join(work, "before.json"))
    after, t_after = run_tests(python, after_tree, os.path.join(work, "after.json"))
    print(f"load average: {os.getloadavg()[0]:.2f}")
    print(f"before rewrite: {len(before)} tests, {dict(collections.Counter(before.values()))} "
          f"({t_before:.0f} s)")
    print(f"after rewrite:  {len(after)} tests, {dict(collections.Counter(after.values()))} "
          f"({t_after:.0f} s)")
    for test, outcome in sorted(before.items()):
        if outcome != "pass":
            print(f"  not passing before either: {test}: {outcome}")
    differ = sorted(t for t in set(before) | set(after) if before.get(t) != after.get(t))
    for test in differ:
        print(f"  DIFFERS: {test}: {before.get(test)} -> {after.get(test)}")
    print("identical outcomes" if not differ and before else "OUTCOMES DIFFER")
    if args.control:
        control_tree = extract(archive, os.path.join(work, "control"))
        subprocess.run([sys.executable, "-m", "offramp", "rewrite", ".", "--write", "--quiet"],
                       cwd=control_tree, capture_output=True)
        control, _ = run_tests(python, control_tree, os.path.join(work, "control.json"))
        broken = sorted(t for t in before if before[t] != control.get(t))
        print(f"control (rewritten, no bootstrap): {dict(collections.Counter(control.values()))}; "
              f"{len(broken)} outcomes differ, e.g. {broken[:2]}")
    return 0 if before and not differ else 1


if __name__ == "__main__":
    sys.exit(main())
