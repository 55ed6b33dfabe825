"""``eventlet.semaphore``: same API as the ``threading`` semaphores."""

from offramp.migrate._registry import STDLIB, Rule, register


@register
class Semaphore(Rule):
    kind = "semaphore"
    code = "OFR105"
    category = STDLIB
    suggestion = "threading.Semaphore / threading.BoundedSemaphore"
    message = "{name} is green-only; use threading.Semaphore/BoundedSemaphore"
    names = ("eventlet.Semaphore", "eventlet.BoundedSemaphore", "eventlet.CappedSemaphore",
             "eventlet.semaphore")
    renames = {
        "eventlet.semaphore.Semaphore": "threading.Semaphore",
        "eventlet.Semaphore": "threading.Semaphore",
        "eventlet.semaphore.BoundedSemaphore": "threading.BoundedSemaphore",
        "eventlet.BoundedSemaphore": "threading.BoundedSemaphore",
    }
