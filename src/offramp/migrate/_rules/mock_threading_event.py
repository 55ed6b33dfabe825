"""``mock.patch('threading.Event')``: patches the class for every user in
the process, including the runtime's own threads once they are native."""

import ast

from offramp.migrate._registry import DESIGN, Rule, register

_PATCH = ("mock.patch", "unittest.mock.patch")


@register
class MockThreadingEvent(Rule):
    kind = "mock_threading_event"
    code = "OFR202"
    category = DESIGN
    suggestion = "patch the name where it is used (mod.threading.Event) or inject the event"
    message = "global mock of threading.Event; patch it where it is looked up instead"
    needles = (b"Event",)

    def check_call(self, node: ast.Call, qualname):
        args = node.args
        if qualname in _PATCH:
            return bool(args) and _const(args[0]) == "threading.Event"
        if qualname in tuple(p + ".object" for p in _PATCH):
            return len(args) >= 2 and isinstance(args[0], ast.Name) \
                and args[0].id == "threading" and _const(args[1]) == "Event"
        return False


def _const(node):
    return node.value if isinstance(node, ast.Constant) else None
