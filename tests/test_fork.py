"""A forked child never inherits the parent's pool bookkeeping."""

FORK_CHILD_RUNS_FIVE_AT_ONCE = """
import os, sys, threading, time
import offramp
offramp.bootstrap()

pool = offramp.get_executor("scatter_gather")
# Make the parent's pool really have threads before the fork.
gate = threading.Barrier(5, timeout=10)
for f in [pool.submit(gate.wait) for _ in range(5)]:
    f.result(timeout=10)
parent = offramp.executor_snapshot()["pools"]["scatter_gather"]

pid = os.fork()
if pid == 0:
    code = 1
    try:
        child_pool = offramp.get_executor("scatter_gather")
        barrier = threading.Barrier(5, timeout=5)
        futures = [child_pool.submit(barrier.wait) for _ in range(5)]
        for f in futures:
            f.result(timeout=10)
        code = 0
    except Exception as exc:
        print("child failed:", repr(exc), flush=True)
    os._exit(code)
_, status = os.waitpid(pid, 0)
print(parent["executed"], parent["workers"], os.waitstatus_to_exitcode(status))
"""


def test_forked_child_runs_five_tasks_at_once_on_scatter_gather(run_python, mode):
    proc = run_python(FORK_CHILD_RUNS_FIVE_AT_ONCE, env={"OFFRAMP_CONCURRENCY": mode}, check=0)
    executed, workers, child_exit = proc.stdout.split()
    assert executed == "5"
    if mode == "threading":
        # The five threads stay; in eventlet mode "workers" counts the
        # tasks running, as futurist's green pool did.
        assert workers == "5"
    assert child_exit == "0", proc.stdout + proc.stderr


def test_shutdown_before_fork_then_child_gets_new_pools(run_python, mode):
    proc = run_python(
        """
        import os
        import offramp
        offramp.bootstrap()
        before = offramp.get_executor()
        before.submit(sum, [1]).result()
        offramp.shutdown_executors()
        pid = os.fork()
        if pid == 0:
            after = offramp.get_executor()
            ok = after is not before and after.submit(sum, [2, 3]).result(timeout=5) == 5
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
        """,
        env={"OFFRAMP_CONCURRENCY": mode}, check=0,
    )
    assert proc.stdout.strip() == "0"
