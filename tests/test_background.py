"""Periodic and long-lived work: run, stopped, and known to the watchdog."""

import contextvars
import threading
import time

import offramp

WATCHED = """
import logging, threading, time
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
import offramp
offramp.bootstrap()
from futurist import periodics

runs = []

@periodics.periodic(0.05)
def sync_power_states():
    runs.append(time.monotonic())
    time.sleep(0.02)

stop = threading.Event()
release = threading.Event()
reported = threading.Event()

class Reports(logging.Handler):
    def emit(self, record):
        if "stuck_in_a_db_call" in record.getMessage():
            reported.set()

logging.getLogger("offramp").addHandler(Reports())

def accept_loop():
    while not stop.wait(0.05):
        pass
    return "stopped"

def stuck_in_a_db_call():
    release.wait(60)

worker = offramp.start_periodic([sync_power_states])
loop = offramp.spawn_long_lived(accept_loop)
offramp.spawn(stuck_in_a_db_call)
# The watchdog has checked after every task here outlived the threshold
# once it reports the stuck one, which started last.
reported.wait(60)
deadline = time.monotonic() + 60
while len(runs) < 5 and time.monotonic() < deadline:
    time.sleep(0.01)
snapshot = offramp.executor_snapshot()
stop.set()
release.set()
print(loop.result(5), len(runs) >= 5, [t["task"] for t in snapshot["long_lived"]])
print(offramp.shutdown_executors(timeout=5))
stopped_at = len(runs)
time.sleep(0.3)  # the behaviour: no run may follow the stop
print(len(runs) == stopped_at)
"""

ENV = {"OFFRAMP_HUNG_TASK_THRESHOLDS": "0.3", "OFFRAMP_WATCHDOG_PERIOD": "0.05"}


def test_watchdog_leaves_periodic_and_long_lived_work_alone(run_python, mode):
    proc = run_python(WATCHED, env={"OFFRAMP_CONCURRENCY": mode, **ENV}, check=0)
    stopped, ran, long_lived = proc.stdout.splitlines()[0].split(" ", 2)
    assert (stopped, ran) == ("stopped", "True"), proc.stdout
    assert long_lived == "['__main__.accept_loop']"
    # shutdown stopped the periodic worker: no run after it returned
    assert proc.stdout.splitlines()[1:] == ["True", "True"], proc.stdout + proc.stderr
    reports = [b for b in proc.stderr.split("WARNING ") if "has been running" in b]
    # The really hung task is reported, with its stack ...
    assert len(reports) == 1, proc.stderr
    assert "Task __main__.stuck_in_a_db_call on pool python.default" in reports[0]
    assert "in stuck_in_a_db_call" in reports[0]
    # ... and neither the periodic task nor the long-lived loop is.
    assert "sync_power_states" not in proc.stderr
    assert "accept_loop" not in proc.stderr


def test_a_periodic_run_that_hangs_is_reported_by_its_name(run_python, mode):
    proc = run_python(
        """
        import logging, threading
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
        import offramp
        offramp.bootstrap()
        from futurist import periodics

        release = threading.Event()
        reported = threading.Event()

        class Reports(logging.Handler):
            def emit(self, record):
                if "sync_that_hangs" in record.getMessage():
                    reported.set()

        logging.getLogger("offramp").addHandler(Reports())

        @periodics.periodic(0.05, run_immediately=True)
        def sync_that_hangs():
            release.wait(60)

        offramp.start_periodic([sync_that_hangs])
        reported.wait(60)
        release.set()
        """, env={"OFFRAMP_CONCURRENCY": mode, **ENV}, check=0)
    assert "Task __main__.sync_that_hangs on pool python.periodic has been running" in proc.stderr
    assert "in sync_that_hangs" in proc.stderr


def test_long_lived_task_carries_context_and_returns_its_result():
    var = contextvars.ContextVar("who", default=None)
    var.set("caller")
    release = threading.Event()

    def loop():
        release.wait(10)
        return var.get()

    future = offramp.spawn_long_lived(loop)
    assert isinstance(future, offramp.Future)
    deadline = time.monotonic() + 5
    while not offramp.executor_snapshot()["long_lived"] and time.monotonic() < deadline:
        time.sleep(0.01)
    tasks = offramp.executor_snapshot()["long_lived"]
    assert [t["task"] for t in tasks] == [
        f"{__name__}.test_long_lived_task_carries_context_and_returns_its_result.<locals>.loop"]
    release.set()
    assert future.result(timeout=5) == "caller"
    assert not offramp.executor_snapshot()["long_lived"]


def test_long_lived_task_that_raises_fails_its_future():
    future = offramp.spawn_long_lived(int, "not a number")
    assert isinstance(future.exception(timeout=5), ValueError)
