"""``GreenPool``/``GreenPile``: bounded fan-out of green threads.

offramp executors are shared, named and sized by configuration
(``offramp.get_executor(name="default")``), so a pool cannot be shut down
to wait for "its" work.  The unambiguous pattern is a pool whose every use
is a ``spawn``/``spawn_n`` statement, optionally ended by one ``waitall()``:
the spawns then collect their futures and ``waitall()`` waits for exactly
those, with futurist's waiter (correct for green and native futures).
The instance analysis lives in ``migrate.rewrite``.
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
    new_constructor = "offramp.get_executor()"
    constructor_imports = ("offramp",)
    constructor_note = ("the pool size is not carried over: offramp pools are sized by "
                        "configuration ([offramp] <mode>_pool_sizes)")
    # GreenThread results are not Futures, hence statement-only spawns.
    methods = {
        name: Method("{obj}.submit(ARGS)", statement=True,
                     collect="{obj}_futures.append({obj}.submit(ARGS))")
        for name in ("spawn", "spawn_n")
    } | {
        "waitall": Method("futurist.waiters.wait_for_all({obj}_futures)", statement=True,
                          no_args=True, last=True, imports=("futurist.waiters",)),
    }
    setup = "{obj}_futures = []"
