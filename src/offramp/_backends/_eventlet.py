"""Eventlet mode: the stdlib monkey-patched, green threads in every pool.

Patching must come first: a module that created sockets, locks or
threads before ``monkey_patch()`` keeps the blocking originals and can
stall the whole hub. Those known to do so are named at bootstrap.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import warnings

from offramp._backends import _oslo
from offramp._errors import ModeError
from offramp._pool import Pool, PoolState

MODE = "eventlet"
LOG = logging.getLogger("offramp")
# One OS thread: nothing to hand off, and pinning only stops the kernel
# from moving it off a busy core.
PIN_WORKERS_BY_DEFAULT = False

# Modules that keep unpatched sockets, locks or native threads when they
# are imported before monkey_patch(), and why that hurts.
EARLY_IMPORT_HAZARDS = {
    "requests": "its connection pools keep blocking sockets and locks",
    "urllib3": "its connection pools keep blocking sockets and locks",
    "dns": "dnspython's resolver keeps the blocking socket module",
    "grpc": "gRPC runs native threads eventlet cannot switch",
    "psycopg2": "queries block the hub unless psycogreen is installed first",
    "zmq": "needs eventlet.green.zmq; plain pyzmq blocks the hub",
    "kombu": "its connections keep blocking sockets",
    "amqp": "its connections keep blocking sockets",
    "oslo_messaging": "its transports and executors keep blocking primitives",
    "concurrent.futures.thread": "its global shutdown lock stays native",
}

_PATCHED = False


def prepare(settings) -> None:
    global _PATCHED
    _oslo.check_not_chosen_otherwise(MODE)
    early = [name for name in EARLY_IMPORT_HAZARDS if name in sys.modules]
    try:
        with warnings.catch_warnings():
            # offramp exists to leave eventlet; saying it is deprecated on
            # every start of an eventlet-mode process is noise.
            warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
            import eventlet
    except ImportError as exc:
        raise ModeError(
            "eventlet mode needs eventlet, which cannot be imported "
            f"({exc}). Install it with: pip install 'offramp[eventlet]'"
        ) from exc
    if not _PATCHED:
        eventlet.monkey_patch()
        _PATCHED = True
    # psycopg 3 waits for the server in C, which monkey patching cannot
    # reach: one slow PostgreSQL query would block the whole hub, and no
    # green timeout could fire. Its select()-based wait is green once
    # patched (psycopg only detects gevent's patching by itself).
    os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")
    if "psycopg.waiting" in sys.modules:
        sys.modules["psycopg.waiting"].wait = sys.modules["psycopg.waiting"].wait_select
    for name in early:
        LOG.warning(
            "Module %s was imported before eventlet.monkey_patch(): %s. Call "
            "offramp.bootstrap() before importing it.",
            name, EARLY_IMPORT_HAZARDS[name],
        )
    _oslo.select(MODE)


POOL_KIND = "GreenThreadPoolExecutor"


def make_pool(runtime, pool_name: str, size: int) -> Pool:
    return Pool(runtime, pool_name, size, POOL_KIND)


def state_of(pool: Pool) -> PoolState:
    # As futurist's GreenThreadPoolExecutor reported it, where a green
    # thread existed only while it ran a task: "workers" are the running
    # tasks and "idle workers" the free slots.
    running = len(pool.running_tasks())
    return PoolState(pool.max_workers, running, pool.max_workers - running, pool.queued())


def start_worker(target, worker, task, name: str) -> GreenWorker:
    return GreenWorker(target, (worker, task))


class GreenWorker:
    """A pool worker's green thread, joinable like a thread.

    Started with ``spawn_n``, which only schedules it: the submitter keeps
    running until it yields, as it always did under eventlet. (A patched
    ``threading.Thread.start()`` would switch to the new thread at once.)
    A green thread never keeps the interpreter from exiting.
    """

    def __init__(self, target, args) -> None:
        import eventlet

        self._done = threading.Event()  # green: created after patching
        eventlet.spawn_n(self._run, target, args)

    def _run(self, target, args) -> None:
        try:
            target(*args)
        finally:
            self._done.set()

    def join(self, timeout: float | None = None) -> None:
        self._done.wait(timeout)

    def is_alive(self) -> bool:
        return not self._done.is_set()


def cooperative_yield() -> None:
    import eventlet

    eventlet.sleep(0)


def current_task_handle():
    import greenlet

    return greenlet.getcurrent()


def stack_of(handle):
    # A green thread that is not running is parked in the hub; its frame is
    # where it waits. The running one is the caller itself.
    return getattr(handle, "gr_frame", None)
