"""``eventlet.tpool``: pushes blocking calls to real threads, which
becomes pointless once the caller already is one."""

from offramp.migrate._registry import EXECUTOR, Rule, register


@register
class Tpool(Rule):
    kind = "tpool"
    code = "OFR108"
    category = EXECUTOR
    suggestion = "call directly, or submit to an offramp executor"
    message = "{name} offloads to native threads; call directly or use an offramp executor"
    names = ("eventlet.tpool",)
