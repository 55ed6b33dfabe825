"""``eventlet.sleep``: a plain delay, or a yield when the delay is zero."""

from offramp.migrate._registry import STDLIB, Edit, Fix, Rule, register
from offramp.migrate._rules._zero import cooperative_yield, is_zero


@register
class Sleep(Rule):
    kind = "sleep"
    code = "OFR101"
    category = STDLIB
    suggestion = "time.sleep (sleep(0) -> offramp.cooperative_yield())"
    message = ("{name}() blocks only the green thread; use time.sleep, "
               "or offramp.cooperative_yield() for sleep(0)")
    names = ("eventlet.sleep", "eventlet.greenthread.sleep")

    def fix_ref(self, ref, file):
        if ref.qualname not in self.names:
            return None
        kind = ref.shape[0]
        if kind == "call":
            call = ref.shape[1]
            # Zero first, so sleep(0) never becomes time.sleep(0) (which a
            # second run would rewrite again: not idempotent).
            if is_zero(call, allow_empty=True):
                return cooperative_yield(ref, file, call)
            return Fix(f"{ref.qualname}() -> time.sleep()",
                       (Edit(file, call.span, ("call", "time.sleep", True)),),
                       ((file, "time", ref.scope),))
        elif kind in ("annotation", "store", "del", "setattr"):
            return None
        # Called with a delay, or passed on (sleep_func=eventlet.sleep): the
        # same function under threads, and the patched one under eventlet.
        return Fix(f"{ref.qualname} -> time.sleep",
                   (Edit(file, ref.span, ("replace", "time.sleep")),), ((file, "time", ref.scope),))
