"""One background timer per process for the stats reporter and watchdog.

A timer, not task submission, drives them: a service whose threads are
all stuck submits nothing, and that is exactly when it must still report.
"""

from __future__ import annotations

import logging
import threading

LOG = logging.getLogger("offramp")


def ensure_started(runtime) -> None:
    """Start the process's ticker if any periodic job is enabled."""
    if runtime.ticker is not None:
        return
    from futurist import periodics

    from offramp import _stats, _watchdog

    settings = runtime.settings
    jobs = []
    if settings.stats_period > 0:
        jobs.append(periodics.periodic(settings.stats_period)(_stats.log_executor_stats))
    if settings.hung_task_thresholds and settings.watchdog_period > 0:
        jobs.append(
            periodics.periodic(settings.watchdog_period)(
                lambda: _watchdog.check(runtime)
            )
        )
    if not jobs:
        runtime.ticker = False
        return
    # Condition and Event are looked up now, after bootstrap, so that in
    # eventlet mode they are the patched, green ones.
    worker = periodics.PeriodicWorker(
        [(job, None, None) for job in jobs],
        log=LOG,
        cond_cls=threading.Condition,
        event_cls=threading.Event,
    )
    thread = threading.Thread(target=worker.start, name="offramp-ticker", daemon=True)
    thread.start()
    runtime.ticker = worker
