"""Analysing only the parts of a file that matter gives the whole file's findings."""

import pytest

from offramp.migrate._analyze import _needles, _with_bound_names, analyze, analyze_whole
from offramp.migrate._facts import tree_facts
from offramp.migrate._fragments import _ANY_CASE, parse_parts
from offramp.migrate._registry import call_rules

from .fragment_check import compare, summary

FILLER = "".join(f"\n\ndef unrelated_{i}(x):\n    return x + {i}\n" for i in range(5))

CASES = {
    # Names bound in one part, used in others: an import, an alias, a global object.
    "names": "import time\nfrom eventlet import greenthread as gt\nimport eventlet\n"
             "sl = eventlet.sleep\nPOOL = eventlet.GreenPool()\n"
             + FILLER +
             "\n\ndef a():\n    gt.sleep(1)\n    sl(2)\n\n\ndef b():\n    POOL.spawn_n(f)\n"
             "    p = POOL\n    p.imap(f, [])\n\n\ndef c():\n    time.sleep(0)\n",
    # A self attribute set in __init__ and used by other methods and classes.
    "members": "import eventlet\n\n\n@decorate\nclass Manager(Base):\n"
               "    \"\"\"Doc.\"\"\"\n\n"
               "    size = 3\n\n    def __init__(self):\n"
               "        self._pool = eventlet.GreenPool()\n"
               + FILLER.replace("\ndef ", "\n    def ")
               .replace("\n    return", "\n        return")
               + "\n    @property\n    def busy(self):\n        return self._pool.running()\n\n"
               "    def go(self):\n        self._pool.spawn_n(f)\n\n\nclass Other:\n"
               "    def run(self, m):\n        m._pool.waitall()\n",
    # A module rebound where nothing names eventlet changes what calls mean:
    # time.sleep(0) is datetime.time.sleep(0) here (after a part that would
    # be left out otherwise).
    "rebound": "import datetime\nimport time\n\nimport eventlet\n\n\ndef f():\n"
               "    time.sleep(0)\n    eventlet.sleep(1)\n" + FILLER + "\n\ntime = datetime.time\n",
    # The same for a mock target.
    "rebound_mock": "from unittest import mock\n\nimport eventlet\nimport fixtures\n\n\n"
                    "@mock.patch('threading.Event.wait')\ndef test(m):\n    eventlet.sleep(1)\n"
                    + FILLER + "\n\nmock = fixtures.MockPatch\n",
    # Every head a unit can start with, members too: async, tabs, stacked decorators.
    "heads": "import eventlet\n" + FILLER + "\n\nasync def a():\n    eventlet.sleep(1)\n"
             "\n\ndef\tb():\n    pass\n\n\nclass\tC:\n    x = 1\n\n    @one\n    @two\n"
             "    def m(self):\n        eventlet.spawn(f)\n\n    async def n(self):\n"
             "        pass\n\n    class Inner:\n        pass\n",
    # def lines inside a string: the cut cannot be trusted, the whole file is parsed.
    "code_in_string": "import eventlet\n\nSCRIPT = '''\ndef inner():\n    pass\n\n\n"
                      "class Fake:\n    def run(self):\n        return 1\n'''\n" + FILLER +
                      "\n\ndef f():\n    eventlet.sleep(1)\n",
    # A syntax error in a part with findings: the whole file decides (text fallback).
    "broken": "import eventlet\n" + FILLER + "\n\ndef f(:\n    eventlet.sleep(1)\n",
    # Strings and local objects inside one function among many.
    "strings": "import os\n" + FILLER + "\n\ndef serve(environ):\n"
               "    environ['eventlet.posthooks'].append(h)\n"
               "    os.environ['EVENTLET_NO_GREENDNS'] = '1'\n"
               "    return get_rpc_server(t, executor='eventlet')\n",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_parts_agree_with_the_whole_file(name):
    source = CASES[name].encode()
    assert summary(analyze(source)) == summary(analyze_whole(source))
    assert analyze_whole(source).findings or name == "code_in_string"


def test_call_rules_needles_are_matched_as_written():
    """Rebound modules are looked for only where a needle matched as
    written was found: that holds while no call rule's needle is one
    matched in any case."""
    for rule in call_rules():
        assert rule.needles, rule.kind
        assert not set(rule.needles) & set(_ANY_CASE), rule.kind


def parts_of(source: bytes):
    return parse_parts(source, _needles(), lambda tree: _with_bound_names(tree_facts(tree)))


@pytest.mark.parametrize("name", ["names", "members", "strings", "heads"])
def test_parts_leave_out_what_does_not_matter(name):
    parts = parts_of(CASES[name].encode())
    assert parts is not None
    fragment = parts[1].fragment.decode()
    assert "unrelated_" not in fragment
    assert fragment.count("\n") == CASES[name].count("\n")  # lines keep their numbers


def test_an_untrusted_cut_falls_back_to_the_whole_file():
    assert parts_of(CASES["code_in_string"].encode()) is None
    assert parts_of(CASES["broken"].encode()) is None


def test_compare_on_a_tree(tmp_path):
    """The script run on real trees (nova, cinder), here on a small one."""
    files = [(f"{name}.py", CASES[name].encode()) for name in sorted(CASES)]
    differ, _, _, count = compare(files)
    assert differ == [] and count > 10
