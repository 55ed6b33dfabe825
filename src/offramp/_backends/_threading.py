"""Threading mode: native threads, and eventlet kept out of the process.

Eventlet must never load here: a stray ``monkey_patch()`` would turn the
process green behind the threads' backs, and the import alone costs about
24 MiB of RSS. futurist imports eventlet whenever it is installed, but
treats an ImportError as "not installed", so a guard that refuses the
import keeps futurist, oslo.service and oslo.messaging working.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.abc
import logging
import sys
import sysconfig
import threading

from offramp._backends import _oslo
from offramp._errors import ModeError
from offramp._pool import Pool, PoolState

MODE = "threading"
LOG = logging.getLogger("offramp")
# The GIL passes between threads at every blocking call; on one core those
# hand-offs stay cheap (see _affinity).
PIN_WORKERS_BY_DEFAULT = True


def prepare(settings) -> None:
    _oslo.check_not_chosen_otherwise(MODE)
    if "eventlet" in sys.modules:
        poison_monkey_patch(sys.modules["eventlet"])
        raise ModeError(
            "offramp is bootstrapping threading mode, but eventlet is already "
            f"imported ({_where(sys.modules['eventlet'])}). Imported by: "
            f"{_importers_of_eventlet() or 'unknown (no loaded module holds a reference)'}. "
            "Bootstrap before anything imports eventlet; run with "
            "'python -X importtime' to see the import chain."
        )
    if not any(isinstance(f, EventletBlocker) for f in sys.meta_path):
        sys.meta_path.insert(0, EventletBlocker())
    apply_thread_costs(settings)
    _oslo.select(MODE)


def apply_thread_costs(settings) -> None:
    """Cap what each native thread costs, before the pools start any.

    Both knobs only reach threads (and arenas) created afterwards, which is
    why they are applied at bootstrap. docs/performance.md has their
    measured effect.
    """
    if settings.thread_stack_size:
        threading.stack_size(settings.thread_stack_size * 1024)
    if settings.malloc_arena_max:
        _set_malloc_arena_max(settings.malloc_arena_max)


_M_ARENA_MAX = -8  # from glibc's malloc.h


def _set_malloc_arena_max(arenas: int) -> None:
    """mallopt(M_ARENA_MAX): what MALLOC_ARENA_MAX does, set from inside.

    glibc gives each thread that allocates under contention its own arena
    (up to 8 per core), and each arena keeps freed memory of its own.
    """
    libc_name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(libc_name) if libc_name else None
    if libc is None or not hasattr(libc, "mallopt") or not hasattr(libc, "gnu_get_libc_version"):
        LOG.warning("malloc_arena_max=%d ignored: the C library is not glibc", arenas)
        return
    if libc.mallopt(_M_ARENA_MAX, arenas) != 1:
        LOG.warning("malloc_arena_max=%d ignored: mallopt(M_ARENA_MAX) failed", arenas)


class EventletBlocker(importlib.abc.MetaPathFinder):
    """Refuses ``import eventlet`` and its submodules, naming the importer."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "eventlet" and not fullname.startswith("eventlet."):
            return None
        importer = _importing_frame()
        raise ImportError(
            f"import of {fullname!r} refused: this process runs in offramp "
            f"threading mode, where eventlet must not load. Imported from "
            f"{importer}. Use the stdlib or offramp equivalents, or set "
            "OFFRAMP_CONCURRENCY=eventlet.",
            name=fullname,
        )


def _importing_frame() -> str:
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not (filename.startswith("<frozen") or "importlib" in filename
                or filename == __file__):
            module = frame.f_globals.get("__name__", "?")
            return f"module {module!r} ({filename}:{frame.f_lineno})"
        frame = frame.f_back
    return "an unknown module"


def _where(module) -> str:
    return getattr(module, "__file__", None) or "built-in"


def _importers_of_eventlet() -> str:
    """Loaded modules that hold eventlet objects: the likely importers.

    Eventlet itself, its dependencies and the stdlib modules it patches
    also hold such references, so they are left out.
    """
    stdlib = sysconfig.get_paths()["stdlib"]
    found = []
    for name, module in list(sys.modules.items()):
        if module is None or name.split(".")[0] in _EVENTLET_OWN or name.startswith("__patched_module_"):
            continue
        path = getattr(module, "__file__", None) or ""
        if path.startswith(stdlib) and "site-packages" not in path:
            continue
        for value in list(vars(module).values()):
            origin = value.__name__ if isinstance(value, type(sys)) else getattr(value, "__module__", None)
            if isinstance(origin, str) and origin.split(".")[0] == "eventlet":
                found.append(f"{name} ({path or 'built-in'})")
                break
    return ", ".join(found)


_EVENTLET_OWN = {"eventlet", "dns", "greenlet"}


def _refuse_monkey_patch(*args, **kwargs):
    # Runs with eventlet.patcher's globals: only builtins may be named.
    raise RuntimeError(
        "eventlet.monkey_patch() is poisoned: this process runs in offramp "
        "threading mode, and patching now would turn running threads green."
    )


def poison_monkey_patch(eventlet) -> None:
    """Make every reference to ``monkey_patch``, even one already held, raise."""
    patcher = sys.modules.get("eventlet.patcher")
    for fn in {getattr(eventlet, "monkey_patch", None),
               getattr(patcher, "monkey_patch", None)}:
        if fn is not None and hasattr(fn, "__code__") and not fn.__code__.co_freevars:
            fn.__code__ = _refuse_monkey_patch.__code__


POOL_KIND = "ThreadPoolExecutor"


def make_pool(runtime, pool_name: str, size: int) -> Pool:
    return Pool(runtime, pool_name, size, POOL_KIND)


def state_of(pool: Pool) -> PoolState:
    # As futurist's ThreadPoolExecutor reported it: threads started so far,
    # and those of them waiting for work.
    return PoolState(pool.max_workers, pool.worker_count(), pool.idle_count(), pool.queued())


def start_worker(target, worker, task, name: str) -> threading.Thread:
    # Daemon: a worker stuck in a task never keeps the interpreter from
    # exiting; shutdown_executors() decides how long exit waits for it.
    thread = threading.Thread(target=target, args=(worker, task), name=name, daemon=True)
    thread.start()
    return thread


def cooperative_yield() -> None:
    """Native threads are preempted; there is nothing to yield."""


def current_task_handle() -> int:
    return threading.get_ident()


def stack_of(handle: int):
    return sys._current_frames().get(handle)
