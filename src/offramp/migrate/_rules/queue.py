"""``eventlet.queue``: green queues with stdlib twins, except for sizes.

In eventlet ``Queue(0)`` is a channel (``put()`` waits for a getter) and
``Queue(None)`` is unbounded; in the stdlib ``Queue(0)`` is unbounded and
``Queue(None)`` a TypeError, and ``SimpleQueue`` takes no size at all.  A
size is kept only when it is a positive literal.
"""

from offramp.migrate._registry import STDLIB, Edit, Fix, Method, Rule, register

_SAME = ("get", "put", "get_nowait", "put_nowait", "empty", "qsize", "full", "task_done", "join")
_SIMPLE = frozenset({"get", "put", "get_nowait", "put_nowait", "empty", "qsize"})
_LIGHT = ("eventlet.queue.LightQueue",)


@register
class Queue(Rule):
    kind = "queue"
    code = "OFR106"
    category = STDLIB
    suggestion = "queue.Queue / queue.SimpleQueue (LightQueue); a size only if it is > 0"
    message = "{name} is a green queue; use queue.Queue or queue.SimpleQueue"
    names = ("eventlet.Queue", "eventlet.queue")
    constructors = {name: None for name in (
        "eventlet.Queue", "eventlet.queue.Queue", "eventlet.queue.LightQueue",
        "eventlet.queue.LifoQueue", "eventlet.queue.PriorityQueue")}
    methods = {name: Method(name) for name in _SAME}
    harmless = frozenset({"is"})
    blocked = {
        "getting": ".getting() has no queue.Queue equivalent",
        "putting": ".putting() has no queue.Queue equivalent",
        "resize": ".resize() has no queue.Queue equivalent",
        "maxsize": ".maxsize is None for an unbounded eventlet queue, 0 for a stdlib one",
    }
    renames = {"eventlet.queue.Empty": "queue.Empty", "eventlet.queue.Full": "queue.Full"}

    def ctor_edit(self, qualname, call, uses):
        if call.star or set(call.keywords) - {"maxsize"}:
            return "called with arguments other than maxsize"
        size = call.literals[0] if call.nargs else \
            call.kwliterals[0] if call.keywords else ("lit", None)
        if size[0] != "lit" or not (size[1] is None or type(size[1]) is int):
            return ("the size is not a literal: eventlet's Queue(0) is a channel and Queue(None) "
                    "unbounded, and queue.Queue has neither")
        if size[1] == 0:
            return ("Queue(0) is a channel in eventlet (put() waits for a getter); "
                    "queue.Queue(0) is unbounded")
        bounded = size[1] is not None and size[1] > 0
        cls = qualname.rsplit(".", 1)[-1]
        if cls in ("LightQueue", "Queue"):
            simple = qualname in _LIGHT and not bounded and all(
                u[0] != "method" or u[1] in _SIMPLE for u in uses)
            cls = "SimpleQueue" if simple else "Queue"
        return f"queue.{cls}", ("queue",), bounded

    def fix_ref(self, ref, file):
        new = self.renames.get(ref.qualname)
        if new is None or ref.shape[0] in ("store", "del", "setattr"):
            return None
        # The same classes: eventlet.queue re-exports the stdlib's.
        return Fix(f"{ref.qualname} -> {new}", (Edit(file, ref.span, ("replace", new)),),
                   ((file, "queue", ref.scope),))
