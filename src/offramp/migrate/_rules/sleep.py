"""``eventlet.sleep``: a plain delay, or a yield when the delay is zero."""

from offramp.migrate._registry import STDLIB, Rule, register
from offramp.migrate._rules._zero import cooperative_yield, cst_is_zero


@register
class Sleep(Rule):
    kind = "sleep"
    code = "OFR101"
    category = STDLIB
    suggestion = "time.sleep (sleep(0) -> offramp.cooperative_yield())"
    message = ("{name}() blocks only the green thread; use time.sleep, "
               "or offramp.cooperative_yield() for sleep(0)")
    names = ("eventlet.sleep", "eventlet.greenthread.sleep")
    renames = {n: "time.sleep" for n in names}

    def rewrite_call(self, qualname, call):
        # Checked before the rename, so sleep(0) never becomes time.sleep(0)
        # (which a second run would then rewrite again: not idempotent).
        if qualname in self.names and cst_is_zero(call, allow_empty=True):
            return cooperative_yield()
        return None
