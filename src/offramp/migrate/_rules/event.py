"""``eventlet.event.Event``: a one-shot value-carrying event.

Its ``send(value)``/``wait()`` pair delivers a value, which
``threading.Event`` cannot: an object is rewritten only when no use,
in any file of the run, sends or reads a value.
"""

from offramp.migrate._registry import STDLIB, Ctor, Method, Rule, register

_FUTURE = "concurrent.futures.Future"


@register
class Event(Rule):
    kind = "event"
    code = "OFR104"
    category = STDLIB
    suggestion = "threading.Event (only if send()/wait() carry no value), else concurrent.futures.Future"
    message = "{name} carries a value on send(); use threading.Event or a Future"
    names = ("eventlet.Event", "eventlet.event")
    constructors = {name: Ctor("threading.Event", ("threading",), keep_args=False)
                    for name in ("eventlet.Event", "eventlet.event.Event")}
    methods = {
        "send": Method("set", no_args=True, why="send(value) delivers a value; threading.Event "
                                                "carries none"),
        "wait": Method("wait", statement=True, why="the value returned by wait() is used; "
                                                   "threading.Event.wait() returns a bool"),
        "ready": Method("is_set"),
    }
    harmless = frozenset({"is"})
    use_advice = {
        "send_exception": f"{_FUTURE}.set_exception()",
        "reset": "a new object per round (threading.Event.clear() lets waiters miss a round)",
        "has_exception": f"{_FUTURE}.exception() is not None, once done()",
        "has_result": f"{_FUTURE}.done() and not .exception()",
        "poll": f"{_FUTURE}.result(timeout=0)",
        "ready": "threading.Event.is_set() (or Future.done())",
    }

    def advise_use(self, shape):
        if shape[0] == "method" and shape[1] in ("send", "wait"):
            call = shape[2]
            if shape[1] == "send":
                if call.nargs or call.keywords:
                    return self, f"{_FUTURE}.set_result(value): send() carries a value"
                return self, "threading.Event.set()"
            if call.result[0] not in ("discard",):
                return self, f"{_FUTURE}.result(): the value wait() returns is used"
            return None
        return super().advise_use(shape)

    blocked = {
        "send_exception": ".send_exception() has no threading.Event equivalent",
        "reset": ".reset() is only allowed after send(); threading.Event.clear() differs",
        "has_exception": ".has_exception() has no threading.Event equivalent",
        "has_result": ".has_result() has no threading.Event equivalent",
        "poll": ".poll() returns the value; threading.Event carries none",
    }
