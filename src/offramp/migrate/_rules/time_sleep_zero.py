"""``time.sleep(0)`` used as a yield: under eventlet it switched green
threads, under threads it only releases the GIL."""

from offramp.migrate._registry import EXECUTOR, Rule, register
from offramp.migrate._rules._zero import cooperative_yield, is_zero


@register
class TimeSleepZero(Rule):
    kind = "time_sleep_zero"
    code = "OFR201"
    category = EXECUTOR
    suggestion = "offramp.cooperative_yield()"
    message = "time.sleep(0) used as a yield; use offramp.cooperative_yield()"
    call_names = ("time.sleep",)
    needles = (rb"sleep(0", rb"sleep( 0")

    def check_call(self, qualname, call):
        return qualname == "time.sleep" and is_zero(call, allow_empty=False)

    def fix_ref(self, ref, file):
        if ref.shape[0] == "call" and self.check_call(ref.qualname, ref.shape[1]):
            return cooperative_yield(ref, file, ref.shape[1])
        return None
