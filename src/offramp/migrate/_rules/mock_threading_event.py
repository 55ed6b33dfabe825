"""``mock.patch('threading.Event')``: patches the class for every user in
the process, including the runtime's own threads once they are native."""

from offramp.migrate._registry import DESIGN, Rule, register

_PATCH = ("mock.patch", "unittest.mock.patch")
_OBJECT = tuple(p + ".object" for p in _PATCH)


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
        lits = call.literals
        if qualname in _PATCH:
            return bool(lits) and lits[0] == ("lit", "threading.Event")
        if qualname in _OBJECT:
            return len(lits) >= 2 and lits[0] == ("name", "threading") and lits[1] == ("lit", "Event")
        return False
