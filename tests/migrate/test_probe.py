"""``offramp services --probe`` on a small project installed with pip."""

import json
import os
import subprocess
import sys

PYPROJECT = """\
[build-system]
requires = ["setuptools>=70.1"]
build-backend = "setuptools.build_meta"

[project]
name = "probed"
version = "1.0"

[project.scripts]
probed-api = "probed.cmd:main"
probed-tool = "probed.tool:main"
"""

FILES = {
    "src/probed/__init__.py": "",
    "src/probed/cmd.py": "from probed import worker\n\n\ndef main():\n    worker.run()\n",
    "src/probed/worker.py": "import json  # noqa\n\nfrom probed import helpers\n\n\n"
                            "def run():\n    helpers.go()\n",
    # An optional import, as futurist has: refused, caught, and harmless.
    "src/probed/compat.py": "try:\n    import eventlet\nexcept ImportError:\n"
                            "    eventlet = None\n",
    "src/probed/tool.py": "from probed import compat  # noqa\n\n\ndef main():\n    pass\n",
}
PLANTED = "import eventlet\n\n\ndef go():\n    eventlet.sleep(1)\n"
REMOVED = "import threading\n\n\ndef go():\n    threading.Event().wait(1)\n"


def install(src, target):
    """A real pip install (offline), into a directory of its own."""
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "--upgrade", "--target", str(target),
                    str(src)], check=True, capture_output=True, timeout=300)


def probe(src, site):
    env = dict(os.environ, PYTHONPATH=str(site))
    out = subprocess.run([sys.executable, "-m", "offramp", "services", str(src), "--probe",
                          "--json"], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    return {s["name"]: s["probe"] for s in json.loads(out.stdout)["services"]}


def test_probe_finds_the_planted_import_then_reports_clean(tmp_path):
    src, site = tmp_path / "src-tree", tmp_path / "site"
    for rel, text in {**FILES, "src/probed/helpers.py": PLANTED}.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    (src / "pyproject.toml").write_text(PYPROJECT)
    install(src, site)

    found = probe(src, site)
    api = found["probed-api"]
    assert (api["status"], api["refused"]) == ("eventlet", "eventlet")
    # The real importers, outermost first, each at the line that imports the next.
    assert [(hop["module"], hop["line"], hop["file"]) for hop in api["chain"]] == [
        ("probed.cmd", 1, str(site / "probed" / "cmd.py")),
        ("probed.worker", 3, str(site / "probed" / "worker.py")),
        ("probed.helpers", 1, str(site / "probed" / "helpers.py")),
    ]
    assert "Imported from module 'probed.helpers'" in api["error"]  # the guard's own words
    tool = found["probed-tool"]
    assert tool["status"] == "clean"
    assert [[h["module"] for h in t["chain"]] for t in tool["tolerated"]] == [
        ["probed.tool", "probed.compat"]]

    (src / "src/probed/helpers.py").write_text(REMOVED)
    install(src, site)
    found = probe(src, site)
    assert found["probed-api"] == {"module": "probed.cmd", "status": "clean", "refused": None,
                                   "chain": [], "tolerated": [], "error": None}


def test_probe_table_and_errors(tmp_path):
    src = tmp_path / "src-tree"
    for rel, text in {**FILES, "src/probed/helpers.py": PLANTED}.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    (src / "pyproject.toml").write_text(PYPROJECT)
    # Not installed: the probe says so instead of guessing.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-m", "offramp", "services", str(src), "--probe"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    row = next(line for line in out.stdout.splitlines() if line.startswith("probed-api "))
    assert row.endswith("error: ModuleNotFoundError: No module named 'probed'")
    out = subprocess.run([sys.executable, "-m", "offramp", "services", str(src), "--probe",
                          "--python", str(tmp_path / "no-python")],
                         capture_output=True, text=True, timeout=300)
    assert f"error: no such interpreter: {tmp_path / 'no-python'}" in out.stdout
