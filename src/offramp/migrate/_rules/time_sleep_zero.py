"""``time.sleep(0)`` used as a yield: under eventlet it switched green
threads, under threads it only releases the GIL."""

import ast

from offramp.migrate._registry import EXECUTOR, Rule, register
from offramp.migrate._rules._zero import ast_is_zero, cooperative_yield, cst_is_zero


@register
class TimeSleepZero(Rule):
    kind = "time_sleep_zero"
    code = "OFR201"
    category = EXECUTOR
    suggestion = "offramp.cooperative_yield()"
    message = "time.sleep(0) used as a yield; use offramp.cooperative_yield()"
    needles = (b"sleep",)

    def check_call(self, node: ast.Call, qualname):
        return qualname == "time.sleep" and ast_is_zero(node, allow_empty=False)

    def rewrite_call(self, qualname, call):
        if qualname == "time.sleep" and cst_is_zero(call, allow_empty=False):
            return cooperative_yield()
        return None
