"""scatter_gather: right answers, bounded wall time, no pool drain."""

import logging
import threading
import time

import pytest

import offramp

# Generous on purpose: a busy machine may start a thread late, and a
# healthy target must still answer within the timeout.  A return bound is
# the timeout plus ALLOWANCE for a busy machine; a broken timeout would
# wait the 60 s a hung target hangs.
TIMEOUT = 2.0
ALLOWANCE = 5.0


class Backends:
    """Five targets: one hangs, one raises, one is slow, two are fast."""

    def __init__(self):
        self.release_hung = threading.Event()
        self.slow_delay = 0.3

    def __call__(self, target, request):
        if target == "hung":
            self.release_hung.wait(60)
            return "late"
        if target == "raises":
            raise ConnectionError(f"{target} is down")
        if target == "slow":
            time.sleep(self.slow_delay)  # the behaviour: answers late, in time
        return f"{target}:{request}"


TARGETS = ["hung", "raises", "slow", "fast1", "fast2"]


@pytest.fixture
def backends():
    b = Backends()
    yield b
    b.release_hung.set()


def test_fan_out_answers_bounds_time_and_never_drains(backends, unique_pool, caplog):
    pool = unique_pool(5)
    start = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="offramp"):
        results = offramp.scatter_gather(TARGETS, backends, "r0", timeout=TIMEOUT, pool=pool.pool_name)
    elapsed = time.monotonic() - start
    assert elapsed < TIMEOUT + ALLOWANCE, elapsed
    assert results["hung"] is offramp.DID_NOT_RESPOND
    assert isinstance(results["raises"], ConnectionError)
    assert results["slow"] == "slow:r0"
    assert results["fast1"] == "fast1:r0" and results["fast2"] == "fast2:r0"
    assert [t for t in TARGETS if offramp.is_failure(results[t])] == ["hung", "raises"]
    assert list(results) == TARGETS
    messages = [r.getMessage() for r in caplog.records]
    assert any("Target hung did not respond within 2.00s; its task is still running" in m
               for m in messages)
    assert any("Target raises raised ConnectionError" in m for m in messages)

    backends.slow_delay = 0.02
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="offramp"):
        for i in range(100):
            results = offramp.scatter_gather(TARGETS, backends, f"r{i}", timeout=TIMEOUT,
                                             pool=pool.pool_name)
            assert results["hung"] is offramp.DID_NOT_RESPOND
            assert [results[t] for t in ("slow", "fast1", "fast2")] == [
                f"slow:r{i}", f"fast1:r{i}", f"fast2:r{i}"]
            assert isinstance(results["raises"], ConnectionError)
            # The hung target holds exactly one worker, never more.
            assert len(pool.running_tasks()) <= 1 + 3
    figures = offramp.executor_snapshot()["pools"][pool.pool_name]
    assert figures["abandoned_by_target"] == {"hung": 1}
    assert figures["cancelled"] == 0
    assert not [r for r in caplog.records if "has no idle worker" in r.getMessage()]
    assert sum("still has 1 abandoned task(s)" in r.getMessage() for r in caplog.records) == 100

    # Once the hung task ends, the target is asked again.
    backends.release_hung.set()
    deadline = time.monotonic() + 30
    while offramp.executor_snapshot()["pools"][pool.pool_name]["abandoned"]:
        assert time.monotonic() < deadline, "the released task never reported back"
        time.sleep(0.01)
    results = offramp.scatter_gather(TARGETS, backends, "again", timeout=TIMEOUT, pool=pool.pool_name)
    assert results["hung"] == "late"


def test_every_target_hanging_still_returns_in_time(unique_pool):
    pool = unique_pool(3)
    release = threading.Event()
    try:
        start = time.monotonic()
        results = offramp.scatter_gather(["a", "b", "c"], lambda t: release.wait(60),
                                         timeout=0.3, pool=pool.pool_name)
        assert time.monotonic() - start < 0.3 + ALLOWANCE
        assert set(results.values()) == {offramp.DID_NOT_RESPOND}
    finally:
        release.set()


def test_queued_task_is_cancelled_not_abandoned(unique_pool, caplog):
    pool = unique_pool(1)  # the second target must queue behind the first
    release = threading.Event()
    calls = []

    def backend(target):
        calls.append(target)
        return release.wait(60)

    try:
        with caplog.at_level(logging.WARNING, logger="offramp"):
            results = offramp.scatter_gather(["first", "second"], backend,
                                             timeout=TIMEOUT, pool=pool.pool_name)
        assert results == {"first": offramp.DID_NOT_RESPOND, "second": offramp.DID_NOT_RESPOND}
        messages = " | ".join(r.getMessage() for r in caplog.records)
        assert "Target second did not respond within 2.00s; its task had not started" in messages
        assert "Target first did not respond within 2.00s; its task is still running" in messages
        figures = offramp.executor_snapshot()["pools"][pool.pool_name]
        assert figures["abandoned_by_target"] == {"first": 1}
    finally:
        release.set()
    # The cancelled task never runs, even once a worker is free for it.
    offramp.shutdown_executors(wait=True)
    assert calls == ["first"]


def test_per_target_timeout(unique_pool):
    pool = unique_pool(2)
    release = threading.Event()
    overall = 30.0
    try:
        start = time.monotonic()
        # The patient target answers after 0.3 s (the sleep is the behaviour).
        results = offramp.scatter_gather(
            ["quick", "patient"], lambda t: release.wait(60) if t == "quick" else time.sleep(0.3) or t,
            timeout=overall, target_timeouts={"quick": 0.1}, pool=pool.pool_name)
        assert results == {"quick": offramp.DID_NOT_RESPOND, "patient": "patient"}
        # Given up on after its own 0.1 s, not the overall timeout.
        assert time.monotonic() - start < overall / 2
    finally:
        release.set()


@pytest.mark.parametrize("timeout", [0, -1, None, "1", True])
def test_bad_timeout_is_rejected(timeout):
    with pytest.raises(ValueError, match="invalid timeout"):
        offramp.scatter_gather(["a"], str, timeout=timeout)


def test_did_not_respond_is_a_singleton():
    import pickle

    assert pickle.loads(pickle.dumps(offramp.DID_NOT_RESPOND)) is offramp.DID_NOT_RESPOND
    assert repr(offramp.DID_NOT_RESPOND) == "offramp.DID_NOT_RESPOND"
    assert offramp.is_failure(ValueError()) and not offramp.is_failure(None)


def test_a_burst_cannot_drain_the_pool_through_one_hung_target(unique_pool):
    """Concurrent calls each reach the hung target before any gives up: it
    may hold only its share of the pool, so healthy targets keep answering."""
    pool = unique_pool(6)
    release = threading.Event()

    def backend(target):
        if target == "hung":
            release.wait(60)
        else:
            time.sleep(0.01)  # the behaviour: a healthy target takes a little time
        return target

    outcomes = []
    lock = threading.Lock()

    def one_request():
        result = offramp.scatter_gather(["hung", "a", "b"], backend, timeout=TIMEOUT,
                                        pool=pool.pool_name)
        with lock:
            outcomes.append(result)

    try:
        callers = [threading.Thread(target=one_request) for _ in range(8)]
        for c in callers:
            c.start()
        for c in callers:
            c.join(TIMEOUT + 60)
        assert len(outcomes) == 8
        for result in outcomes:
            assert result["hung"] is offramp.DID_NOT_RESPOND
            assert (result["a"], result["b"]) == ("a", "b")
        # The hung target holds at most its share: 6 workers / 3 targets.
        assert len([r for r in pool.running_tasks() if r.task.endswith("backend")]) <= 2
    finally:
        release.set()
