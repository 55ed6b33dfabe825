"""oslo.messaging's RPC executor, sized for the mode.

oslo.messaging runs each incoming request on a thread of its executor,
``executor_thread_pool_size`` of them, 64 by default: a number chosen for
green threads, which cost almost nothing. In threading mode each is an OS
thread, and futurist starts a new one on every request until all 64
exist, whatever the concurrency. Requests that hold the GIL (in-process
SQLite) then slow each other down, and the idle ones cost memory
(docs/performance.md has the measurements). offramp's threading default
is smaller; eventlet mode keeps oslo.messaging's.
"""

from __future__ import annotations

from typing import Any

from offramp import _config, _runtime


def set_rpc_defaults(conf: Any) -> int:
    """Set the default of oslo.messaging's ``executor_thread_pool_size`` on
    ``conf`` (an oslo.config ``ConfigOpts``) for this process's mode; return
    it. Call it before creating the RPC server. A value from the
    configuration files or ``OS_DEFAULT__EXECUTOR_THREAD_POOL_SIZE`` still
    wins: this is only the default.
    """
    from oslo_messaging import opts as messaging_opts

    runtime = _runtime.get("offramp.set_rpc_defaults()")
    for group, opts in messaging_opts.list_opts():
        for opt in opts:
            if group in (None, "DEFAULT") and opt.name == "executor_thread_pool_size":
                conf.register_opt(opt)  # the same definition: registering it twice is a no-op
                size = _config.DEFAULT_RPC_EXECUTOR_THREADS.get(runtime.mode, opt.default)
                messaging_opts.set_defaults(conf, executor_thread_pool_size=size)
                return int(size)
    raise RuntimeError("this oslo.messaging has no executor_thread_pool_size option")
