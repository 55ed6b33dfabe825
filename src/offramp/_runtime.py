"""The per-process state of offramp, and its reset in forked children.

All mutable state lives in one ``Runtime`` so that a child made by
``os.fork()`` can drop all of it at once: a child inherits the parent's
pool objects but none of their threads, and a pool that believes it has
workers it does not have runs fewer tasks than its size and queues the
rest. That was nova's first threading bug.
"""

from __future__ import annotations

import os
import threading
from types import ModuleType
from typing import TYPE_CHECKING

from offramp._config import Settings
from offramp._errors import NotBootstrappedError

if TYPE_CHECKING:
    from futurist.periodics import PeriodicWorker

    from offramp._background import LongLivedTask
    from offramp._capped import CappedExecutor
    from offramp._pool import Pool


class Runtime:
    """Mode, settings and every pool of this process."""

    def __init__(
        self, mode: str, backend: ModuleType, settings: Settings, name: str
    ) -> None:
        self.mode = mode
        self.backend = backend
        self.settings = settings
        self.process_name = name
        self.pid = os.getpid()
        # Created after the backend is prepared, so that in eventlet mode
        # these are green primitives.
        self.lock = threading.RLock()
        self.local = threading.local()
        self.pools: dict[str, Pool] = {}
        self.ticker: object = None
        self.fanout_gates: dict[tuple[str, int], CappedExecutor] = {}
        self.periodic_workers: list[PeriodicWorker] = []
        self.long_lived: dict[int, LongLivedTask] = {}
        # Set by the exit hook: no pool is created once they are shut down.
        self.exiting = False
        # Bootstrap's INFO line, until logging can show it (_mode.announce).
        self.banner: str | None = None

    def fresh(self) -> Runtime:
        """The same configuration, with none of the state."""
        return Runtime(self.mode, self.backend, self.settings, self.process_name)


_current: Runtime | None = None
_failure: str | None = None


def get(what: str = "this call") -> Runtime:
    if _current is None:
        raise NotBootstrappedError(what, _failure)
    return _current


def record_failure(exc: BaseException) -> None:
    """A bootstrap that raised: later errors say so, not "has not run"."""
    global _failure
    if _current is None:
        _failure = f"{type(exc).__name__}: {exc}"


def peek() -> Runtime | None:
    return _current


def install(runtime: Runtime) -> None:
    global _current, _failure
    _current = runtime
    _failure = None


def _reset_in_child() -> None:
    global _current
    if _current is not None:
        _current = _current.fresh()


os.register_at_fork(after_in_child=_reset_in_child)
