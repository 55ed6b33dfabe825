"""Named executors: same Future interface, context, saturation, shutdown."""

import concurrent.futures
import contextvars
import logging
import re
import threading

import pytest

import offramp

request_id = contextvars.ContextVar("request_id", default=None)


def test_executor_kind_follows_mode(mode):
    pool = offramp.get_executor()
    assert isinstance(pool, concurrent.futures.Executor)
    assert pool.kind == {"threading": "ThreadPoolExecutor",
                         "eventlet": "GreenThreadPoolExecutor"}[mode]
    assert offramp.get_executor("default").pool_name == pool.pool_name == "default"
    future = offramp.spawn(divmod, 7, 2)
    assert isinstance(future, offramp.Future)
    assert isinstance(future, concurrent.futures.Future)
    assert future.result(timeout=5) == (3, 1)


def test_tasks_run_on_native_or_green_threads_by_mode(mode):
    import greenlet

    main_thread, main_greenlet = threading.get_ident(), greenlet.getcurrent()
    thread, green = offramp.spawn(lambda: (threading.get_ident(), greenlet.getcurrent())).result(5)
    if mode == "threading":
        assert thread != main_thread  # another OS thread
    else:
        assert green is not main_greenlet and green.parent is not None


def test_builtin_pool_sizes(mode):
    expected = {"threading": (10, 8), "eventlet": (1000, 1000)}[mode]
    pools = (offramp.get_executor("default"), offramp.get_executor("scatter_gather"))
    assert tuple(p.state().max_workers for p in pools) == expected


def test_env_sets_one_pool_size(unique_pool):
    assert unique_pool(3).state().max_workers == 3


def test_spawn_on_named_pool_and_failures_are_futures(unique_pool):
    pool = unique_pool(2)
    ok = offramp.spawn_on(pool.pool_name, str.upper, "x")
    bad = offramp.spawn_on(pool.pool_name, int, "x")
    assert ok.result(timeout=5) == "X"
    assert isinstance(bad.exception(timeout=5), ValueError)


def test_contextvars_travel_with_the_task():
    token = request_id.set("req-1")
    try:
        assert offramp.spawn(request_id.get).result(timeout=5) == "req-1"
    finally:
        request_id.reset(token)
    assert offramp.spawn(request_id.get).result(timeout=5) is None


def test_oslo_context_travels_and_never_stays_on_the_thread(unique_pool):
    from oslo_context import context

    pool = unique_pool(1)  # one worker: every task reuses the same thread
    ctx = context.RequestContext(request_id="req-abc")
    ctx.update_store()
    try:
        seen = pool.submit(lambda: context.get_current().request_id).result(timeout=5)
    finally:
        context._request_store.context = None
    assert seen == "req-abc"
    # A task from a caller without a request context sees none, not the
    # previous task's.
    assert pool.submit(context.get_current).result(timeout=5) is None
    # And the submitting thread's own context is untouched by the task.
    ctx.update_store()
    try:
        pool.submit(lambda: setattr(context._request_store, "context", None)).result(timeout=5)
        assert context.get_current() is ctx
    finally:
        context._request_store.context = None


def test_saturation_warning_on_first_queued_task(unique_pool, caplog):
    pool = unique_pool(1)
    release = threading.Event()
    started = threading.Event()

    def blocker():
        started.set()
        release.wait(10)

    def queued_task():
        return "done"

    with caplog.at_level(logging.WARNING, logger="offramp"):
        first = pool.submit(blocker)
        assert started.wait(5)
        assert not caplog.records  # the first task found an idle worker
        second = pool.submit(queued_task)
        third = pool.submit(queued_task)
        release.set()
        assert second.result(timeout=5) == third.result(timeout=5) == "done"
        first.result(timeout=5)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    # Fires on the very first queued task, then is rate-limited.
    assert len(warnings) == 1, warnings
    assert pool.name in warnings[0]
    assert "test_executors.test_saturation_warning_on_first_queued_task.<locals>.queued_task" in warnings[0]
    assert "too small, or hold stuck threads" in warnings[0]


def _pools(*names):
    from offramp import _executors

    return [_executors.pool(n) for n in names]


def test_shutdown_executors_stops_every_worker(mode):
    pools = _pools("default", "scatter_gather")
    for pool in pools:
        for f in [pool.submit(sum, [i]) for i in range(3)]:
            f.result(timeout=5)
    workers = [w.thread for pool in pools for w in pool._workers]
    assert workers and all(t.is_alive() for t in workers)
    assert offramp.shutdown_executors(wait=True) is True
    for pool in pools:
        assert not pool.alive
        with pytest.raises(RuntimeError, match=f"pool {pool.name} was shut down"):
            pool.submit(sum, [1])
    assert not [t for t in workers if t.is_alive()]
    if mode == "threading":
        assert not [t for t in threading.enumerate() if t.name.startswith("offramp pytest.")]
    # The next use makes a new pool.
    assert _pools("default") != pools[:1]
    assert offramp.spawn(sum, [1, 2]).result(timeout=5) == 3


def test_with_get_executor_leaves_the_shared_pool_running(unique_pool):
    name = unique_pool(2).pool_name
    with offramp.get_executor(name) as ex:
        first = ex.submit(sum, [1, 2])
    assert first.done() and first.result() == 3  # the block waited for it
    with pytest.raises(RuntimeError, match="this view of pool .* was shut down; the pool itself still runs"):
        ex.submit(sum, [1])
    # The pool itself was not closed: every other way in still works.
    assert offramp.spawn_on(name, sum, [3, 4]).result(timeout=5) == 7
    assert offramp.get_executor(name).submit(sum, [5]).result(timeout=5) == 5
    assert offramp.executor_snapshot()["pools"][name]["executed"] == 3


def test_closing_a_view_cancels_only_its_own_queued_tasks(unique_pool):
    pool = unique_pool(1)
    release, started = threading.Event(), threading.Event()
    blocker = offramp.spawn_on(pool.pool_name, lambda: started.set() or release.wait(10))
    assert started.wait(5)
    view = offramp.get_executor(pool.pool_name)
    mine = view.submit(sum, [1])
    theirs = offramp.spawn_on(pool.pool_name, sum, [2])
    view.shutdown(wait=False, cancel_futures=True)
    release.set()
    assert mine.cancelled()
    assert theirs.result(timeout=5) == 2 and blocker.result(timeout=5) is True


def test_a_view_finds_its_pool_again_after_shutdown(unique_pool):
    view = offramp.get_executor(unique_pool(1).pool_name)
    assert offramp.shutdown_executors() is True
    assert view.submit(sum, [2, 2]).result(timeout=5) == 4


def test_shutdown_with_timeout_reports_busy_pools(unique_pool, caplog):
    pool = unique_pool(1)
    release = threading.Event()
    future = pool.submit(release.wait, 10)
    with caplog.at_level(logging.WARNING, logger="offramp"):
        assert offramp.shutdown_executors(timeout=0.2) is False
    assert any(f"Executor {pool.name} still had 1 running task" in r.getMessage()
               for r in caplog.records)
    release.set()
    assert future.result(timeout=5) is True


def test_cancel_futures_on_shutdown(unique_pool):
    pool = unique_pool(1)
    release, started = threading.Event(), threading.Event()
    running = pool.submit(lambda: started.set() or release.wait(10))
    assert started.wait(5)
    queued = [pool.submit(sum, [1]) for _ in range(3)]
    pool.shutdown(wait=False, cancel_futures=True)
    release.set()
    assert running.result(timeout=5) is True
    assert all(f.cancelled() for f in queued)


@pytest.mark.offramp_mode("eventlet")
def test_cooperative_yield_lets_green_threads_run():
    seen = []
    offramp.spawn(seen.append, "other")
    # Without a yield the spawned green thread cannot run before this check.
    assert seen == []
    offramp.cooperative_yield()
    assert seen == ["other"]


@pytest.mark.offramp_mode("threading")
def test_cooperative_yield_is_a_no_op_with_native_threads():
    assert offramp.cooperative_yield() is None


STATS = re.compile(
    r"^Stats of pytest\.(?P<pool>\S+) executor: ExecutorStatistics\(failures=(\d+), "
    r"executed=(\d+), runtime=\d+\.\d\d, cancelled=(\d+)\)$")
STATE = re.compile(
    r"^State of pytest\.(?P<pool>\S+) (ThreadPoolExecutor|GreenThreadPoolExecutor): "
    r"max_workers: (\d+), workers: (\d+), idle workers: (\d+), queued work: (\d+)$")


def test_stats_lines_have_the_nova_format(unique_pool, caplog, mode):
    pool = unique_pool(2)
    for f in [pool.submit(int, v) for v in ("1", "2", "x")]:
        f.exception(timeout=5)
    with caplog.at_level(logging.INFO, logger="offramp"):
        offramp.log_executor_stats()
    lines = [r.getMessage() for r in caplog.records]
    stats = [m for m in map(STATS.match, lines) if m and m["pool"] == pool.pool_name]
    state = [m for m in map(STATE.match, lines) if m and m["pool"] == pool.pool_name]
    assert len(stats) == len(state) == 1
    assert stats[0].groups()[1:] == ("1", "3", "0")
    kind = "ThreadPoolExecutor" if mode == "threading" else "GreenThreadPoolExecutor"
    assert state[0].group(2) == kind
    assert state[0].group(3) == "2" and state[0].group(6) == "0"


def test_snapshot_is_plain_data(unique_pool):
    import json

    pool = unique_pool(2)
    pool.submit(sum, [1]).result(timeout=5)
    snapshot = json.loads(json.dumps(offramp.executor_snapshot()))
    figures = snapshot["pools"][pool.pool_name]
    assert snapshot["mode"] == offramp.current_mode().value
    assert figures["name"] == pool.name and figures["max_workers"] == 2
    assert figures["executed"] == 1 and figures["failures"] == 0
    assert {"workers", "idle", "queued", "cancelled", "runtime", "abandoned", "hung"} <= set(figures)


def test_reporter_logs_on_a_timer_even_when_nothing_is_submitted(run_python, mode):
    proc = run_python(
        """
        import logging, threading
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        import offramp
        offramp.bootstrap()
        reports = threading.Semaphore(0)

        class CountReports(logging.Handler):
            def emit(self, record):
                if started.is_set() and \
                        record.getMessage().startswith("State of python.stuck "):
                    reports.release()

        hang, started = threading.Event(), threading.Event()
        logging.getLogger("offramp").addHandler(CountReports())
        pool = offramp.get_executor("stuck")
        pool.submit(lambda: started.set() or hang.wait())
        try:
            assert started.wait(60)  # the only worker is now stuck
            # Nothing more is submitted: only the timer can report.
            for _ in range(3):
                assert reports.acquire(timeout=30), "no report within 30 s"
        finally:
            hang.set()
        """,
        env={"OFFRAMP_CONCURRENCY": mode, "OFFRAMP_STATS_PERIOD": "0.2",
             f"OFFRAMP_{mode.upper()}_POOL_STUCK": "1"},
        timeout=120, check=0,
    )
    reports = [l for l in proc.stderr.splitlines()
               if l.startswith("State of python.stuck ")]
    assert len(reports) >= 3, proc.stderr
    assert "workers: 1, idle workers: 0, queued work: 0" in reports[-1]
