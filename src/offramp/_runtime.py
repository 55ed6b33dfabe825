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

from offramp._config import Settings
from offramp._errors import NotBootstrappedError


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
        self.pools: dict = {}
        self.ticker = None
        self.abandoned: dict = {}
        self.fanout_gates: dict = {}

    def fresh(self) -> Runtime:
        """The same configuration, with none of the state."""
        return Runtime(self.mode, self.backend, self.settings, self.process_name)


_current: Runtime | None = None


def get(what: str = "this call") -> Runtime:
    if _current is None:
        raise NotBootstrappedError(what)
    return _current


def peek() -> Runtime | None:
    return _current


def install(runtime: Runtime) -> None:
    global _current
    _current = runtime


def _reset_in_child() -> None:
    global _current
    if _current is not None:
        _current = _current.fresh()


os.register_at_fork(after_in_child=_reset_in_child)
