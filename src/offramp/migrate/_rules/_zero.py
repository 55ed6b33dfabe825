"""Shared by the two sleep rules: "sleep with no delay" is a yield.

``sleep(0)`` and ``sleep()`` are a yield, not a delay: under threads they
become ``offramp.cooperative_yield()`` rather than ``time.sleep(0)``.
"""

from __future__ import annotations

from offramp.migrate._registry import Edit, Fix


def is_zero(call, allow_empty: bool) -> bool:
    """Whether a call's arguments (a ``CallInfo``) are none, or one literal 0."""
    if call.keywords or call.star:
        return False
    if not call.nargs:
        return allow_empty
    kind, *value = call.literals[0]
    return call.nargs == 1 and kind == "lit" and type(value[0]) in (int, float) and value[0] == 0


def cooperative_yield(ref, file: int, call) -> Fix:
    """Replace the whole call with ``offramp.cooperative_yield()``."""
    return Fix(f"{ref.qualname}(0) -> offramp.cooperative_yield()",
               (Edit(file, call.span, ("replace", "offramp.cooperative_yield()")),),
               ((file, "offramp", ref.scope),),
               ((file, call.span[0], ref.scope, ref.import_time),))
