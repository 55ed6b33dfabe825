"""Usages scan used to miss or describe wrongly (issue 13), each found
with its kind and a suggestion that fits it."""

import pytest

from offramp.migrate._analyze import analyze, analyze_whole
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


def test_a_spawn_nobody_reads_is_told_so_in_a_file_that_binds_nothing():
    # No assignment anywhere: the uses are still looked at, and there are none.
    (kind, _, suggestion, _), = at("import eventlet\n\n\ndef g():\n    eventlet.spawn(f)\n", 5)
    assert kind == "spawn" and "nobody reads the result" in suggestion


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


# nova/compute/manager.py: events kept in a dict of dicts, typed through an alias.
NOVA_INSTANCE_EVENTS = """\
import typing as ty

import eventlet.event

_InstanceEvents = ty.Dict[ty.Tuple[str, str], eventlet.event.Event]


class InstanceEvents(object):
    def __init__(self):
        self._events: ty.Optional[ty.Dict[str, _InstanceEvents]] = {}

    def prepare_for_instance_event(self, instance, name, tag):
        instance_events = self._events.setdefault(instance.uuid, {})
        return instance_events.setdefault((name, tag), eventlet.event.Event())

    def pop_instance_event(self, instance, event):
        events = self._events.get(instance.uuid)
        return events.pop((event.name, event.tag), None)

    def cancel_all_events(self):
        our_events = self._events
        self._events = None
        for instance_uuid, events in our_events.items():
            for (name, tag), eventlet_event in events.items():
                event = make_event(instance_uuid, name, tag)
                eventlet_event.send(event)
"""

NOVA_HELPERS = """\
def make_event(instance_uuid, name, tag):
    return (instance_uuid, name, tag)
"""


def test_events_in_a_dict_of_dicts_are_followed_to_their_send(tmp_path):
    (tmp_path / "compute").mkdir()
    (tmp_path / "compute" / "manager.py").write_text(NOVA_INSTANCE_EVENTS)
    (tmp_path / "compute" / "helpers.py").write_text(NOVA_HELPERS)
    usages = [u for u in scan(str(tmp_path)).usages if u.path.endswith("manager.py")]
    line = NOVA_INSTANCE_EVENTS.splitlines().index("                eventlet_event.send(event)")
    (send,) = [u for u in usages if u.line == line + 1]
    assert (send.kind, send.name) == ("event", "eventlet.event.Event().send")
    assert "Future.set_result" in send.suggestion and send.how == "object"


# nova/context.py's scatter_gather: (uuid, green thread) pairs in a list.
NOVA_GATHER = """\
import eventlet


def scatter_gather_cells(context, cell_mappings, fn):
    greenthreads = []
    results = {}
    for cell_mapping in cell_mappings:
        greenthreads.append((cell_mapping.uuid,
                             eventlet.spawn(fn, cell_mapping.uuid)))
    for cell_uuid, greenthread in greenthreads:
        if cell_uuid not in results:
            greenthread.kill()
        else:
            greenthread.wait()
    return results
"""


def test_green_threads_in_tuples_in_a_list_are_followed_to_kill_and_wait():
    (kind, _, suggestion, _), = at(NOVA_GATHER, 9)
    assert kind == "spawn" and ".kill()" in suggestion and "needs design" in suggestion
    (kind, name, suggestion, _), = at(NOVA_GATHER, 12)
    assert (kind, name) == ("kill", "eventlet.spawn().kill")
    assert "cannot be killed" in suggestion
    (kind, name, suggestion, _), = at(NOVA_GATHER, 14)
    assert (kind, name) == ("spawn", "eventlet.spawn().wait")
    assert ".result()" in suggestion


@pytest.mark.parametrize("code,reported", [
    ("for k in d:\n    k.send()\n", False),  # a mapping's iteration gives its keys
    ("for k, v in d.items():\n    k.send()\n", False),
    ("for k, v in d.items():\n    v.send()\n", True),
    ("for v in d.values():\n    v.send()\n", True),
    ("d.get('x').send()\n", True),
])
def test_what_a_mapping_gives_back_is_told_apart(code, reported):
    src = "import eventlet.event\nd = {}\nd['x'] = eventlet.event.Event()\n" + code
    sends = [f for f in found(src) if f[0] >= 4 and f[2] == "eventlet.event.Event().send"]
    assert bool(sends) is reported


def test_a_container_element_is_never_rewritten(tmp_path):
    from offramp.migrate.rewrite import rewrite_tree

    (tmp_path / "m.py").write_text(
        "import eventlet.event\n\nEVENTS = []\nEVENTS.append(eventlet.event.Event())\n\n\n"
        "def stop():\n    for e in EVENTS:\n        e.send()\n")
    result = rewrite_tree(str(tmp_path))
    assert not result.fixes
    assert any("stored in a container" in r.reason for _, r in result.refusals)


def test_green_threads_from_a_wrapper_in_another_file(tmp_path):
    pkg = tmp_path / "nova"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "utils.py").write_text(
        "import eventlet\n\nDEFAULT_GREEN_POOL = None\n\n\ndef _get_default_green_pool():\n"
        "    global DEFAULT_GREEN_POOL\n    if DEFAULT_GREEN_POOL is None:\n"
        "        DEFAULT_GREEN_POOL = eventlet.greenpool.GreenPool(10)\n"
        "    return DEFAULT_GREEN_POOL\n\n\ndef pass_context(runner, func, *args, **kwargs):\n"
        "    return runner(func, *args, **kwargs)\n\n\ndef spawn(func, *args, **kwargs):\n"
        "    return pass_context(_get_default_green_pool().spawn, func, *args, **kwargs)\n")
    (pkg / "context.py").write_text(NOVA_GATHER.replace("eventlet.spawn(", "utils.spawn(")
                                    .replace("import eventlet\n", "import eventlet\n\n"
                                             "from nova import utils\n"))
    usages = {(u.line, u.kind) for u in scan(str(tmp_path)).usages
              if u.path.endswith("context.py")}
    assert (14, "kill") in usages and (16, "spawn") in usages


def test_parts_of_a_file_keep_the_members_reading_a_container_of_events():
    # No line of cancel_all_events names eventlet once its variable is 'ev'.
    source = (NOVA_INSTANCE_EVENTS.replace("eventlet_event", "ev")
              + "\n\ndef unrelated():\n    pass\n").encode()
    parts = [(f.line, f.name) for f in analyze(source).findings]
    assert parts == [(f.line, f.name) for f in analyze_whole(source).findings]
    assert (26, "eventlet.event.Event().send") in parts
