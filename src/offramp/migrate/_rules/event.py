"""``eventlet.event.Event``: a one-shot value-carrying event.

Its ``send(value)``/``wait()`` pair delivers a value, which
``threading.Event`` cannot; rewriting is only safe where the value is never
used (checked per object by ``migrate.rewrite``), otherwise it is reported.
"""

from offramp.migrate._registry import STDLIB, Method, Rule, register


@register
class Event(Rule):
    kind = "event"
    code = "OFR104"
    category = STDLIB
    suggestion = "threading.Event (only if send()/wait() carry no value), else concurrent.futures.Future"
    message = "{name} carries a value on send(); use threading.Event or a Future"
    names = ("eventlet.Event", "eventlet.event")
    constructors = ("eventlet.Event", "eventlet.event.Event")
    new_constructor = "threading.Event()"
    constructor_imports = ("threading",)
    methods = {
        "send": Method("{obj}.set()", no_args=True),  # send(value) delivers a value: no
        "wait": Method("{obj}.wait(ARGS)", statement=True),  # wait() returns that value
        "ready": Method("{obj}.is_set()"),
    }
