"""Usages scan used to miss or describe wrongly (issue 13), each found
with its kind and a suggestion that fits it."""

import pytest

from offramp.migrate._analyze import analyze
from offramp.migrate.lint import lint_analysis
from offramp.migrate.scan import scan


def found(source: str) -> list[tuple]:
    """``(line, kind, name, suggestion, message)`` of every finding."""
    return [(f.line, f.rule.kind, f.name, f.rule.suggestion, f.message)
            for f in analyze(source.encode()).findings]


def at(source: str, line: int) -> list[tuple]:
    return [(kind, name, suggestion, message)
            for ln, kind, name, suggestion, message in found(source) if ln == line]


def test_alias_call_is_reported_at_the_call():
    src = "import eventlet\nsl = eventlet.sleep\n\n\ndef f():\n    sl(1)\n"
    (kind, name, suggestion, _), = at(src, 6)
    assert (kind, name) == ("sleep", "eventlet.sleep")
    assert "time.sleep" in suggestion


def test_dunder_import_of_eventlet():
    src = "ev = __import__('eventlet')\nev.spawn_n(f)\n__import__('eventlet.green.os')\n"
    assert at(src, 1)[0][:2] == ("other", "eventlet")
    assert at(src, 2)[0][:2] == ("spawn", "eventlet.spawn_n")
    assert at(src, 3)[0][:2] == ("green_modules", "eventlet.green.os")


NOVA_MANAGER = """\
import eventlet


class ComputeManager:
    def __init__(self):
        self._sync_power_pool = eventlet.GreenPool(size=3)

    def _sync_power_states(self, contexts):
        for ctx in contexts:
            utils.pass_context(self._sync_power_pool.spawn_n, _sync, ctx)
        self._sync_power_pool.spawn_n(_sync)

    def fan_out(self, items):
        pool = eventlet.GreenPool()
        return list(pool.imap(work, items))
"""


def test_pool_methods_through_self_attributes_and_locals():
    assert at(NOVA_MANAGER, 10)[0][:2] == ("greenpool", "eventlet.GreenPool().spawn_n")
    (kind, name, suggestion, _), = at(NOVA_MANAGER, 11)
    assert (kind, name) == ("greenpool", "eventlet.GreenPool().spawn_n")
    assert "submit" in suggestion and "exception" in suggestion
    (kind, name, suggestion, _), = at(NOVA_MANAGER, 15)
    assert (kind, name) == ("greenpool", "eventlet.GreenPool().imap")
    assert "executor.map" in suggestion


EVENTS = """\
import eventlet.event

e = eventlet.event.Event()
e.send(42)


def cancel_all(instance_events):
    done = eventlet.event.Event()
    done.send()
    return done.wait()
"""


def test_event_send_with_and_without_a_value():
    (kind, name, suggestion, _), = at(EVENTS, 4)
    assert (kind, name) == ("event", "eventlet.event.Event().send")
    assert "Future.set_result" in suggestion
    assert at(EVENTS, 9)[0][2] == "threading.Event.set()"
    assert "Future.result()" in at(EVENTS, 10)[0][2]


GREENTHREADS = """\
import eventlet


def gather(fn):
    gt = eventlet.spawn(fn)
    if cancelled:
        gt.kill()
    else:
        gt.wait()


def waited(fn):
    t = eventlet.spawn(fn)
    return t.wait()
"""


def test_greenthread_kill_and_wait():
    (kind, _, suggestion, _), = at(GREENTHREADS, 5)
    assert kind == "spawn" and "needs design" in suggestion and ".kill()" in suggestion
    (kind, name, suggestion, _), = at(GREENTHREADS, 7)
    assert (kind, name) == ("kill", "eventlet.spawn().kill")
    assert "cannot be killed" in suggestion
    (kind, name, suggestion, _), = at(GREENTHREADS, 9)
    assert (kind, name) == ("spawn", "eventlet.spawn().wait")
    assert ".result()" in suggestion


def test_spawn_that_is_waited_for_does_not_suggest_a_bare_offramp_spawn():
    (kind, _, suggestion, _), = at(GREENTHREADS, 13)
    assert kind == "spawn"
    assert suggestion == "offramp.spawn(...), with .result() where it is .wait()ed"


STRINGS = """\
import os
from unittest import mock


def get_server(target):
    return messaging.get_rpc_server(TRANSPORT, target, executor='eventlet')


os.environ['EVENTLET_NO_GREENDNS'] = 'yes'


def app(environ, start_response):
    environ['eventlet.posthooks'].append(hook)


@mock.patch('glance.common.wsgi.eventlet.listen')
def test_listen(mock_listen):
    pass
"""


@pytest.mark.parametrize("line,kind,name,advice", [
    (6, "eventlet_config", "eventlet", "executor='threading'"),
    (9, "eventlet_config", "EVENTLET_NO_GREENDNS", "green DNS"),
    (13, "wsgi", "eventlet.posthooks", "middleware"),
    (16, "wsgi", "glance.common.wsgi.eventlet.listen", "threaded WSGI server"),
])
def test_strings_and_configuration(line, kind, name, advice):
    (k, n, suggestion, _), = at(STRINGS, line)
    assert (k, n) == (kind, name)
    assert advice in suggestion


def test_prose_mentioning_eventlet_is_not_a_finding():
    src = ('"""Works under eventlet."""\nLOG.info("eventlet is %s", x)\n'
           'msg = f"no eventlet {x}"\n')
    assert found(src) == []


def test_greenlet_import_and_exception():
    src = "import greenlet\n\ntry:\n    pass\nexcept greenlet.GreenletExit:\n    pass\n"
    assert at(src, 1)[0][:2] == ("greenlet", "greenlet")
    assert at(src, 5)[0][:2] == ("greenlet", "greenlet.GreenletExit")


def test_nova_n375_mock_of_threading_event_wait_is_linted():
    src = ("from unittest import mock\nimport threading\n\n\n"
           "@mock.patch('threading.Event.wait', new=mock.Mock())\ndef test_a():\n    pass\n\n\n"
           "@mock.patch.object(threading.Event, 'wait')\ndef test_b(m):\n    pass\n\n\n"
           "@mock.patch('threading.Event')\ndef test_c(m):\n    pass\n\n\n"
           "@mock.patch('threading.Eventful.wait')\ndef test_d(m):\n    pass\n")
    lint = [(line, code, message) for line, _, code, message in
            lint_analysis(analyze(src.encode()), True)]
    assert [(line, code) for line, code, _ in lint] == [(5, "OFR202"), (10, "OFR202"),
                                                        (15, "OFR202")]
    assert "threading.Event.wait" in lint[0][2] and "threading.Event.wait" in lint[1][2]
    assert "threading.Event.wait" not in lint[2][2]


def test_greenpipe_is_not_sent_to_a_stdlib_greenio():
    src = "from eventlet import greenio\n\np = greenio.GreenPipe(fd, 'rb')\n"
    (kind, _, suggestion, message), = at(src, 3)
    assert kind == "greenio"
    assert "os.pipe()" in suggestion and "stdlib module" not in suggestion + message


def test_except_timeout_gets_a_message_about_catching():
    src = ("import eventlet.timeout\n\ntry:\n    with eventlet.timeout.Timeout(5):\n        f()\n"
           "except (IOError, eventlet.timeout.Timeout):\n    pass\n")
    (_, _, _, started), = at(src, 4)
    (_, _, suggestion, caught), = at(src, 6)
    assert "cannot interrupt a native thread" in started
    assert "cannot interrupt" not in caught and caught.startswith("except ")
    assert "catch" in suggestion


def test_scan_reports_the_refined_suggestion(tmp_path):
    (tmp_path / "context.py").write_text(GREENTHREADS)
    usages = {(u.line, u.kind): u.suggestion for u in scan(str(tmp_path)).usages}
    assert usages[(7, "kill")].startswith("needs design")
    assert ".result()" in usages[(9, "spawn")]


def test_timeout_messages_fit_how_it_is_used():
    src = ("import eventlet\n\n\ndef test(self, m):\n"
           "    m.side_effect = eventlet.timeout.Timeout()\n"
           "    self.assertRaises(eventlet.timeout.Timeout, f)\n"
           "    raise eventlet.timeout.Timeout()\n")
    assert "stands for eventlet's timeout" in at(src, 5)[0][3]
    assert "stands for eventlet's timeout" in at(src, 6)[0][3]
    assert at(src, 7)[0][3].startswith("raise ")
