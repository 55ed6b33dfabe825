"""Threading mode keeps eventlet out; eventlet mode patches first."""

import pytest


@pytest.mark.offramp_mode("threading")
def test_import_eventlet_is_refused_naming_the_importer():
    with pytest.raises(ImportError) as err:
        import eventlet.greenpool  # noqa: F401
    message = str(err.value)
    assert "threading mode" in message
    assert "test_guard" in message  # the importing module


@pytest.mark.offramp_mode("eventlet")
def test_stdlib_is_green_in_eventlet_mode():
    import eventlet.patcher

    assert eventlet.patcher.is_monkey_patched("thread")
    assert eventlet.patcher.is_monkey_patched("socket")


@pytest.mark.mode_independent
def test_done_when_import_after_threading_bootstrap_fails(run_python):
    proc = run_python(
        "import offramp; offramp.bootstrap(default='eventlet'); import eventlet",
        env={"OFFRAMP_CONCURRENCY": "threading"},
    )
    assert proc.returncode != 0
    assert "ImportError: import of 'eventlet' refused" in proc.stderr
    assert "threading mode" in proc.stderr
    assert "module '__main__'" in proc.stderr


@pytest.mark.mode_independent
def test_done_when_eventlet_env_makes_stdlib_green(run_python):
    proc = run_python(
        """
        import offramp; offramp.bootstrap(default='threading')
        import eventlet.patcher
        print(eventlet.patcher.is_monkey_patched('thread'))
        """,
        env={"OFFRAMP_CONCURRENCY": "eventlet"}, check=0,
    )
    assert proc.stdout.strip() == "True"


@pytest.mark.mode_independent
def test_futurist_oslo_service_and_oslo_messaging_work_without_eventlet(run_python):
    proc = run_python(
        """
        import sys, threading
        import offramp; offramp.bootstrap()
        import futurist, oslo_service.service, oslo_service.loopingcall
        import oslo_messaging
        from oslo_config import cfg

        # futurist
        with futurist.ThreadPoolExecutor(2) as ex:
            assert ex.submit(sum, [1, 2]).result() == 3
        # oslo.service: a looping call on the threading backend
        ticks = []
        def tick():
            ticks.append(1)
            if len(ticks) == 3:
                raise oslo_service.loopingcall.LoopingCallDone()
        oslo_service.loopingcall.FixedIntervalLoopingCall(tick).start(0.01).wait()
        # oslo.messaging: a real RPC round trip on the in-process transport
        conf = cfg.CONF; conf([])
        transport = oslo_messaging.get_rpc_transport(conf, url="fake:///")
        target = oslo_messaging.Target(topic="t", server="s")
        class Endpoint:
            def add(self, ctxt, a, b):
                return a + b
        # oslo.messaging picks its executor from the patching state:
        # threading here, since nothing is patched.
        server = oslo_messaging.get_rpc_server(transport, target, [Endpoint()])
        server.start()
        client = oslo_messaging.get_rpc_client(transport, oslo_messaging.Target(topic="t"))
        result = client.call({}, "add", a=2, b=3)
        server.stop(); server.wait()
        from oslo_service import backend
        print(len(ticks), result, backend.get_backend_type().value, server.executor_type,
              "eventlet" in sys.modules)
        """,
        env={"OFFRAMP_CONCURRENCY": "threading"}, check=0,
    )
    assert proc.stdout.split() == ["3", "5", "threading", "threading", "False"]


@pytest.mark.mode_independent
def test_eventlet_imported_before_bootstrap_is_named_and_poisoned(run_python):
    proc = run_python(
        """
        import futurist  # imports eventlet when it is installed
        import eventlet
        held = eventlet.monkey_patch
        import offramp
        try:
            offramp.bootstrap()
        except offramp.ModeError as exc:
            print("ERROR", exc)
        try:
            held()
        except RuntimeError as exc:
            print("POISONED", exc)
        """,
        env={"OFFRAMP_CONCURRENCY": "threading"}, check=0,
    )
    assert "eventlet is already imported" in proc.stdout
    assert "futurist._utils" in proc.stdout
    assert "POISONED eventlet.monkey_patch() is poisoned" in proc.stdout


@pytest.mark.mode_independent
def test_oslo_messaging_imported_first_explains_the_ordering_rule(run_python):
    proc = run_python(
        """
        import oslo_service.service
        import offramp; offramp.bootstrap()
        """,
        env={"OFFRAMP_CONCURRENCY": "threading"},
    )
    assert proc.returncode != 0
    assert "oslo.service has already selected its eventlet backend" in proc.stderr
    assert "before importing oslo.service, oslo.messaging" in proc.stderr


@pytest.mark.mode_independent
def test_threading_backend_chosen_first_blocks_eventlet_mode(run_python):
    proc = run_python(
        """
        from oslo_service import backend
        backend.init_backend(backend.BackendType.THREADING)
        import offramp; offramp.bootstrap()
        """,
        env={"OFFRAMP_CONCURRENCY": "eventlet"},
    )
    assert proc.returncode != 0
    assert "already selected its threading backend" in proc.stderr


@pytest.mark.mode_independent
def test_eventlet_mode_names_modules_imported_before_patching(run_python):
    proc = run_python(
        """
        import logging; logging.basicConfig()
        import kombu
        import offramp; offramp.bootstrap()
        """,
        env={"OFFRAMP_CONCURRENCY": "eventlet"}, check=0,
    )
    assert "Module kombu was imported before eventlet.monkey_patch()" in proc.stderr


@pytest.mark.mode_independent
def test_threading_mode_saves_the_eventlet_import(run_python):
    code = """
        import psutil, sys
        import offramp; offramp.bootstrap()
        import futurist, oslo_messaging
        print(psutil.Process().memory_info().rss)
        """
    threading_rss = int(run_python(code, env={"OFFRAMP_CONCURRENCY": "threading"}, check=0).stdout)
    eventlet_rss = int(run_python(code, env={"OFFRAMP_CONCURRENCY": "eventlet"}, check=0).stdout)
    # Not a performance goal, a property: without eventlet the process is
    # smaller. The size of the saving is reported by the benchmarks.
    assert threading_rss < eventlet_rss
