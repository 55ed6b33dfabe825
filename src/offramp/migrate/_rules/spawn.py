"""``eventlet.spawn`` and friends: start a green thread."""

from offramp.migrate._registry import EXECUTOR, Rule, register

_MODULES = ("eventlet", "eventlet.greenthread")


@register
class Spawn(Rule):
    kind = "spawn"
    code = "OFR102"
    category = EXECUTOR
    suggestion = "offramp.spawn (spawn_n/spawn_after: offramp executor)"
    message = "{name}() starts a green thread; use offramp.spawn() or an offramp executor"
    names = tuple(f"{m}.{f}" for m in _MODULES
                  for f in ("spawn", "spawn_n", "spawn_after", "spawn_after_local"))
    # spawn_n returns None and spawn_after a timer: not a drop-in swap.
    renames = {f"{m}.spawn": "offramp.spawn" for m in _MODULES}
    result_note = "check the uses of its result: GreenThread.link()/kill() may not exist there"
