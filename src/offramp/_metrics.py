"""Prometheus exposition of every pool, read at scrape time.

A collector rather than updated gauges: the figures come from the same
snapshot as the log lines, so the two can never disagree, and nothing is
added to the task hot path.

prometheus_client is imported at the first scrape, not with offramp: a
service that never exposes metrics should not pay for it in every worker
(docs/performance.md has the measured RSS).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from typing import Any

from offramp import _runtime, _stats

_GAUGES = {
    "max_workers": "Largest number of workers the pool may have.",
    "workers": "Workers the pool has now (running green threads in eventlet mode).",
    "idle": "Idle workers (free slots in eventlet mode).",
    "queued": "Tasks waiting for a worker.",
    "running": "Tasks running now.",
    "abandoned": "Timed-out scatter-gather tasks still running.",
    "hung": "Running tasks past the first hung-task threshold.",
}
_COUNTERS = {
    "executed": "Tasks that ran.",
    "failures": "Tasks that raised.",
    "cancelled": "Tasks cancelled before they ran.",
}


class PoolCollector:
    """Collects the pools of this process; register it once per registry."""

    def collect(self) -> Iterator[Any]:
        if _runtime.peek() is None:
            return
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        snapshot = _stats.executor_snapshot()
        labels = ["process", "pool"]
        families = [
            (key, GaugeMetricFamily(f"offramp_pool_{key}", doc, labels=labels))
            for key, doc in _GAUGES.items()
        ] + [
            (key, CounterMetricFamily(f"offramp_pool_tasks_{key}", doc, labels=labels))
            for key, doc in _COUNTERS.items()
        ] + [
            ("runtime", CounterMetricFamily(
                "offramp_pool_task_runtime_seconds",
                "Seconds spent running tasks.", labels=labels)),
        ]
        for name, pool in snapshot["pools"].items():
            for key, family in families:
                family.add_metric([snapshot["process"], name], pool[key])
        for _, family in families:
            yield family


_registered: weakref.WeakKeyDictionary[Any, PoolCollector] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def register_metrics(registry: Any = None) -> PoolCollector:
    """Expose every pool's figures on a prometheus_client registry
    (default: its global ``REGISTRY``).

    Idempotent: a second call for the same registry returns the collector
    registered by the first, instead of failing on duplicate series.
    """
    if registry is None:
        from prometheus_client import REGISTRY as registry
    with _lock:
        collector = _registered.get(registry)
        if collector is None:
            collector = PoolCollector()
            registry.register(collector)
            _registered[registry] = collector
    return collector
