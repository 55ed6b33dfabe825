"""``greenlet``: the coroutines under eventlet; nothing maps to threads."""

from offramp.migrate._registry import DESIGN, Rule, register


@register
class Greenlet(Rule):
    kind = "greenlet"
    code = "OFR115"
    category = DESIGN
    suggestion = "needs design: greenlets have no thread equivalent"
    message = "{name} is a greenlet primitive"
    lint = False
    names = ("greenlet",)
