"""offramp: move Python services off Eventlet, one process at a time.

Call :func:`bootstrap` first in every entry point; then send concurrent
work through :func:`spawn`, :func:`get_executor` and
:func:`scatter_gather`, which behave the same in both modes.

The names below load on first use, so the migration tools (``offramp
scan`` and friends, which never need the runtime) start without importing
oslo.config or futurist.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from offramp._affinity import pin_worker
    from offramp._background import spawn_long_lived, start_periodic
    from offramp._capped import CappedExecutor
    from offramp._config import list_opts, register_opts
    from offramp._delayed import DelayedExecutor
    from offramp._errors import (
        ConfigurationError,
        ModeError,
        NotBootstrappedError,
        PoolDeadlockError,
    )
    from offramp._executors import (
        Executor,
        cooperative_yield,
        get_executor,
        spawn,
        spawn_on,
    )
    from offramp._fanout import DID_NOT_RESPOND, DidNotRespond, Outcome, is_failure, scatter_gather
    from offramp._metrics import register_metrics
    from offramp._mode import Mode, bootstrap, current_mode
    from offramp._pool import Future, PoolState, PoolStatistics
    from offramp._rpc import set_rpc_defaults
    from offramp._shutdown import shutdown_executors
    from offramp._stats import executor_snapshot, log_executor_stats

# Public name -> the private module defining it.
_HOMES = {
    "pin_worker": "_affinity",
    "spawn_long_lived": "_background",
    "start_periodic": "_background",
    "CappedExecutor": "_capped",
    "list_opts": "_config",
    "register_opts": "_config",
    "DelayedExecutor": "_delayed",
    "ConfigurationError": "_errors",
    "ModeError": "_errors",
    "NotBootstrappedError": "_errors",
    "PoolDeadlockError": "_errors",
    "Executor": "_executors",
    "cooperative_yield": "_executors",
    "get_executor": "_executors",
    "spawn": "_executors",
    "spawn_on": "_executors",
    "DID_NOT_RESPOND": "_fanout",
    "DidNotRespond": "_fanout",
    "Outcome": "_fanout",
    "is_failure": "_fanout",
    "scatter_gather": "_fanout",
    "register_metrics": "_metrics",
    "Mode": "_mode",
    "bootstrap": "_mode",
    "current_mode": "_mode",
    "Future": "_pool",
    "PoolState": "_pool",
    "PoolStatistics": "_pool",
    "set_rpc_defaults": "_rpc",
    "shutdown_executors": "_shutdown",
    "executor_snapshot": "_stats",
    "log_executor_stats": "_stats",
}

__all__ = [
    "DID_NOT_RESPOND",
    "CappedExecutor",
    "ConfigurationError",
    "DelayedExecutor",
    "DidNotRespond",
    "Executor",
    "Future",
    "Mode",
    "ModeError",
    "NotBootstrappedError",
    "Outcome",
    "PoolDeadlockError",
    "PoolState",
    "PoolStatistics",
    "bootstrap",
    "cooperative_yield",
    "current_mode",
    "executor_snapshot",
    "get_executor",
    "is_failure",
    "list_opts",
    "log_executor_stats",
    "pin_worker",
    "register_metrics",
    "register_opts",
    "scatter_gather",
    "set_rpc_defaults",
    "shutdown_executors",
    "spawn",
    "spawn_long_lived",
    "spawn_on",
    "start_periodic",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
