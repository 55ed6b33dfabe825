"""The offramp.testing pytest plugin, run on real inner test sessions."""

import re

import pytest

pytest_plugins = ["pytester"]

# The leftovers run until the last test (or the session's end), so the
# leak checks find them however slowly the machine gets there.
LEAKY = '''
import threading
import offramp
import pytest

session_over = threading.Event()

@pytest.fixture(autouse=True, scope="session")
def _end_the_leftovers():
    yield
    session_over.set()

def hold_a_pool_thread():
    session_over.wait(60)

def test_leaves_a_busy_pool_thread():
    pool = offramp.get_executor("leaky")
    pool.submit(hold_a_pool_thread)

def test_leaves_a_non_daemon_thread():
    def lingering_worker():
        session_over.wait(60)
    threading.Thread(target=lingering_worker, daemon=False).start()

def test_creates_a_pool_and_keeps_it():
    offramp.get_executor("kept").submit(sum, [1]).result()

def test_clean():
    session_over.set()  # the tests above have had their leftovers checked
    pool = offramp.get_executor("clean")
    pool.submit(sum, [1]).result()
    offramp.shutdown_executors()
'''


def test_leak_check_names_each_leftover_and_where_it_came_from(pytester, mode):
    pytester.makepyfile(test_leaky=LEAKY)
    pytester.makeini("[pytest]\nofframp_leak_grace = 0.2\n")
    result = pytester.runpytest_subprocess(
        f"--offramp-mode={mode}", "--offramp-leak-check", "-p", "no:cacheprovider")
    # Every test body passes; the three leaky ones error at teardown.
    result.assert_outcomes(passed=4, errors=3)
    out = result.stdout.str()
    # Each leftover names where it came from: the line that asked for the
    # pool, the function the thread runs.
    pool_line = LEAKY.lstrip("\n").splitlines().index('    pool = offramp.get_executor("leaky")') + 1
    target_line = LEAKY.lstrip("\n").splitlines().index("    def lingering_worker():") + 1
    assert re.search(r"pool pytest.leaky still runs task test_leaky.hold_a_pool_thread "
                     rf"\(\d+\.\ds\); pool created at \S*test_leaky.py:{pool_line}", out)
    assert re.search(r"non-daemon thread 'Thread-\d+ \(lingering_worker\)' is still running; "
                     rf"its target is defined at \S*test_leaky.py:{target_line}", out)
    assert "pool pytest.kept was created and not shut down; created at" in out


def test_mode_marker_runs_a_test_in_its_mode_only(pytester, mode):
    pytester.makepyfile(test_marked='''
import pytest, offramp

@pytest.mark.offramp_mode("threading")
def test_threads():
    assert offramp.current_mode().value == "threading"

@pytest.mark.offramp_mode("eventlet")
def test_green():
    assert offramp.current_mode().value == "eventlet"
''')
    result = pytester.runpytest_subprocess(f"--offramp-mode={mode}", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    other = "eventlet" if mode == "threading" else "threading"
    assert f"only meaningful in {other} mode" in result.stdout.str()


def test_bad_marker_mode_is_a_usage_error(pytester, mode):
    pytester.makepyfile(test_bad='''
import pytest

@pytest.mark.offramp_mode("green")
def test_x():
    pass
''')
    result = pytester.runpytest_subprocess(f"--offramp-mode={mode}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "invalid mode 'green'; accepted: threading, eventlet" in result.stderr.str()


def test_env_var_selects_the_mode(pytester, monkeypatch):
    monkeypatch.setenv("OFFRAMP_TEST_MODE", "eventlet")
    pytester.makepyfile(test_env='''
import offramp

def test_mode():
    assert offramp.current_mode().value == "eventlet"
''')
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)
