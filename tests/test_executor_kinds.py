"""DelayedExecutor, CappedExecutor and the parent/child deadlock guard."""

import logging
import threading
import time

import pytest

import offramp


def test_delays_are_a_priority_queue_not_a_fifo(unique_pool):
    pool = unique_pool(2)
    order = []
    with offramp.DelayedExecutor(pool.pool_name) as delayed:
        late = delayed.submit_after(0.4, order.append, "late")
        early = delayed.submit_after(0.05, order.append, "early")
        early.result(timeout=5)
        late.result(timeout=5)
    assert order == ["early", "late"]


def test_delayed_task_can_be_cancelled_until_it_starts(unique_pool):
    pool = unique_pool(1)
    ran = []
    with offramp.DelayedExecutor(pool.pool_name) as delayed:
        doomed = delayed.submit_after(0.2, ran.append, "doomed")
        kept = delayed.submit_after(0.3, ran.append, "kept")
        assert doomed.cancel()
        kept.result(timeout=5)
    assert ran == ["kept"]
    assert doomed.cancelled()


def test_waiting_delayed_tasks_hold_no_pool_thread(unique_pool):
    pool = unique_pool(1)
    with offramp.DelayedExecutor(pool.pool_name) as delayed:
        waiting = [delayed.submit_after(5, str, i) for i in range(20)]
        # The pool's only worker is free for immediate work meanwhile.
        assert pool.submit(sum, [1, 2]).result(timeout=10) == 3
        assert pool.running_tasks() == []
    assert all(f.cancelled() for f in waiting)


def test_delayed_futures_are_offramps(unique_pool):
    # Through futurist's documented _get_future_object hook of its delayed
    # mixin: if futurist drops the hook, this says so.
    with offramp.DelayedExecutor(unique_pool(1).pool_name) as delayed:
        future = delayed.submit_after(0, str, 1)
        assert isinstance(future, offramp.Future), type(future)
        assert future.result(timeout=5) == "1"


def test_delayed_task_carries_the_callers_context(unique_pool):
    import contextvars

    var = contextvars.ContextVar("who", default=None)
    var.set("caller")
    with offramp.DelayedExecutor(unique_pool(1).pool_name) as delayed:
        assert delayed.submit_after(0.01, var.get).result(timeout=5) == "caller"


def test_delayed_shutdown_is_clean(unique_pool):
    delayed = offramp.DelayedExecutor(unique_pool(1).pool_name)
    pending = delayed.submit_after(30, str, "never")
    start = time.monotonic()
    delayed.shutdown(wait=True, cancel_futures=True)
    assert time.monotonic() - start < 10  # not the 30 s delay
    assert pending.cancelled()
    with pytest.raises(RuntimeError):
        delayed.submit_after(0, str)
    assert not [t for t in threading.enumerate() if t.name == "futurist-delayed-scheduler"]


@pytest.mark.parametrize("delay", [-1, "soon", None])
def test_bad_delay(unique_pool, delay):
    with offramp.DelayedExecutor(unique_pool(1).pool_name) as delayed:
        with pytest.raises(ValueError, match="invalid delay"):
            delayed.submit_after(delay, str)


def test_caps_hold_under_concurrency(unique_pool):
    pool = unique_pool(20)
    capped = offramp.CappedExecutor(pool.pool_name, limits={"build": 3, "snapshot": 2})
    lock = threading.Lock()
    now = {"build": 0, "snapshot": 0}
    peak = {"build": 0, "snapshot": 0}

    def work(kind):
        with lock:
            now[kind] += 1
            peak[kind] = max(peak[kind], now[kind])
        time.sleep(0.01)  # hold the slot a while, so tasks overlap
        with lock:
            now[kind] -= 1
        return kind

    submitters = [
        threading.Thread(target=lambda k=kind: [capped.submit(k, work, k) for _ in range(15)])
        for kind in ("build", "snapshot") for _ in range(2)
    ]
    futures = []
    original = capped.submit

    def recording_submit(kind, fn, *a):
        f = original(kind, fn, *a)
        futures.append(f)
        return f

    capped.submit = recording_submit
    for t in submitters:
        t.start()
    for t in submitters:
        t.join()
    assert sorted(f.result(timeout=10) for f in futures) == ["build"] * 30 + ["snapshot"] * 30
    assert peak == {"build": 3, "snapshot": 2}
    assert capped.stats() == {"build": {"limit": 3, "running": 0, "waiting": 0},
                              "snapshot": {"limit": 2, "running": 0, "waiting": 0}}


def test_task_over_its_cap_holds_no_thread(unique_pool):
    pool = unique_pool(2)
    capped = offramp.CappedExecutor(pool.pool_name, limits={"build": 1})
    release, started = threading.Event(), threading.Event()
    first = capped.submit("build", lambda: started.set() or release.wait(10))
    queued = [capped.submit("build", str, i) for i in range(10)]
    assert started.wait(10)
    assert not any(f.done() for f in queued)
    assert len(pool.running_tasks()) == 1
    assert capped.stats()["build"]["waiting"] == 10
    # The pool's other worker is still free for other work.
    assert pool.submit(sum, [2, 2]).result(timeout=10) == 4
    assert queued[3].cancel()
    release.set()
    assert first.result(timeout=5) is True
    assert [f.result(timeout=5) for i, f in enumerate(queued) if i != 3] == [
        str(i) for i in range(10) if i != 3]


@pytest.mark.parametrize("limits, match", [
    ({}, "invalid limits"), ({"build": 0}, "invalid limit 0"),
    ({"build": True}, "invalid limit True"), ({"build": 2.5}, "invalid limit 2.5")])
def test_bad_limits(unique_pool, limits, match):
    with pytest.raises(ValueError, match=match):
        offramp.CappedExecutor(unique_pool(1).pool_name, limits=limits)


def test_unknown_kind(unique_pool):
    capped = offramp.CappedExecutor(unique_pool(1).pool_name, limits={"build": 1})
    with pytest.raises(ValueError, match="unknown kind 'resize'; accepted: 'build'"):
        capped.submit("resize", str)


def test_parent_blocking_on_child_in_same_full_pool_is_reported(unique_pool, caplog):
    pool = unique_pool(1)

    def child():
        return "child done"

    def parent():
        inner = pool.submit(child)
        try:
            return inner.result(timeout=0.3)
        except TimeoutError:
            return "deadlocked"

    with caplog.at_level(logging.ERROR, logger="offramp"):
        assert pool.submit(parent).result(timeout=5) == "deadlocked"
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "Possible deadlock in pool" in errors[0]
    assert "parent.<locals>.child" not in errors[0]  # child is not nested in parent
    assert "test_parent_blocking_on_child_in_same_full_pool_is_reported.<locals>.parent" in errors[0]
    assert "test_parent_blocking_on_child_in_same_full_pool_is_reported.<locals>.child" in errors[0]


def test_child_on_another_pool_or_free_worker_is_not_reported(unique_pool, caplog):
    pool, other = unique_pool(2), unique_pool(1)

    def parent():
        return pool.submit(str, 1).result(timeout=2) + other.submit(str, 2).result(timeout=2)

    with caplog.at_level(logging.ERROR, logger="offramp"):
        assert pool.submit(parent).result(timeout=5) == "12"
    assert not caplog.records


def test_deadlock_guard_can_raise(run_python, mode):
    proc = run_python(
        """
        import offramp
        offramp.bootstrap()
        pool = offramp.get_executor("tight")
        def parent():
            try:
                pool.submit(str, "child").result(timeout=5)
            except offramp.PoolDeadlockError as exc:
                return "raised: " + str(exc)
            return "no guard"
        print(pool.submit(parent).result(timeout=10))
        """,
        env={"OFFRAMP_CONCURRENCY": mode, "OFFRAMP_DEADLOCK_ACTION": "raise",
             f"OFFRAMP_{mode.upper()}_POOL_TIGHT": "1"},
        check=0,
    )
    assert proc.stdout.startswith("raised: Possible deadlock in pool python.tight")
