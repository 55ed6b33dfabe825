"""Carry the submitter's context into a pooled task, and nothing else.

A pooled thread outlives its task. If a task's request context stayed on
the thread, the next task would log under the wrong request id; nova has
this flaw. So the carrier installs the submitter's context for exactly
the duration of the task and always puts back what was there.
"""

from __future__ import annotations

import contextvars
import sys


class Carrier:
    """The ``contextvars`` context and oslo.context request of a submitter."""

    __slots__ = ("_vars", "_request", "_oslo")

    def __init__(self) -> None:
        self._vars = contextvars.copy_context()
        # Only when the application uses oslo.context: importing it here
        # would cost every process that never does.
        self._oslo = sys.modules.get("oslo_context.context")
        self._request = self._oslo.get_current() if self._oslo else None

    def run(self, fn, /, *args, **kwargs):
        if self._oslo is None:
            return self._vars.run(fn, *args, **kwargs)
        store = self._oslo._request_store
        previous = getattr(store, "context", None)
        store.context = self._request
        try:
            return self._vars.run(fn, *args, **kwargs)
        finally:
            store.context = previous

    def bind(self, fn, /, *args, **kwargs) -> Bound:
        """``fn`` with its arguments, to run later in this context."""
        return Bound(self, fn, args, kwargs)


class Bound:
    """A call bound to a carrier; ``func`` names the task in logs."""

    __slots__ = ("carrier", "func", "args", "kwargs")

    def __init__(self, carrier: Carrier, func, args, kwargs) -> None:
        self.carrier = carrier
        self.func = func
        self.args = args
        self.kwargs = kwargs

    def __call__(self):
        return self.carrier.run(self.func, *self.args, **self.kwargs)
