"""``GreenPool``/``GreenPile``: bounded fan-out of green threads.

Rewritten to an offramp executor only where every use of the pool object is
``spawn``/``spawn_n`` plus a final ``waitall()`` statement; the instance
analysis lives in ``migrate.rewrite``.
"""

from offramp.migrate._registry import EXECUTOR, Rule, register


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
