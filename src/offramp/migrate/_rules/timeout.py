"""``eventlet.Timeout``: interrupts a green thread from the hub.

Threads cannot be interrupted, so the deadline has to move into the call
that blocks: a socket, DB driver or RPC timeout.
"""

from offramp.migrate._registry import TIMEOUT, Rule, register


@register
class Timeout(Rule):
    kind = "timeout"
    code = "OFR107"
    category = TIMEOUT
    suggestion = "a timeout on the blocking call (DB/driver/socket/RPC)"
    message = "{name} cannot interrupt a native thread; put the timeout on the blocking call"
    names = ("eventlet.Timeout", "eventlet.timeout", "eventlet.with_timeout",
             "eventlet.is_timeout", "eventlet.wrap_is_timeout")
