"""The dynamic check: import an entry point's module with eventlet refused.

Each module is imported in a fresh interpreter that has bootstrapped
offramp's threading mode, so the import guard refuses eventlet exactly as
it would in a threaded service.  A finder placed just before the guard
records, for every eventlet import attempted, the modules whose execution
was under way at that moment: the real importer chain, outermost first.
An attempt whose ImportError the importer caught (an optional import, as
futurist's) is *tolerated*; one that fails the entry point's import is
what keeps the service on eventlet.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

# Runs in the child: argv = [module, result file].
_CHILD = r'''
import importlib, importlib.abc, json, os, sys

module, result_path = sys.argv[1], sys.argv[2]
attempts = []
out = {"module": module, "attempts": attempts}


def chain(frame):
    """Modules being executed, outermost first, with the line each is at."""
    hops = []
    while frame is not None:
        code = frame.f_code
        name = frame.f_globals.get("__name__", "?")
        frozen = code.co_filename.startswith("<frozen") or name.startswith("importlib")
        if not frozen and name != "__main__" and (code.co_name == "<module>" or not hops):
            hops.append({"module": name, "file": code.co_filename, "line": frame.f_lineno,
                         "function": None if code.co_name == "<module>" else code.co_name})
        frame = frame.f_back
    return hops[::-1]


class Recorder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname == "eventlet" or fullname.startswith("eventlet."):
            attempts.append({"name": fullname, "chain": chain(sys._getframe(1))})
        return None  # the guard, next in line, refuses it


def finish(status, error=None):
    out.update(status=status, error=error)
    with open(result_path, "w") as fh:
        json.dump(out, fh)


try:
    os.environ["OFFRAMP_CONCURRENCY"] = "threading"
    import offramp
    offramp.bootstrap("threading")
except BaseException as exc:
    finish("error", f"cannot bootstrap offramp's threading mode: {type(exc).__name__}: {exc}")
    raise SystemExit(0)
sys.meta_path.insert(0, Recorder())
try:
    importlib.import_module(module)
except ImportError as exc:
    refused = bool(exc.name) and (exc.name == "eventlet" or exc.name.startswith("eventlet."))
    finish("eventlet" if refused and attempts else "error", f"{type(exc).__name__}: {exc}")
except BaseException as exc:
    finish("error", f"{type(exc).__name__}: {exc}")
else:
    finish("clean")
'''


@dataclass
class ProbeResult:
    module: str
    status: str  # clean | eventlet | error
    refused: str | None = None  # the eventlet module whose refusal failed the import
    chain: list[dict] = field(default_factory=list)  # its importers, outermost first
    tolerated: list[dict] = field(default_factory=list)  # attempts the importer caught
    error: str | None = None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def probe(module: str, python: str | None = None, timeout: float = 300.0,
          env: dict | None = None) -> ProbeResult:
    """Import ``module`` in a child interpreter (default: this one) in threading mode."""
    python = python or sys.executable
    env = dict(os.environ if env is None else env)
    env.pop("OFFRAMP_CONCURRENCY", None)  # the child sets it
    with tempfile.TemporaryDirectory(prefix="offramp-probe-") as tmp:
        result_path = os.path.join(tmp, "result.json")
        try:
            # A directory of its own as cwd: the installed code is imported,
            # not a source tree that happens to be the current directory.
            proc = subprocess.run([python, "-c", _CHILD, module, result_path], cwd=tmp, env=env,
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=timeout)
        except FileNotFoundError:
            return ProbeResult(module, "error", error=f"no such interpreter: {python}")
        except subprocess.TimeoutExpired:
            return ProbeResult(module, "error", error=f"the import took more than {timeout:g} s")
        try:
            with open(result_path) as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            return ProbeResult(module, "error",
                               error=f"the probe exited with status {proc.returncode}: {tail}")
    attempts = data["attempts"]
    if data["status"] == "eventlet":
        return ProbeResult(module, "eventlet", attempts[-1]["name"], attempts[-1]["chain"],
                           attempts[:-1], data["error"])
    return ProbeResult(module, data["status"], tolerated=attempts, error=data["error"])


def chain_text(chain: list[dict]) -> str:
    """``a:12 -> b:40 -> c.f():7``: each module at the line where the next import runs."""
    return " -> ".join(f"{hop['module']}" + (f".{hop['function']}()" if hop.get("function") else "")
                       + f":{hop['line']}" for hop in chain)
