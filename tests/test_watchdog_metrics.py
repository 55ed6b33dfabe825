"""The hung-task watchdog and the Prometheus exposition."""

import re
import threading

import offramp

WATCHDOG = """
import logging, threading, time
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
import offramp
offramp.bootstrap()
gate = threading.Event()

def stuck_in_a_db_call():
    gate.wait(1.3)

offramp.spawn(stuck_in_a_db_call)
time.sleep(1.5)  # nothing else is submitted meanwhile
offramp.log_executor_stats()
"""


def test_watchdog_reports_once_per_threshold_with_the_stack(run_python, mode):
    proc = run_python(
        WATCHDOG,
        env={"OFFRAMP_CONCURRENCY": mode, "OFFRAMP_HUNG_TASK_THRESHOLDS": "0.3,0.8",
             "OFFRAMP_WATCHDOG_PERIOD": "0.05"},
        check=0,
    )
    reports = [block for block in proc.stderr.split("WARNING ")
               if "Task __main__.stuck_in_a_db_call on pool python.default has been running" in block]
    assert len(reports) == 2, proc.stderr
    assert "(threshold 0.3s)" in reports[0] and "(threshold 0.8s)" in reports[1]
    for report in reports:
        assert "on pool python.default" in report
        # The stack shows where the task is stuck.
        assert re.search(r'File "<string>", line \d+, in stuck_in_a_db_call', report)


def test_watchdog_is_silent_below_threshold(run_python, mode):
    proc = run_python(
        WATCHDOG,
        env={"OFFRAMP_CONCURRENCY": mode, "OFFRAMP_HUNG_TASK_THRESHOLDS": "5",
             "OFFRAMP_WATCHDOG_PERIOD": "0.05"},
        check=0,
    )
    assert "has been running" not in proc.stderr


def test_prometheus_exposes_every_pool(unique_pool):
    from prometheus_client import CollectorRegistry, generate_latest

    pool = unique_pool(3)
    release = threading.Event()
    started = threading.Event()
    busy = pool.submit(lambda: started.set() or release.wait(10))
    assert started.wait(5)
    pool.submit(int, "bad").exception(timeout=5)
    registry = CollectorRegistry()
    offramp.register_metrics(registry)
    labels = {"process": "pytest", "pool": pool.pool_name}
    try:
        assert registry.get_sample_value("offramp_pool_max_workers", labels) == 3
        assert registry.get_sample_value("offramp_pool_running", labels) == 1
        assert registry.get_sample_value("offramp_pool_tasks_executed_total", labels) == 1
        assert registry.get_sample_value("offramp_pool_tasks_failures_total", labels) == 1
        assert registry.get_sample_value("offramp_pool_abandoned", labels) == 0
        text = generate_latest(registry).decode()
        for name in ("workers", "idle", "queued", "hung"):
            assert f'offramp_pool_{name}{{pool="{pool.pool_name}",process="pytest"}}' in text
        assert "offramp_pool_task_runtime_seconds_total" in text
        assert "offramp_pool_tasks_cancelled_total" in text
    finally:
        release.set()
        busy.result(timeout=5)


def test_prometheus_client_loads_only_at_first_scrape(run_python):
    proc = run_python(
        """
        import sys
        import offramp
        offramp.bootstrap()
        offramp.spawn(print, end="").result()
        print("prometheus_client" in sys.modules)
        from prometheus_client import CollectorRegistry, generate_latest
        registry = CollectorRegistry()
        offramp.register_metrics(registry)
        print(b"offramp_pool_max_workers" in generate_latest(registry))
        """, env={"OFFRAMP_CONCURRENCY": "threading"}, check=0)
    assert proc.stdout.split() == ["False", "True"]
