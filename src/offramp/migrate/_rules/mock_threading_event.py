"""``mock.patch('threading.Event')`` and ``mock.patch('threading.Event.wait')``
(nova's N375): a patch of the class or of its methods reaches every user
in the process, including the runtime's own threads once they are native.
"""

from offramp.migrate._registry import DESIGN, Rule, register

_PATCH = ("mock.patch", "unittest.mock.patch")
_OBJECT = tuple(p + ".object" for p in _PATCH)
_CLASS = "threading.Event"


@register
class MockThreadingEvent(Rule):
    kind = "mock_threading_event"
    code = "OFR202"
    category = DESIGN
    suggestion = "patch the name where it is used (mod.threading.Event) or inject the event"
    message = "global mock of threading.Event; patch it where it is looked up instead"
    call_names = _PATCH + _OBJECT
    needles = (b"threading.Event", b"'Event'", b'"Event"')

    def check_call(self, qualname, call):
        return self._method(qualname, call) is not None

    def _method(self, qualname, call):
        """``""`` for the class, the method's name for a method, None if not ours."""
        lits = call.literals
        if qualname in _PATCH and lits and lits[0][0] == "lit" and isinstance(lits[0][1], str):
            target = lits[0][1]
            if target == _CLASS:
                return ""
            if target.startswith(_CLASS + ".") and target.count(".") == 2:
                return target.rsplit(".", 1)[1]
            return None
        if qualname in _OBJECT and len(lits) >= 2 and lits[1][0] == "lit":
            if lits[0] == ("name", "threading") and lits[1][1] == "Event":
                return ""
            if lits[0] == ("name", _CLASS) and isinstance(lits[1][1], str):
                return lits[1][1]
        return None

    def advise_ref(self, qualname, shape):
        method = self._method(qualname, shape[1]) if shape[0] == "call" else None
        if method:
            return (f"mock the {method}() of the event under test (patch.object(obj, "
                    f"'{method}')) or inject the event",
                    f"global mock of threading.Event.{method}: every Event in the process is "
                    "patched, the runtime's own threads included")
        return None
