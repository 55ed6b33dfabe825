"""One module per concurrency model, each implementing the same names.

``bootstrap()`` loads exactly one of them; everything else in offramp asks
the loaded backend and never checks which mode it is in. Every backend
module defines:

- ``MODE``: its mode's name;
- ``prepare(settings)``: make the process safe for the mode (patch, or
  guard against eventlet) and select the matching oslo.service backend;
- ``make_pool(runtime, name, size)``: an offramp ``Pool`` (see ``_pool``);
- ``start_worker(target, worker, task, name)``: start a pool worker, a
  daemon thread or a green thread, and return it (joinable);
- ``state_of(pool)``: its ``PoolState``, as the mode's futurist executor
  reported it, so the stats lines mean what operators know;
- ``PIN_WORKERS_BY_DEFAULT``: whether ``pin_worker()`` pins under the
  ``auto`` policy;
- ``cooperative_yield()``;
- ``current_task_handle()`` and ``stack_of(handle)``: how the watchdog
  finds the stack of a task that runs too long.
"""

from __future__ import annotations

import importlib
from types import ModuleType


def load(mode: str) -> ModuleType:
    return importlib.import_module(f"{__name__}._{mode}")
