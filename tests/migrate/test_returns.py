"""Objects returned by a project's own functions (``_returns``): proven
per file, followed into the files that call them."""

import pytest

from offramp.migrate._analyze import analyze, analyze_whole
from offramp.migrate._cache import Cache, blob_id, entry_key
from offramp.migrate.lint import lint
from offramp.migrate.scan import scan

from .fragment_check import summary
from .test_recall import NOVA_GATHER

# nova/utils.py (31.0.0), cut down: the pool is made in one function and
# its bound spawn is handed to a runner in another.
NOVA_UTILS = """\
import eventlet

DEFAULT_GREEN_POOL = None


def _get_default_green_pool():
    global DEFAULT_GREEN_POOL
    if DEFAULT_GREEN_POOL is None:
        DEFAULT_GREEN_POOL = eventlet.greenpool.GreenPool(10)
    return DEFAULT_GREEN_POOL


def is_none_string(val):
    return val == 'None'


def pass_context(runner, func, *args, **kwargs):
    return runner(func, *args, **kwargs)


def spawn(func, *args, **kwargs):
    return pass_context(_get_default_green_pool().spawn, func, *args, **kwargs)


def spawn_n(func, *args, **kwargs):
    pass_context(_get_default_green_pool().spawn_n, func, *args, **kwargs)


def tpool_execute(func, *args, **kwargs):
    return pass_context(eventlet.tpool.execute, func, *args, **kwargs)
"""

NOVA_CONTEXT = NOVA_GATHER.replace("eventlet.spawn(", "utils.spawn(").replace(
    "import eventlet\n", "import eventlet\n\nfrom nova import utils\n")
WRAPPERS = (("nova.utils.spawn", "eventlet.greenthread.spawn"),)


def nova(tmp_path, context=NOVA_CONTEXT):
    pkg = tmp_path / "nova"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "utils.py").write_text(NOVA_UTILS)
    (pkg / "context.py").write_text(context)
    return pkg


def returns(source: str) -> dict:
    return analyze(source.encode()).returns


def test_nova_utils_spawn_returns_what_its_pool_spawns():
    # The pool getter serves the proof but is not followed: calling it
    # makes no pool, so its calls are not creations.
    assert returns(NOVA_UTILS) == {"spawn": "eventlet.greenthread.spawn"}


def test_green_threads_of_nova_utils_spawn_are_followed_into_context(tmp_path):
    nova(tmp_path)
    usages = {u.line: u for u in scan(str(tmp_path)).usages if u.path.endswith("context.py")}
    call, kill, wait = usages[11], usages[14], usages[16]
    assert (call.kind, call.name) == ("spawn", "nova.utils.spawn")
    assert ".kill()" in call.suggestion and "needs design" in call.suggestion
    assert (kill.kind, kill.name, kill.how) == ("kill", "nova.utils.spawn().kill", "object")
    assert "cannot be killed" in kill.suggestion
    assert (wait.kind, wait.name) == ("spawn", "nova.utils.spawn().wait")
    assert ".result()" in wait.suggestion


def test_a_from_import_of_the_wrapper_is_followed_too(tmp_path):
    nova(tmp_path, NOVA_GATHER.replace("import eventlet\n",
                                       "import eventlet\n\nfrom nova.utils import spawn\n")
         .replace("eventlet.spawn(", "spawn("))
    usages = {(u.line, u.kind, u.name) for u in scan(str(tmp_path)).usages
              if u.path.endswith("context.py")}
    assert {(11, "spawn", "nova.utils.spawn"), (14, "kill", "nova.utils.spawn().kill")} <= usages


def test_lint_judges_each_file_alone_as_its_flake8_plugin_does(tmp_path):
    # pre-commit and flake8 see one file at a time, so lint does not join
    # files: a wrapper from another file is scan's to follow.
    nova(tmp_path)
    found = [(f.line, f.code) for f in lint(str(tmp_path)) if f.path.endswith("context.py")]
    assert not [line for line, _ in found if line in (11, 14, 16)], found


def test_a_wrapper_in_the_same_file():
    src = NOVA_UTILS + "\n\ndef stop(f):\n    gt = spawn(f)\n    gt.kill()\n"
    found = {(f.line, f.rule.kind, f.name) for f in analyze(src.encode()).findings}
    assert (34, "spawn", "spawn") in found and (35, "kill", "spawn().kill") in found
    # A call of the pool getter is no pool creation.
    assert not [f for f in found if f[2].startswith("_get_default_green_pool")]


def test_a_wrapper_of_a_constructor_and_of_a_local():
    src = ("import eventlet\n\n\ndef event():\n    return eventlet.event.Event()\n\n\n"
           "def started(f):\n    gt = eventlet.spawn(f)\n    return gt\n\n\n"
           "def again(f):\n    return started(f)\n")
    assert returns(src) == {"event": "eventlet.event.Event", "started": "eventlet.spawn",
                            "again": "eventlet.spawn"}


@pytest.mark.parametrize("body", [
    # Something else on one path.
    "def spawn(f):\n    if f:\n        return eventlet.spawn(f)\n    return None\n",
    "def spawn(f):\n    if f:\n        return eventlet.spawn(f)\n    log(f)\n    return f\n",
    # Falls off its end on one path.
    "def spawn(f):\n    if f:\n        return eventlet.spawn(f)\n    log(f)\n",
    # The pool's bound spawn handed to a function nobody can see.
    "def spawn(f):\n    return run_somehow(POOL.spawn, f)\n",
    # A runner that may return something else.
    "def run(r, f):\n    if f:\n        return r(f)\n    return f\n\n\n"
    "def spawn(f):\n    return run(POOL.spawn, f)\n",
    # The runner's argument is not the pool's spawn.
    "def run(r, f):\n    return r(f)\n\n\ndef spawn(f):\n    return run(f, POOL.spawn)\n",
    # The place it returns is also given another value.
    "def reset():\n    global POOL\n    POOL = object()\n    return 1\n\n\n"
    "def pool():\n    return POOL\n",
    # A parameter may be anything.
    "def spawn(f, gt=None):\n    if gt is None:\n        gt = eventlet.spawn(f)\n    return gt\n",
    # Decorated, a generator, async, or bound twice.
    "@decorate\ndef spawn(f):\n    return eventlet.spawn(f)\n",
    "def spawn(f):\n    yield 1\n    return eventlet.spawn(f)\n",
    "async def spawn(f):\n    return eventlet.spawn(f)\n",
    "def spawn(f):\n    return eventlet.spawn(f)\n\n\nspawn = wrap(spawn)\n",
    # A method: not a top-level function.
    "class Pool:\n    def spawn(self, f):\n        return eventlet.spawn(f)\n",
])
def test_what_is_not_provable_gives_no_summary(body):
    src = "import eventlet\n\nPOOL = eventlet.GreenPool()\n\n\n" + body
    assert "spawn" not in returns(src) and "pool" not in returns(src)


def test_a_reanalysed_file_has_its_own_cache_entry(tmp_path):
    pkg = nova(tmp_path / "tree")
    cache = Cache(str(tmp_path / "cache"), fingerprint="test")
    first = scan(str(tmp_path / "tree"), cache=cache).usages
    assert any(u.name == "nova.utils.spawn().kill" for u in first)
    blob = blob_id((pkg / "context.py").read_bytes())
    followed = entry_key("nova.context", WRAPPERS)
    assert cache._path(blob, "") != cache._path(blob, followed)
    assert not any("nova.utils" in f.name for f in cache.get(blob, "").findings)
    assert {f.name for f in cache.get(blob, followed).findings} == {
        "nova.utils.spawn", "nova.utils.spawn().kill", "nova.utils.spawn().wait"}
    # Another wrapper map is another entry; a second run reads both.
    other = entry_key("nova.context", (("nova.utils.spawn", "eventlet.spawn"),))
    assert cache._path(blob, other) != cache._path(blob, followed)
    again = Cache(str(tmp_path / "cache"), fingerprint="test")
    assert scan(str(tmp_path / "tree"), cache=again).usages == first
    assert again.misses == 0 and again.hits == 3  # utils, context, context followed


def test_rewrite_does_not_follow_wrappers(tmp_path):
    from offramp.migrate.rewrite import rewrite_tree

    nova(tmp_path)
    result = rewrite_tree(str(tmp_path))
    assert not [fix for path, fix in result.fixes if path.endswith("context.py")]


FILLER = "".join(f"\n\ndef unrelated_{i}(x):\n    return x + {i}\n" for i in range(5))


@pytest.mark.parametrize("source,module,wrappers", [
    # The parts that call the wrapper, and those reading where its result goes.
    (NOVA_CONTEXT.replace("\n\ndef scatter", FILLER + "\n\ndef scatter") + FILLER
     + "\n\nclass Server:\n    def start(self):\n        self._gt = utils.spawn(f)\n"
     + FILLER.replace("\ndef ", "\n    def ").replace("\n    return", "\n        return")
     + "\n    def stop(self):\n        self._gt.kill()\n", "nova.context", WRAPPERS),
    # The functions a summary needs, though they do not name eventlet.
    (NOVA_UTILS.replace("\n\ndef pass_context", FILLER + "\n\ndef pass_context")
     .replace("\n\ndef spawn(", FILLER + "\n\ndef spawn(") + FILLER
     + "\n\ndef stop(f):\n    gt = spawn(f)\n    gt.kill()\n", "", ()),
])
def test_parts_agree_with_the_whole_file(source, module, wrappers):
    parts, whole = analyze(source.encode(), module, wrappers), \
        analyze_whole(source.encode(), module, wrappers)
    assert summary(parts) == summary(whole) and parts.returns == whole.returns
    assert any("kill" in f.name for f in whole.findings)


@pytest.mark.parametrize("body,name", [
    ("def spawn(f):\n    return run(POOL.spawn, f)\n\n\ndef run(r, f):\n    return r(f)\n",
     "spawn"),
    ("def spawn(f):\n    gt = eventlet.spawn(f)\n    return gt\n", "spawn"),
])
def test_the_same_shapes_when_provable(body, name):
    src = "import eventlet\n\nPOOL = eventlet.GreenPool()\n\n\n" + body
    assert name in returns(src)


def test_a_getter_of_a_kept_pool_is_not_a_maker():
    # Its calls make no pool; a local made in the call is new each time.
    pool = "import eventlet\n\nPOOL = eventlet.GreenPool()\n\n\n"
    assert returns(pool + "def pool():\n    return POOL\n") == {}
    assert returns(pool + "def pool():\n    p = POOL\n    return p\n") == {}
    assert returns(pool + "def pool():\n    p = eventlet.GreenPool()\n    return p\n") == \
        {"pool": "eventlet.GreenPool"}
