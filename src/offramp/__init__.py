"""offramp: move Python services off Eventlet, one process at a time.

Call :func:`bootstrap` first in every entry point; then send concurrent
work through :func:`spawn`, :func:`get_executor` and
:func:`scatter_gather`, which behave the same in both modes.
"""

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
