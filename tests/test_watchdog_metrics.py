"""The hung-task watchdog and the Prometheus exposition."""

import re
import threading

import offramp

# The stuck task stays stuck until the watchdog has looked at it CHECKS
# more times after the last report it expects (REPORTED_LAST, or none), so
# a repeated report would have had its chance, however slow the machine.
WATCHDOG = """
import logging, os, sys, threading
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
import offramp
from offramp import _watchdog
offramp.bootstrap()
REPORTED_LAST = os.environ["REPORTED_LAST"]
CHECKS = int(os.environ["CHECKS"])
checks_after = None  # checks since the last expected report
enough = threading.Event()

class LastReport(logging.Handler):
    def emit(self, record):
        global checks_after
        if REPORTED_LAST and REPORTED_LAST in record.getMessage() \
                and checks_after is None:
            checks_after = -1  # the check that reports does not count

logging.getLogger("offramp").addHandler(LastReport())
real_check = _watchdog.check

def counting_check(runtime):  # the ticker looks check() up each time
    global checks_after
    found = real_check(runtime)
    if checks_after is None and not REPORTED_LAST:
        checks_after = 0
    if checks_after is not None:
        checks_after += 1
        if checks_after >= CHECKS:
            enough.set()
    return found

_watchdog.check = counting_check

def stuck_in_a_db_call():
    enough.wait(120)

offramp.spawn(stuck_in_a_db_call)
if not enough.wait(120):
    sys.exit("the watchdog never checked enough times")
offramp.log_executor_stats()
"""


def _watchdog(run_python, mode, thresholds, reported_last, checks):
    return run_python(
        WATCHDOG,
        env={"OFFRAMP_CONCURRENCY": mode, "OFFRAMP_HUNG_TASK_THRESHOLDS": thresholds,
             "OFFRAMP_WATCHDOG_PERIOD": "0.05", "REPORTED_LAST": reported_last,
             "CHECKS": str(checks)},
        timeout=180, check=0,
    )


def test_watchdog_reports_once_per_threshold_with_the_stack(run_python, mode):
    proc = _watchdog(run_python, mode, "0.3,0.8", "(threshold 0.8s)", 5)
    reports = [block for block in proc.stderr.split("WARNING ")
               if "Task __main__.stuck_in_a_db_call on pool python.default has been running" in block]
    thresholds = [re.search(r"\(threshold ([\d.]+)s\)", r).group(1) for r in reports]
    # One report per threshold crossed, in order, none repeated in the five
    # checks after the last.  A watchdog starved past both thresholds at
    # once reports only the higher one; that is allowed, a repeat is not.
    assert thresholds in (["0.3", "0.8"], ["0.8"]), proc.stderr
    for report in reports:
        assert "on pool python.default" in report
        # The stack shows where the task is stuck.
        assert re.search(r'File "<string>", line \d+, in stuck_in_a_db_call', report)


def test_watchdog_is_silent_below_threshold(run_python, mode):
    proc = _watchdog(run_python, mode, "600", "", 10)
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
