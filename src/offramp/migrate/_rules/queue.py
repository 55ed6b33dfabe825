"""``eventlet.queue``: green queues with stdlib twins."""

from offramp.migrate._registry import STDLIB, Rule, register


@register
class Queue(Rule):
    kind = "queue"
    code = "OFR106"
    category = STDLIB
    suggestion = "queue.Queue / queue.SimpleQueue (LightQueue)"
    message = "{name} is a green queue; use queue.Queue or queue.SimpleQueue"
    names = ("eventlet.Queue", "eventlet.queue")
    renames = {
        "eventlet.queue.LightQueue": "queue.SimpleQueue",
        "eventlet.queue.Queue": "queue.Queue",
        "eventlet.Queue": "queue.Queue",
        "eventlet.queue.Empty": "queue.Empty",
        "eventlet.queue.Full": "queue.Full",
    }
