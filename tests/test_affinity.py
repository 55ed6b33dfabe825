"""offramp.pin_worker(): one CPU per worker process.

The deal is checked as a pure function; the pinning itself in real
worker processes started by one parent, since it acts on whole processes.
"""

import json
import os

import pytest

import offramp
from offramp import _config
from offramp._affinity import choose_cpu

CPUS = sorted(os.sched_getaffinity(0))
needs_two_cpus = pytest.mark.skipif(
    len(CPUS) < 2, reason="pinning spreads workers over CPUs: this machine "
    "lets the tests use only one")


def test_workers_starting_together_spread_over_the_cpus():
    # Nobody is pinned yet; each worker computes the same deal.
    deal = {me: choose_cpu([0, 1], [], [30, 10, 20], me) for me in (10, 20, 30)}
    assert deal == {10: 0, 20: 1, 30: 0}


def test_the_deal_starts_where_the_parent_says():
    # Two single-worker services (different parents) begin on different
    # CPUs; siblings still share one deal.
    assert choose_cpu([0, 1, 2, 3], [], [], 10, start=2) == 2
    assert choose_cpu([0, 1, 2, 3], [], [], 10, start=7) == 3
    deal = {me: choose_cpu([0, 1, 2, 3], [], [10, 11, 12], me, start=3)
            for me in (10, 11, 12)}
    assert deal == {10: 3, 11: 0, 12: 1}
    # Load still comes first: a used CPU is skipped whatever the start.
    assert choose_cpu([0, 1], [1], [], 5, start=1) == 0


def test_a_restarted_worker_takes_the_cpu_its_predecessor_left():
    # Workers on CPUs 0, 1 and 2 of 4; the one on 1 died and came back.
    assert choose_cpu([0, 1, 2, 3], [0, 2, 3], [], 99) == 1


def test_late_workers_fill_the_least_used_cpus():
    assert choose_cpu([0, 1], [0, 0, 1], [5, 6], 6) == 0
    assert choose_cpu([0, 1], [0, 0, 1], [5, 6], 5) == 1


def test_cpus_outside_the_allowed_set_are_ignored():
    # A sibling pinned where this process may not run takes nothing away.
    assert choose_cpu([2, 3], [0, 1, 2], [], 7) == 3


@pytest.mark.parametrize("value", ["sometimes", "1", ""])
def test_bad_policy_names_its_source(monkeypatch, value):
    monkeypatch.setenv("OFFRAMP_PIN_WORKERS", value)
    if not value:  # empty: unset, like every other setting
        assert _config.load().pin_workers == "auto"
        return
    with pytest.raises(offramp.ConfigurationError) as err:
        _config.load()
    assert f"OFFRAMP_PIN_WORKERS has invalid value {value!r}" in str(err.value)
    assert "accepted: auto, always, never" in str(err.value)


def test_policy_from_config_file(tmp_path, monkeypatch):
    monkeypatch.delenv("OFFRAMP_PIN_WORKERS", raising=False)
    conf = tmp_path / "svc.conf"
    conf.write_text("[offramp]\npin_workers = Never\n")
    assert _config.load(str(conf)).pin_workers == "never"
    monkeypatch.setenv("OFFRAMP_PIN_WORKERS", "always")
    assert _config.load(str(conf)).pin_workers == "always"


# A parent that starts three worker processes, as a launcher does. Each
# starts a thread, pins itself and reports the CPUs every one of its OS
# threads may use, then stays alive until the parent has every report: a
# worker that had exited would not count as a sibling.
WORKER = """
import json, os, sys, threading
import offramp
offramp.bootstrap()
stop = threading.Event()
# An OS thread started before pinning must be pinned too; eventlet's
# threads are green, so only threading mode has one.
if offramp.current_mode() is offramp.Mode.THREADING:
    ready = threading.Event()
    def helper():
        ready.set()
        stop.wait()
    threading.Thread(target=helper).start()
    ready.wait()
cpu = offramp.pin_worker()
tasks = {tid: sorted(os.sched_getaffinity(int(tid)))
         for tid in os.listdir("/proc/self/task")}
stop.set()
print(json.dumps({"pid": os.getpid(), "cpu": cpu, "tasks": tasks}), flush=True)
sys.stdin.read()
"""

START_WORKERS = f"""
import json, subprocess, sys
workers = [subprocess.Popen([sys.executable, "-c", {WORKER!r}], text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
           for _ in range(3)]
reports = [json.loads(w.stdout.readline()) for w in workers]
for w in workers:
    w.stdin.close()
    assert w.wait(30) == 0
print(json.dumps(reports))
"""


def _start_workers(run_python, mode, policy):
    env = {"OFFRAMP_CONCURRENCY": mode}
    if policy is not None:
        env["OFFRAMP_PIN_WORKERS"] = policy
    proc = run_python(START_WORKERS, env=env, check=0)
    return json.loads(proc.stdout.strip().splitlines()[-1])


@needs_two_cpus
def test_always_pins_every_thread_of_every_worker(run_python, mode):
    workers = _start_workers(run_python, mode, "always")
    assert len(workers) == 3
    for worker in workers:
        assert worker["cpu"] in CPUS
        assert all(cpus == [worker["cpu"]] for cpus in worker["tasks"].values()), worker
        if mode == "threading":  # the helper runs in threading mode only
            assert len(worker["tasks"]) == 2, worker
    # Three workers on two or more CPUs: no CPU holds more than two.
    used = [w["cpu"] for w in workers]
    assert max(used.count(c) for c in set(used)) <= -(-3 // len(CPUS))
    assert len(set(used)) == min(3, len(CPUS))


@needs_two_cpus
def test_auto_pins_in_threading_mode_only(run_python, mode):
    workers = _start_workers(run_python, mode, None)
    if mode == "threading":
        assert all(w["cpu"] in CPUS for w in workers)
        assert len({w["cpu"] for w in workers}) == min(3, len(CPUS))
    else:
        # Eventlet mode: one OS thread per worker, nothing to keep on a core.
        assert all(w["cpu"] is None for w in workers)
        assert all(cpus == CPUS for w in workers for cpus in w["tasks"].values())


def test_never_leaves_the_workers_alone(run_python, mode):
    workers = _start_workers(run_python, mode, "never")
    assert all(w["cpu"] is None for w in workers)
    assert all(cpus == CPUS for w in workers for cpus in w["tasks"].values())


def test_one_allowed_cpu_is_left_as_it_is(run_python, mode):
    proc = run_python(f"""
        import os
        os.sched_setaffinity(0, {{{CPUS[-1]}}})
        import offramp
        offramp.bootstrap()
        print(offramp.pin_worker(), sorted(os.sched_getaffinity(0)))
        """, env={"OFFRAMP_CONCURRENCY": mode, "OFFRAMP_PIN_WORKERS": "always"},
        check=0)
    assert proc.stdout.split("\n")[-2] == f"None [{CPUS[-1]}]"


def test_needs_bootstrap(run_python):
    proc = run_python("""
        import offramp
        offramp.pin_worker()
        """)
    assert proc.returncode != 0
    assert "offramp.pin_worker() needs the concurrency mode" in proc.stderr
