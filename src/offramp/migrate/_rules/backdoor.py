"""``eventlet.backdoor``: an interactive shell inside the green hub."""

from offramp.migrate._registry import DESIGN, Rule, register


@register
class Backdoor(Rule):
    kind = "backdoor"
    code = "OFR111"
    category = DESIGN
    suggestion = "needs design: drop, or a thread-based debug endpoint"
    message = "{name} serves a shell from the hub"
    lint = False
    names = ("eventlet.backdoor",)
