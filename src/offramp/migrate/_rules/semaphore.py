"""``eventlet.semaphore``: the ``threading`` semaphores, minus a few extras.

``balance``, ``counter``, ``locked()`` and ``bounded()`` exist only on
eventlet's; an object using them anywhere in the run stays as it is.
"""

from offramp.migrate._registry import STDLIB, Ctor, Method, Rule, register

_PLAIN = Ctor("threading.Semaphore", ("threading",))
_BOUNDED = Ctor("threading.BoundedSemaphore", ("threading",))


@register
class Semaphore(Rule):
    kind = "semaphore"
    code = "OFR105"
    category = STDLIB
    suggestion = "threading.Semaphore / threading.BoundedSemaphore"
    message = "{name} is green-only; use threading.Semaphore/BoundedSemaphore"
    names = ("eventlet.Semaphore", "eventlet.BoundedSemaphore", "eventlet.CappedSemaphore",
             "eventlet.semaphore")
    constructors = {
        "eventlet.semaphore.Semaphore": _PLAIN, "eventlet.Semaphore": _PLAIN,
        "eventlet.semaphore.BoundedSemaphore": _BOUNDED, "eventlet.BoundedSemaphore": _BOUNDED,
    }
    methods = {
        "acquire": Method("acquire"),
        "release": Method("release", no_args=True,
                          why="release(blocking) means something else on threading.Semaphore"),
        "__enter__": Method("__enter__"),
        "__exit__": Method("__exit__"),
    }
    harmless = frozenset({"is", "with", "test"})
    blocked = {
        "balance": ".balance has no threading.Semaphore equivalent",
        "counter": ".counter has no threading.Semaphore equivalent",
        "locked": ".locked() has no threading.Semaphore equivalent",
        "bounded": ".bounded() has no threading.Semaphore equivalent",
    }
