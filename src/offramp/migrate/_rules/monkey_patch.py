"""``monkey_patch``/``import_patched``: process-wide, so removing it is a
deployment decision (and the last step), not a local edit."""

from offramp.migrate._registry import DESIGN, Rule, register


@register
class MonkeyPatch(Rule):
    kind = "monkey_patch"
    code = "OFR109"
    category = DESIGN
    suggestion = "needs design: select the mode at the entry point (offramp)"
    message = "{name} patches the whole process"
    lint = False
    names = ("eventlet.monkey_patch", "eventlet.import_patched", "eventlet.patcher")
