"""Shared test for "sleep with no delay", used by the two sleep rules.

``sleep(0)`` and ``sleep()`` are a yield, not a delay: under threads they
become ``offramp.cooperative_yield()`` rather than ``time.sleep(0)``.
"""

from __future__ import annotations

import ast


def ast_is_zero(call: ast.Call, allow_empty: bool) -> bool:
    if call.keywords:
        return False
    if not call.args:
        return allow_empty
    arg = call.args[0]
    return len(call.args) == 1 and isinstance(arg, ast.Constant) and arg.value == 0 \
        and type(arg.value) in (int, float)


def cst_is_zero(call, allow_empty: bool) -> bool:
    import libcst as cst

    if not call.args:
        return allow_empty
    if len(call.args) != 1 or call.args[0].keyword or call.args[0].star:
        return False
    value = call.args[0].value
    return isinstance(value, (cst.Integer, cst.Float)) and value.evaluated_value == 0


def cooperative_yield():
    """``offramp.cooperative_yield()`` as a libcst node, plus its import."""
    import libcst as cst

    node = cst.Call(func=cst.Attribute(cst.Name("offramp"), cst.Name("cooperative_yield")))
    return node, ("offramp",)
