"""``eventlet.hubs``: the event loop itself (hub selection, trampolines)."""

from offramp.migrate._registry import DESIGN, Rule, register


@register
class Hubs(Rule):
    kind = "hubs"
    code = "OFR114"
    category = DESIGN
    suggestion = "needs design: no hub under threads"
    message = "{name} drives the eventlet hub"
    lint = False
    names = ("eventlet.hubs",)
