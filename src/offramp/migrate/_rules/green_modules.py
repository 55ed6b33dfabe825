"""``eventlet.green.*``: green copies of stdlib modules; the plain
stdlib module is the replacement."""

from offramp.migrate._registry import STDLIB, Rule, register


@register
class GreenModules(Rule):
    kind = "green_modules"
    code = "OFR113"
    category = STDLIB
    suggestion = "the stdlib module of the same name"
    message = "{name} is a green copy of a stdlib module; import the stdlib one"
    names = ("eventlet.green", "eventlet.greenio")
