"""``greenthread.kill``: raises inside another green thread; native
threads have no equivalent, so cancellation must become cooperative."""

from offramp.migrate._registry import DESIGN, Rule, register


@register
class Kill(Rule):
    kind = "kill"
    code = "OFR112"
    category = DESIGN
    suggestion = "needs design: cooperative cancellation (Event/Future.cancel)"
    message = "{name} has no thread equivalent"
    lint = False
    names = ("eventlet.kill", "eventlet.greenthread.kill")
