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

    def advise_ref(self, qualname, shape):
        if shape[0] == "call" and shape[1].result != ("escape", "raise") \
                and (shape[1].nargs or shape[1].keywords or shape[1].star):
            return None  # Timeout(seconds) starts a timer: the rule's own texts fit
        if shape == ("escape", "caught"):
            # An except clause starts nothing: it waits for a timeout raised elsewhere.
            return ("catch the timeout error of the call that gets the deadline "
                    "(socket.timeout, the driver's or RPC's own)",
                    "except {name}: nothing raises it once the deadline moves into the "
                    "blocking call; catch that call's timeout error")
        if shape[0] == "call" and shape[1].result == ("escape", "raise"):
            return ("raise the timeout error of the call that gets the deadline",
                    "raise {name}(): code under threads no longer sees it; raise the "
                    "blocking call's own timeout error")
        # Raised by a mock, expected by assertRaises, passed on: a stand-in
        # for the timeout, which under threads comes from the blocking call.
        return ("the timeout error of the call that gets the deadline",
                "{name} stands for eventlet's timeout here; under threads the blocking "
                "call raises its own timeout error")
