"""``offramp services`` on small multi-package trees with known closures."""

import json
import subprocess
import sys
import textwrap

import pytest

from offramp.migrate._project import ProjectError
from offramp.migrate.services import services

from .conftest import offramp

SETUP_CFG = """\
[metadata]
name = proj

[entry_points]
console_scripts =
    proj-api = proj.cmd.api:main
    proj-worker = proj.cmd.worker:main
wsgi_scripts =
    proj-wsgi = proj.wsgi:application
proj.plugins =
    fast = proj.plugins.fast:Plugin
"""

FILES = {
    "proj/__init__.py": "",
    # Every proj.cmd.* module runs its package first: a parent-package edge.
    "proj/cmd/__init__.py": "from proj import patching  # noqa\n",
    "proj/patching.py": "import eventlet\n\n\ndef patch():\n    eventlet.monkey_patch()\n",
    "proj/cmd/api.py": "from proj import service\n\n\ndef main():\n    service.run('proj-api')\n",
    # A relative import.
    "proj/cmd/worker.py": "from .. import conf, service\n\n\ndef main():\n"
                          "    service.run('proj-worker')\n",
    # A map keyed by service name, read with the running service's name.
    "proj/service.py": textwrap.dedent("""\
        from oslo_utils import importutils

        from proj import utils

        MANAGERS = {
            'proj-api': 'proj.api.manager.ApiManager',
            'proj-worker': 'proj.worker.manager.WorkerManager',
        }


        def run(binary):
            return importutils.import_class(MANAGERS[binary])()
        """),
    # A cycle: service imports utils, utils imports service.
    "proj/utils.py": "from proj import service  # noqa\nimport eventlet\n\n"
                     "POOL = eventlet.GreenPool()\n",
    "proj/api/__init__.py": "",
    "proj/api/manager.py": "import eventlet\n\n\nclass ApiManager:\n    def wait(self):\n"
                           "        eventlet.sleep(1)\n",
    "proj/worker/__init__.py": "",
    "proj/worker/manager.py": "from . import tasks  # noqa\n\n\nclass WorkerManager:\n    pass\n",
    "proj/worker/tasks.py": "from eventlet import queue\n\nQ = queue.LightQueue()\n",
    # An oslo.config default naming a class.
    "proj/conf.py": "from oslo_config import cfg\n\n"
                    "opts = [cfg.StrOpt('driver', default='proj.drivers.fake.FakeDriver')]\n",
    "proj/drivers/__init__.py": "",
    "proj/drivers/fake.py": "from eventlet import tpool\n\n\nclass FakeDriver:\n"
                            "    run = tpool.execute\n",
    # import_module() with a constant, and a stevedore namespace.
    "proj/wsgi.py": "import importlib\n\nfrom proj import plugins_loader  # noqa\n\n"
                    "backend = importlib.import_module('proj.backends.green')\n",
    "proj/backends/__init__.py": "",
    "proj/backends/green.py": "import eventlet.wsgi\n\nserve = eventlet.wsgi.server\n",
    "proj/plugins_loader.py": "from stevedore import extension\n\n\ndef load():\n"
                              "    return extension.ExtensionManager('proj.plugins')\n",
    "proj/plugins/__init__.py": "",
    "proj/plugins/fast.py": "import eventlet\n\n\nclass Plugin:\n    def go(self):\n"
                            "        eventlet.spawn(print)\n",
    # Loaded by nobody: must never show up.
    "proj/unused.py": "import eventlet\n\neventlet.sleep(0)\n",
    "proj/tests/__init__.py": "",
    "proj/tests/test_api.py": "import eventlet\nfrom proj.cmd import api  # noqa\n",
}


def write(root, files):
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def proj(tmp_path):
    root = write(tmp_path / "proj-src", FILES)
    (root / "setup.cfg").write_text(SETUP_CFG)
    return root


def chains(service):
    """module -> [(edge kind, module), ...] from the entry point."""
    return {m.module: [(h.kind, h.module) for h in m.chain] for m in service.modules}


def by_name(report):
    return {s.entry_point.name: s for s in report.services}


def test_closures_follow_imports_packages_cycles_and_strings(proj):
    report = by_name(services(str(proj)))
    assert list(report) == ["proj-api", "proj-worker", "proj-wsgi"]
    assert chains(report["proj-api"]) == {
        "proj.utils": [(None, "proj.cmd.api"), ("import", "proj.service"),
                       ("import", "proj.utils")],
        "proj.patching": [(None, "proj.cmd.api"), ("package", "proj.cmd"),
                          ("import", "proj.patching")],
        "proj.api.manager": [(None, "proj.cmd.api"), ("import", "proj.service"),
                             ("string", "proj.api.manager")],
    }
    assert chains(report["proj-worker"]) == {
        "proj.utils": [(None, "proj.cmd.worker"), ("import", "proj.service"),
                       ("import", "proj.utils")],
        "proj.patching": [(None, "proj.cmd.worker"), ("package", "proj.cmd"),
                          ("import", "proj.patching")],
        "proj.drivers.fake": [(None, "proj.cmd.worker"), ("import", "proj.conf"),
                              ("string", "proj.drivers.fake")],
        "proj.worker.tasks": [(None, "proj.cmd.worker"), ("import", "proj.service"),
                              ("string", "proj.worker.manager"), ("import", "proj.worker.tasks")],
    }
    assert chains(report["proj-wsgi"]) == {
        "proj.backends.green": [(None, "proj.wsgi"), ("string", "proj.backends.green")],
        "proj.plugins.fast": [(None, "proj.wsgi"), ("import", "proj.plugins_loader"),
                              ("string", "proj.plugins.fast")],
    }


def test_string_edges_say_where_and_for_whom(proj):
    report = by_name(services(str(proj)))

    def hop(service, module):
        [found] = [m for m in report[service].modules if m.module == module]
        return next(h for h in found.chain if h.kind == "string")

    keyed = hop("proj-api", "proj.api.manager")
    assert (keyed.where, keyed.text, keyed.via, keyed.scope) == (
        "proj/service.py:6", "proj.api.manager.ApiManager",
        "MANAGERS['proj-api'] = 'proj.api.manager.ApiManager'",
        "proj-api only: a map keyed by service name")
    default = hop("proj-worker", "proj.drivers.fake")
    assert (default.where, default.via, default.scope) == (
        "proj/conf.py:3", "StrOpt(default='proj.drivers.fake.FakeDriver')",
        "every service that loads proj.conf")
    call = hop("proj-wsgi", "proj.backends.green")
    assert (call.where, call.via) == ("proj/wsgi.py:5", "import_module('proj.backends.green')")
    plugin = hop("proj-wsgi", "proj.plugins.fast")
    assert (plugin.where, plugin.text, plugin.via) == (
        "proj/plugins_loader.py:5", "proj.plugins",
        "stevedore namespace 'proj.plugins', entry point fast = proj.plugins.fast:Plugin")
    # Import hops carry the importing line.
    utils = [m for m in report["proj-api"].modules if m.module == "proj.utils"][0]
    assert [(h.where, h.line) for h in utils.chain[1:]] == [
        ("proj/cmd/api.py:1", 1), ("proj/service.py:3", 3)]


def test_usage_counts_and_kinds_come_from_scan(proj):
    from offramp.migrate.scan import scan

    report = by_name(services(str(proj)))
    found = {m.module: m for s in report.values() for m in s.modules}
    result = scan(str(proj / "proj"))
    for module, use in found.items():
        rel = use.path.removeprefix("proj/")
        expected = [u.kind for u in result.usages if u.path == rel]
        assert use.usages == len(expected) and sum(use.kinds.values()) == len(expected)
        assert set(use.kinds) == set(expected)
        assert use.imports_eventlet == (rel in result.production)
    assert found["proj.utils"].kinds == {"greenpool": 1}
    assert found["proj.worker.tasks"].kinds == {"queue": 1}
    assert "proj.unused" not in found  # in the tree, loaded by no service


def test_keyed_maps_all_attributes_every_entry_to_every_service(proj):
    report = by_name(services(str(proj), keyed_maps="all"))
    api = chains(report["proj-api"])
    assert api["proj.worker.tasks"] == [
        (None, "proj.cmd.api"), ("import", "proj.service"), ("string", "proj.worker.manager"),
        ("import", "proj.worker.tasks")]
    hop = [m for m in report["proj-api"].modules
           if m.module == "proj.api.manager"][0].chain[-1]
    assert hop.scope == "every service that loads proj.service"


def test_a_constant_key_read_elsewhere_is_followed(proj):
    # proj.wsgi reads the worker's entry by a constant key: that is an edge
    # for every service that loads proj.wsgi, whatever its own name.
    (proj / "proj" / "wsgi.py").write_text(
        FILES["proj/wsgi.py"] + "from proj import service\n"
                                "worker = service.MANAGERS['proj-worker']\n")
    report = by_name(services(str(proj)))
    assert chains(report["proj-wsgi"])["proj.worker.tasks"] == [
        (None, "proj.wsgi"), ("string", "proj.worker.manager"), ("import", "proj.worker.tasks")]
    assert "proj.api.manager" not in chains(report["proj-wsgi"])


def test_modules_from_the_command_line(proj):
    named = by_name(services(str(proj), ["proj-api=proj.cmd.api:main"]))
    assert chains(named["proj-api"]) == chains(by_name(services(str(proj)))["proj-api"])
    # Without a name, the keyed map cannot be narrowed: every entry counts, and says so.
    [bare] = services(str(proj), ["proj.cmd.api"]).services
    assert set(chains(bare)) == {"proj.utils", "proj.patching", "proj.api.manager",
                                 "proj.worker.tasks"}
    hop = [m for m in bare.modules if m.module == "proj.api.manager"][0].chain[-1]
    assert "service name is unknown" in hop.scope


def test_pyproject_scripts_src_layout_and_outside_modules(tmp_path):
    root = write(tmp_path / "p", {
        "src/app/__init__.py": "",
        "src/app/main.py": "from .core import run  # noqa\n",
        "src/app/core.py": "import eventlet\n\n\ndef run():\n    eventlet.sleep(0)\n",
        "src/app/clean.py": "import threading  # noqa\n",
        "pyproject.toml": '[project]\nname = "app"\nversion = "1"\n'
                          '[project.scripts]\napp = "app.main:run"\nclean = "app.clean:main"\n'
                          'other = "elsewhere.cmd:main"\ntypo = "app.mian:run"\n',
    })
    report = by_name(services(str(root)))
    assert chains(report["app"]) == {"app.core": [(None, "app.main"), ("import", "app.core")]}
    assert report["app"].modules[0].kinds == {"sleep": 1}
    assert report["clean"].ready and report["clean"].closure == 2  # app.clean and app
    assert not report["other"].in_project and not report["other"].ready
    assert not report["other"].missing and report["typo"].missing
    out = offramp("services", str(root))
    assert out.returncode == 0, out.stderr
    verdicts = {line.split()[0]: line.split("  ")[-1].strip() for line in out.stdout.splitlines()
                if line.split()[1:2] == ["console_scripts"]}
    assert verdicts == {"app": "eventlet (1 by import)", "clean": "ready",
                        "other": "outside the project", "typo": "no such module in the project"}


def test_bad_input_is_named(tmp_path):
    with pytest.raises(ProjectError, match="no console_scripts"):
        services(str(write(tmp_path / "a", {"pkg/__init__.py": ""})))
    with pytest.raises(ProjectError, match="is not a directory"):
        services(str(tmp_path / "missing"))
    with pytest.raises(ProjectError, match="invalid module 'not a module'"):
        services(str(tmp_path / "a"), ["not a module"])
    out = offramp("services", str(tmp_path / "missing"))
    assert out.returncode == 2 and "'" + str(tmp_path / "missing") + "'" in out.stderr


def test_cli_json_and_piped_table(proj):
    out = subprocess.run([sys.executable, "-m", "offramp", "services", str(proj), "--json"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    api = data["services"][0]
    assert (api["name"], api["group"], api["target"], api["ready"]) == (
        "proj-api", "console_scripts", "proj.cmd.api:main", False)
    manager = [m for m in api["eventlet_modules"] if m["module"] == "proj.api.manager"][0]
    assert manager["chain"][-1] == {
        "module": "proj.api.manager", "kind": "string", "line": 6,
        "where": "proj/service.py:6", "via": "MANAGERS['proj-api'] = 'proj.api.manager.ApiManager'",
        "text": "proj.api.manager.ApiManager",
        "scope": "proj-api only: a map keyed by service name"}
    assert data["keyed_maps"] == {"MANAGERS": "proj/service.py"}
    table = subprocess.run([sys.executable, "-m", "offramp", "services", str(proj)],
                           capture_output=True, text=True, timeout=120)
    assert table.returncode == 0, table.stderr
    rows = {line.split()[0]: line.split() for line in table.stdout.splitlines()
            if line.startswith("proj-") and "_scripts" in line.split()[1]}
    assert rows["proj-api"][:7] == ["proj-api", "console_scripts", "proj.cmd.api:main",
                                    str(api["closure"]), "3", "1", "3"]
    assert ("proj.api.manager 1 sleep 1 proj.cmd.api -> proj.service ~> proj.api.manager "
            "proj/service.py:6 MANAGERS['proj-api'] = 'proj.api.manager.ApiManager' (counts for "
            "proj-api only: a map keyed by service name)") in [
        " ".join(line.split()) for line in table.stdout.splitlines()]


def test_two_packages_names_built_at_run_time_and_a_cycle_across_them(tmp_path):
    root = write(tmp_path / "two", {
        "pyproject.toml": '[project]\nname = "two"\nversion = "1"\n'
                          '[project.scripts]\na = "alpha.cmd:main"\n',
        "alpha/__init__.py": "",
        "alpha/cmd.py": "import beta.loader\n\nfrom alpha import virt  # noqa\n\n\n"
                        "def main():\n    beta.loader.load('green')\n",
        # alpha.helpers and beta.loader import each other.
        "alpha/helpers.py": "import beta.loader  # noqa\nfrom eventlet import event\n\n"
                            "DONE = event.Event()\n",
        "alpha/virt.py": "from oslo_utils import importutils\n\n\ndef load(name):\n"
                         "    return importutils.import_object('alpha.drivers_%s' % name)\n",
        "alpha/drivers_green.py": "from eventlet import tpool\n\nrun = tpool.execute\n",
        "alpha/other.py": "import eventlet\n\neventlet.sleep(0)\n",
        "beta/__init__.py": "",
        "beta/loader.py": "import importlib\n\nfrom alpha import helpers  # noqa\n\n\n"
                          "def load(kind):\n"
                          "    return importlib.import_module(f'{__package__}.drivers.{kind}')\n",
        "beta/drivers/__init__.py": "",
        "beta/drivers/green.py": "import eventlet\n\nserve = eventlet.listen\n",
        "beta/drivers/plain.py": "import socket  # noqa\n",
    })
    [service] = services(str(root)).services
    assert chains(service) == {
        "alpha.helpers": [(None, "alpha.cmd"), ("import", "beta.loader"),
                          ("import", "alpha.helpers")],
        "alpha.drivers_green": [(None, "alpha.cmd"), ("import", "alpha.virt"),
                                ("string", "alpha.drivers_green")],
        "beta.drivers.green": [(None, "alpha.cmd"), ("import", "beta.loader"),
                               ("string", "beta.drivers.green")],
    }
    hops = {m.module: m.chain[-1] for m in service.modules if m.string_edges}
    assert (hops["alpha.drivers_green"].where, hops["alpha.drivers_green"].via) == (
        "alpha/virt.py:5",
        "import_object() of a name starting 'alpha.drivers_': any module it can name")
    assert (hops["beta.drivers.green"].where, hops["beta.drivers.green"].text) == (
        "beta/loader.py:7", "{__package__}.drivers.")
