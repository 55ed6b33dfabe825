"""set_rpc_defaults: oslo.messaging's executor sized for the mode."""

from oslo_config import cfg

import offramp
from offramp import _config


def fresh_conf():
    conf = cfg.ConfigOpts()
    conf(args=[], default_config_files=[])
    return conf


def test_default_follows_the_mode(mode, monkeypatch):
    monkeypatch.delenv("OS_DEFAULT__EXECUTOR_THREAD_POOL_SIZE", raising=False)
    conf = fresh_conf()
    size = offramp.set_rpc_defaults(conf)
    expected = {"threading": _config.DEFAULT_RPC_EXECUTOR_THREADS["threading"],
                "eventlet": 64}[mode]  # oslo.messaging's own default
    assert size == conf.executor_thread_pool_size == expected


def test_operator_settings_still_win(monkeypatch, tmp_path):
    monkeypatch.setenv("OS_DEFAULT__EXECUTOR_THREAD_POOL_SIZE", "3")
    conf = fresh_conf()
    offramp.set_rpc_defaults(conf)
    assert conf.executor_thread_pool_size == 3
    monkeypatch.delenv("OS_DEFAULT__EXECUTOR_THREAD_POOL_SIZE")
    ini = tmp_path / "svc.conf"
    ini.write_text("[DEFAULT]\nexecutor_thread_pool_size = 5\n")
    conf = cfg.ConfigOpts()
    conf(args=[], default_config_files=[str(ini)])
    offramp.set_rpc_defaults(conf)
    assert conf.executor_thread_pool_size == 5


def test_an_rpc_server_starts_with_that_many_threads(mode, monkeypatch):
    import oslo_messaging

    monkeypatch.delenv("OS_DEFAULT__EXECUTOR_THREAD_POOL_SIZE", raising=False)
    conf = fresh_conf()
    size = offramp.set_rpc_defaults(conf)
    transport = oslo_messaging.get_rpc_transport(conf, url="fake://")
    server = oslo_messaging.get_rpc_server(
        transport, oslo_messaging.Target(topic="t", server="s"), [],
        executor="threading" if mode == "threading" else "eventlet")
    try:
        server.start()
        assert server._work_executor._max_workers == size
    finally:
        server.stop()
        server.wait()
        transport.cleanup()


def test_needs_bootstrap_like_everything_else(run_python):
    proc = run_python("""
        import offramp
        from oslo_config import cfg
        offramp.set_rpc_defaults(cfg.ConfigOpts())
        """)
    assert "offramp.set_rpc_defaults() needs the concurrency mode" in proc.stderr
