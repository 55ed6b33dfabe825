"""Mode selection: sources, precedence, validation, idempotence."""

import logging

import pytest

import offramp
from offramp import _config, _mode


def resolve(monkeypatch, env=None, default="eventlet", env_var="APP_NO_EVENTLET", conf=None):
    for name in ("OFFRAMP_CONCURRENCY", "APP_NO_EVENTLET"):
        monkeypatch.delenv(name, raising=False)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    settings = _config.Settings(config_file="svc.conf", concurrency=conf)
    return _mode._resolve(default, env_var, settings)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("threading", "threading"),
        ("THREADING", "threading"),
        (" Eventlet ", "eventlet"),
        ("eventlet", "eventlet"),
        ("auto", "eventlet"),  # auto defers to the lower sources
        ("", "eventlet"),  # empty is unset
    ],
)
def test_offramp_concurrency_values(monkeypatch, value, expected):
    mode, _ = resolve(monkeypatch, {"OFFRAMP_CONCURRENCY": value})
    assert mode.value == expected


@pytest.mark.parametrize("value", ["bogus", "thread", "green", "1", "true", "eventlet2"])
def test_offramp_concurrency_bad_values_name_variable_value_and_choices(monkeypatch, value):
    with pytest.raises(offramp.ConfigurationError) as err:
        resolve(monkeypatch, {"OFFRAMP_CONCURRENCY": value})
    message = str(err.value)
    assert "OFFRAMP_CONCURRENCY" in message
    assert repr(value) in message
    assert "threading, eventlet, auto" in message


@pytest.mark.parametrize(
    "value, expected",
    [("true", "threading"), ("1", "threading"), ("YES", "threading"),
     ("false", "eventlet"), ("0", "eventlet"), ("No", "eventlet")],
)
def test_application_boolean_variable(monkeypatch, value, expected):
    mode, source = resolve(monkeypatch, {"APP_NO_EVENTLET": value}, default="eventlet"
                           if expected == "threading" else "threading")
    assert mode.value == expected
    assert source == "environment variable APP_NO_EVENTLET"


@pytest.mark.parametrize("value", ["ture", "2", "on", "disabled", "y"])
def test_application_boolean_variable_rejects_typos(monkeypatch, value):
    # nova reads a typo as eventlet; offramp refuses to start instead.
    with pytest.raises(offramp.ConfigurationError) as err:
        resolve(monkeypatch, {"APP_NO_EVENTLET": value})
    assert "APP_NO_EVENTLET" in str(err.value) and repr(value) in str(err.value)


def test_precedence_env_over_app_var_over_config_over_default(monkeypatch):
    assert resolve(monkeypatch, {"OFFRAMP_CONCURRENCY": "eventlet", "APP_NO_EVENTLET": "true"},
                   conf="threading", default="threading") == (
        offramp.Mode.EVENTLET, "environment variable OFFRAMP_CONCURRENCY")
    assert resolve(monkeypatch, {"APP_NO_EVENTLET": "false"}, conf="threading",
                   default="threading")[0] is offramp.Mode.EVENTLET
    assert resolve(monkeypatch, {}, conf="threading", default="eventlet") == (
        offramp.Mode.THREADING, "config file svc.conf")
    assert resolve(monkeypatch, {}, conf="auto", default="eventlet") == (
        offramp.Mode.EVENTLET, "the default")
    assert resolve(monkeypatch, {}, conf=None, default=offramp.Mode.THREADING) == (
        offramp.Mode.THREADING, "the default")


def test_shadowed_bad_value_still_fails(monkeypatch):
    with pytest.raises(offramp.ConfigurationError, match="APP_NO_EVENTLET"):
        resolve(monkeypatch, {"OFFRAMP_CONCURRENCY": "threading", "APP_NO_EVENTLET": "maybe"})


def test_bad_default_is_rejected(monkeypatch):
    with pytest.raises(offramp.ConfigurationError, match=r"default.*'green'"):
        resolve(monkeypatch, {}, default="green")


def test_config_file_mode_and_sizes(tmp_path, monkeypatch):
    conf = tmp_path / "svc.conf"
    conf.write_text("[offramp]\nconcurrency = Threading\n"
                    "threading_pool_sizes = default:3,cells:7\nstats_period = 30\n")
    settings = _config.load(str(conf))
    assert settings.concurrency == "threading"
    assert settings.pool_size("threading", "cells") == 7
    assert settings.pool_size("threading", "default") == 3
    assert settings.pool_size("threading", "scatter_gather") == 8
    assert settings.pool_size("eventlet", "default") == 1000
    assert settings.stats_period == 30.0
    monkeypatch.setenv("OFFRAMP_THREADING_POOL_CELLS", "9")
    assert settings.pool_size("threading", "cells") == 9


@pytest.mark.parametrize("line, needle", [
    ("concurrency = greenish", "'greenish'"),
    ("threading_pool_sizes = default:0", "'0'"),
    ("threading_pool_sizes = default:-4", "'-4'"),
    ("threading_pool_sizes = default:100000", "'100000'"),
    ("eventlet_pool_sizes = default:many", "'many'"),
    ("stats_period = -1", "'-1'"),
    ("deadlock_action = explode", "'explode'"),
    ("hung_task_thresholds = 10,never", "never"),
])
def test_config_file_bad_values(tmp_path, line, needle):
    conf = tmp_path / "svc.conf"
    conf.write_text(f"[offramp]\n{line}\n")
    with pytest.raises(offramp.ConfigurationError) as err:
        _config.load(str(conf))
    assert needle in str(err.value) and str(conf) in str(err.value)
    assert "accepted" in str(err.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(offramp.ConfigurationError, match="does not exist"):
        _config.load(str(tmp_path / "nope.conf"))


@pytest.mark.parametrize("value", ["0", "-1", "1025000", "ten"])
def test_pool_size_env_bad_values(monkeypatch, mode, value):
    monkeypatch.setenv(f"OFFRAMP_{mode.upper()}_POOL_BADSIZE", value)
    with pytest.raises(offramp.ConfigurationError) as err:
        offramp.get_executor("badsize")
    assert f"OFFRAMP_{mode.upper()}_POOL_BADSIZE" in str(err.value)
    assert repr(value) in str(err.value)


def test_pool_name_is_validated():
    with pytest.raises(ValueError, match="invalid pool name ' bad name'"):
        offramp.get_executor(" bad name")


def test_second_bootstrap_same_mode_is_noop(mode):
    assert offramp.bootstrap(default=mode).value == mode
    assert offramp.current_mode().value == mode


def test_bootstrap_cannot_change_mode(mode, monkeypatch):
    other = "eventlet" if mode == "threading" else "threading"
    monkeypatch.setenv("OFFRAMP_CONCURRENCY", other)
    with pytest.raises(offramp.ModeError, match=f"already runs in {mode} mode"):
        offramp.bootstrap()
    assert offramp.current_mode().value == mode


def test_oslo_service_backend_matches_mode(mode):
    from oslo_service import backend

    assert backend.get_backend_type().value == offramp.current_mode().value == mode


def test_bogus_env_fails_the_process(run_python):
    proc = run_python("import offramp; offramp.bootstrap(default='eventlet')",
                      env={"OFFRAMP_CONCURRENCY": "bogus"})
    assert proc.returncode != 0
    assert "OFFRAMP_CONCURRENCY has invalid value 'bogus'" in proc.stderr
    assert "accepted: threading, eventlet, auto" in proc.stderr


def test_current_mode_before_bootstrap_is_a_clear_error(run_python):
    proc = run_python("import offramp; offramp.current_mode()")
    assert proc.returncode != 0
    assert "offramp.bootstrap() has not run" in proc.stderr
    proc = run_python("import offramp; offramp.spawn(print)")
    assert "offramp.get_executor() needs the concurrency mode" in proc.stderr


@pytest.mark.parametrize("env, source", [
    ({"OFFRAMP_CONCURRENCY": "threading"}, "environment variable OFFRAMP_CONCURRENCY"),
    ({"SVC_NO_EVENTLET": "1"}, "environment variable SVC_NO_EVENTLET"),
    ({}, "the default"),
])
def test_bootstrap_logs_mode_and_source(run_python, env, source):
    proc = run_python(
        """
        import logging; logging.basicConfig(level=logging.INFO)
        import offramp
        print(offramp.bootstrap(default="threading", env_var="SVC_NO_EVENTLET"))
        """, env=env, check=0)
    assert proc.stdout.strip() == "threading"
    assert f"running in threading mode, chosen by {source}" in proc.stderr


def test_bootstrap_logs_config_file_source(run_python, tmp_path):
    conf = tmp_path / "svc.conf"
    conf.write_text("[offramp]\nconcurrency = threading\n")
    proc = run_python(
        f"""
        import logging; logging.basicConfig(level=logging.INFO)
        import offramp
        offramp.bootstrap(default="eventlet", config_file={str(conf)!r})
        import sys; print("eventlet" in sys.modules)
        """, check=0)
    assert proc.stdout.strip() == "False"
    assert f"chosen by config file {conf}" in proc.stderr


def test_pool_creation_and_shutdown_are_logged(caplog, unique_pool):
    with caplog.at_level(logging.INFO, logger="offramp"):
        pool = unique_pool(2)
        offramp.shutdown_executors()
    messages = [r.getMessage() for r in caplog.records]
    assert f"Created executor {pool.name}: {pool.kind} with max_workers=2" in messages
    assert f"Shut down executor {pool.name}" in messages
    assert pool.name.startswith("pytest.")


def test_oslo_config_generator_lists_offramp_options(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    generator = Path(sys.executable).with_name("oslo-config-generator")
    out = tmp_path / "sample.conf"
    subprocess.run([str(generator), "--namespace", "offramp", "--output-file", str(out)],
                   check=True, capture_output=True)
    text = out.read_text()
    assert "[offramp]" in text
    for option in ("concurrency", "threading_pool_sizes", "eventlet_pool_sizes",
                   "stats_period", "hung_task_thresholds", "deadlock_action"):
        assert f"#{option} =" in text


def test_application_pool_defaults_rank_below_env_and_config(tmp_path, monkeypatch):
    conf = tmp_path / "svc.conf"
    conf.write_text("[offramp]\nthreading_pool_sizes = cells:7\n")
    settings = _config.load(str(conf), {"threading": {"cells": 3, "api": 4},
                                        "eventlet": {"api": 50}})
    assert settings.pool_size("threading", "api") == 4
    assert settings.pool_size("eventlet", "api") == 50
    assert settings.pool_size("threading", "cells") == 7  # config wins
    assert settings.pool_size("threading", "default") == 10  # offramp's own
    monkeypatch.setenv("OFFRAMP_THREADING_POOL_API", "6")
    assert settings.pool_size("threading", "api") == 6  # env wins


@pytest.mark.parametrize("defaults, needle", [
    ({"green": {"x": 1}}, "'green'"),
    ({"threading": {"x": 0}}, "pool 'x', threading mode"),
    ({"threading": {"x": True}}, "True"),
    ({"threading": [1]}, "[1]"),
])
def test_bad_application_pool_defaults(defaults, needle):
    with pytest.raises(offramp.ConfigurationError) as err:
        _config.load(None, defaults)
    assert "bootstrap(pool_defaults=...)" in str(err.value) and needle in str(err.value)


def test_bootstrap_applies_application_pool_defaults(run_python, mode):
    proc = run_python(
        """
        import offramp
        offramp.bootstrap(pool_defaults={"threading": {"cells": 3}, "eventlet": {"cells": 30}})
        print(offramp.get_executor("cells").state().max_workers)
        """,
        env={"OFFRAMP_CONCURRENCY": mode}, check=0)
    assert proc.stdout.strip() == {"threading": "3", "eventlet": "30"}[mode]
