"""The smaller surprises of a first port, each fixed and pinned here."""

import concurrent.futures
import logging
import threading
import time

import pytest

import offramp
from offramp import _config


def test_pool_names_ignore_case_and_separators_like_their_env_vars(mode, monkeypatch):
    monkeypatch.setenv(f"OFFRAMP_{mode.upper()}_POOL_CELL_READS", "3")
    spellings = ["cell_reads", "Cell_Reads", "CELL-READS", "cell.reads"]
    views = [offramp.get_executor(name) for name in spellings]
    assert {v.pool_name for v in views} == {"cell_reads"}
    assert {v.max_workers for v in views} == {3}
    offramp.spawn_on("Cell-Reads", sum, [1]).result(timeout=5)
    pools = offramp.executor_snapshot()["pools"]
    assert pools["cell_reads"]["executed"] == 1
    assert not [name for name in pools if name != name.lower()]
    offramp.shutdown_executors()


def test_two_spellings_of_one_pool_in_config_must_agree(tmp_path):
    conf = tmp_path / "svc.conf"
    conf.write_text("[offramp]\nthreading_pool_sizes = Cells:3,cells:4\n")
    with pytest.raises(offramp.ConfigurationError,
                       match="'Cells' and 'cells' are the same pool 'cells'"):
        _config.load(str(conf))
    conf.write_text("[offramp]\nthreading_pool_sizes = Cells:3\n")
    assert _config.load(str(conf)).pool_size("threading", "cells") == 3


def test_register_metrics_twice_is_harmless():
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    first = offramp.register_metrics(registry)
    assert offramp.register_metrics(registry) is first
    assert offramp.register_metrics(CollectorRegistry()) is not first


def test_errors_after_a_failed_bootstrap_say_it_failed(run_python):
    proc = run_python(
        """
        import offramp
        try:
            offramp.bootstrap()
        except offramp.ConfigurationError:
            pass
        offramp.spawn(print)
        """, env={"OFFRAMP_CONCURRENCY": "bogus"})
    assert proc.returncode != 0
    assert ("offramp.get_executor() needs the concurrency mode, but "
            "offramp.bootstrap() failed in this process (ConfigurationError: "
            "environment variable OFFRAMP_CONCURRENCY has invalid value 'bogus'") in proc.stderr
    assert "has not run" not in proc.stderr


def test_bootstrap_line_waits_for_logging_to_be_configured(run_python, mode):
    proc = run_python(
        """
        import logging
        import offramp
        offramp.bootstrap()                      # first, as the rule says
        logging.basicConfig(level=logging.INFO)  # then the service's logging
        offramp.spawn(sum, [1]).result()
        offramp.spawn_on("other", sum, [1]).result()
        """, env={"OFFRAMP_CONCURRENCY": mode}, check=0)
    line = f"offramp: running in {mode} mode, chosen by environment variable OFFRAMP_CONCURRENCY"
    assert proc.stderr.count(line) == 1, proc.stderr
    # It comes before the lines of the pools whose creation logged it.
    assert proc.stderr.index(line) < proc.stderr.index("Created executor python.default")


def test_bootstrap_line_is_logged_once_when_logging_comes_first(run_python, mode):
    proc = run_python(
        """
        import logging; logging.basicConfig(level=logging.INFO)
        import offramp
        offramp.bootstrap()
        offramp.spawn(sum, [1]).result()
        """, env={"OFFRAMP_CONCURRENCY": mode}, check=0)
    assert proc.stderr.count(f"offramp: running in {mode} mode") == 1, proc.stderr


@pytest.mark.parametrize("kind", ["view", "name", "stdlib"])
def test_delayed_and_capped_executors_take_executor_objects(unique_pool, kind):
    pool = unique_pool(2)
    stdlib = concurrent.futures.ThreadPoolExecutor(max_workers=2)
    target = {"view": offramp.get_executor(pool.pool_name), "name": pool.pool_name,
              "stdlib": stdlib}[kind]
    try:
        with offramp.DelayedExecutor(target) as delayed:
            assert delayed.submit_after(0.01, sum, [1, 2]).result(timeout=5) == 3
        capped = offramp.CappedExecutor(target, limits={"build": 1})
        release = threading.Event()
        first = capped.submit("build", release.wait, 10)
        second = capped.submit("build", str.upper, "done")
        assert capped.stats()["build"] == {"limit": 1, "running": 1, "waiting": 1}
        release.set()
        assert first.result(timeout=5) is True and second.result(timeout=5) == "DONE"
        assert isinstance(second, offramp.Future) and isinstance(first, offramp.Future)
        executed = offramp.executor_snapshot()["pools"][pool.pool_name]["executed"]
        assert executed == (0 if kind == "stdlib" else 3)
        # Neither closed what it was given.
        assert stdlib.submit(sum, [1]).result(timeout=5) == 1
        assert offramp.spawn_on(pool.pool_name, sum, [4]).result(timeout=5) == 4
    finally:
        stdlib.shutdown()


def test_a_bad_pool_object_is_refused_with_what_is_accepted():
    with pytest.raises(TypeError, match="invalid pool 42; accepted: a pool name, an "
                       "executor from offramp.get_executor\\(\\), or a concurrent.futures.Executor"):
        offramp.DelayedExecutor(42)


def test_abandoned_task_end_is_logged_with_the_full_pool_name(unique_pool, caplog):
    pool = unique_pool(2)
    release = threading.Event()
    with caplog.at_level(logging.INFO, logger="offramp"):
        offramp.scatter_gather(["slow"], lambda t: release.wait(10), timeout=0.05,
                               pool=pool.pool_name)
        release.set()
        deadline = time.monotonic() + 10
        while (offramp.executor_snapshot()["pools"][pool.pool_name]["abandoned"]
               and time.monotonic() < deadline):
            time.sleep(0.01)
    lines = [r.getMessage() for r in caplog.records if "Abandoned task of target slow" in r.getMessage()]
    assert len(lines) == 1 and f"on pool {pool.name} finished" in lines[0], lines
