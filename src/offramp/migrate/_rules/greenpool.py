"""``GreenPool``/``GreenPile``: bounded fan-out of green threads.

Rewritten to an offramp executor only where every use of the pool object is
``spawn``/``spawn_n`` plus a final ``waitall()`` statement; the instance
analysis lives in ``migrate.rewrite``.
"""

from offramp.migrate._registry import EXECUTOR, Method, Rule, register


@register
class GreenPool(Rule):
    kind = "greenpool"
    code = "OFR103"
    category = EXECUTOR
    suggestion = "offramp.get_executor(...)"
    message = "{name} runs green threads; use an offramp executor (offramp.get_executor())"
    names = ("eventlet.GreenPool", "eventlet.GreenPile", "eventlet.greenpool")
    constructors = ("eventlet.GreenPool", "eventlet.greenpool.GreenPool")
    new_constructor = "offramp.get_executor"
    # GreenThread results are not Futures, hence statement-only spawns; and
    # shutdown() ends the executor, hence waitall() only as the last use.
    methods = {
        "spawn": Method("submit", statement=True),
        "spawn_n": Method("submit", statement=True),
        "waitall": Method("shutdown", statement=True, no_args=True, last=True, args="wait=True"),
    }
