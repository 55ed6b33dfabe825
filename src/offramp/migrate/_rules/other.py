"""Anything else under ``eventlet``: the fallback, by being the shortest
prefix every eventlet name shares."""

from offramp.migrate._registry import DESIGN, Rule, register


@register
class Other(Rule):
    kind = "other"
    code = "OFR199"
    category = DESIGN
    suggestion = "needs design"
    message = "{name} has no mechanical replacement"
    lint = False
    names = ("eventlet",)
