"""offramp: move Python services off Eventlet, one process at a time.

Call :func:`bootstrap` first in every entry point; then send concurrent
work through :func:`spawn`, :func:`get_executor` and
:func:`scatter_gather`, which behave the same in both modes.
"""

from offramp._config import list_opts, register_opts
from offramp._errors import (
    ConfigurationError,
    ModeError,
    NotBootstrappedError,
    PoolDeadlockError,
)
from offramp._executors import (
    cooperative_yield,
    get_executor,
    shutdown_executors,
    spawn,
    spawn_on,
)
from offramp._mode import Mode, bootstrap, current_mode
from offramp._stats import executor_snapshot, log_executor_stats

__all__ = [
    "ConfigurationError",
    "Mode",
    "ModeError",
    "NotBootstrappedError",
    "PoolDeadlockError",
    "bootstrap",
    "cooperative_yield",
    "current_mode",
    "executor_snapshot",
    "get_executor",
    "list_opts",
    "log_executor_stats",
    "register_opts",
    "shutdown_executors",
    "spawn",
    "spawn_on",
]
