"""``GreenPool``/``GreenPile``: bounded fan-out of green threads.

offramp executors are shared, named and sized by configuration
(``offramp.get_executor(name="default")``): a pool's own size cannot be
kept, the pool cannot be waited for or resized, and work whose Future
nobody reads loses its exception (eventlet prints it).  So only a pool
built without a size whose every use is ``spawn(...).wait()`` is
rewritten; every other use is reported with the reason.
"""

from offramp.migrate._registry import EXECUTOR, Ctor, Rule, register

_LOST = "exceptions of that work would be lost in Futures nobody reads (eventlet prints them)"


@register
class GreenPool(Rule):
    kind = "greenpool"
    code = "OFR103"
    category = EXECUTOR
    suggestion = "offramp.get_executor(...)"
    message = "{name} runs green threads; use an offramp executor (offramp.get_executor())"
    names = ("eventlet.GreenPool", "eventlet.GreenPile", "eventlet.greenpool")
    constructors = {name: Ctor("offramp.get_executor", ("offramp",), keep_args=False)
                    for name in ("eventlet.GreenPool", "eventlet.greenpool.GreenPool")}
    harmless = frozenset({"is"})
    makes = {"spawn": "eventlet.greenthread.spawn"}
    blocked = {
        "spawn_n": f"spawn_n on a pool: {_LOST}",
        "spawn": f"spawn on a pool returns a GreenThread: {_LOST} unless it is waited for",
        "waitall": "waitall() waits for the whole pool; a shared executor cannot be waited for",
        "imap": "imap() is lazy and bounded by the pool; Executor.map submits everything at once",
        "starmap": "starmap() is lazy and bounded by the pool; Executor.map submits everything",
        "resize": "a shared executor cannot be resized by one user",
        "running": "running() counts this pool's green threads; a shared executor has others",
        "free": "free() counts this pool's slots; a shared executor has others",
        "waiting": "waiting() counts this pool's queue; a shared executor has others",
        "size": "the pool's size has no shared-executor equivalent",
    }

    use_advice = {
        "spawn": "executor.submit(...), reading the Future (.result())",
        "spawn_n": "executor.submit(...), logging the Future's exception (eventlet printed it)",
        "imap": "executor.map(...), which submits everything at once (chunk it to bound it)",
        "starmap": "executor.map(fn, *zip(*args)), which submits everything at once",
        "waitall": "concurrent.futures.wait() on the Futures submitted",
        "resize": "needs design: shared executors are sized by configuration",
        "running": "needs design: a shared executor runs others' work too",
        "free": "needs design: a shared executor runs others' work too",
        "waiting": "needs design: a shared executor queues others' work too",
        "size": "needs design: shared executors are sized by configuration",
    }

    def ctor_edit(self, qualname, call, uses):
        if call.nargs or call.keywords:
            return ("the pool size would be lost: offramp executors are shared and sized by "
                    "configuration ([offramp] <mode>_pool_sizes)")
        return super().ctor_edit(qualname, call, uses)

    def use_edit(self, shape):
        if shape[0] == "method" and shape[1] == "spawn":
            result = shape[2].result
            if result[0] == "method" and result[1] == "wait":
                return ("rename", "submit"), ("rename-result", "result")
        return super().use_edit(shape)
