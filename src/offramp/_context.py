"""Carry the submitter's context into a pooled task, and nothing else.

A pooled thread outlives its task. If a task's request context stayed on
the thread, the next task would log under the wrong request id; nova has
this flaw. So the carrier installs the submitter's context for exactly
the duration of the task and always puts back what was there.
"""

from __future__ import annotations

import contextvars
import sys
from collections.abc import Callable
from typing import Any


class Carrier:
    """The ``contextvars`` context and oslo.context request of a submitter."""

    __slots__ = ("_vars", "_request", "_oslo")

    def __init__(self) -> None:
        self._vars = contextvars.copy_context()
        # Only when the application uses oslo.context: importing it here
        # would cost every process that never does.
        self._oslo: Any = sys.modules.get("oslo_context.context")
        self._request = self._oslo.get_current() if self._oslo is not None else None

    def call(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """``fn(*args, **kwargs)`` in the submitter's context."""
        if self._oslo is None:
            return self._vars.run(fn, *args, **kwargs)
        store = self._oslo._request_store
        previous = getattr(store, "context", None)
        store.context = self._request
        try:
            return self._vars.run(fn, *args, **kwargs)
        finally:
            store.context = previous

    def bind(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Bound:
        """``fn`` with its arguments, to run later in this context."""
        return Bound(self, fn, args, kwargs)


class Bound:
    """A call bound to a carrier; ``func`` names the task in logs."""

    __slots__ = ("carrier", "func", "args", "kwargs")

    def __init__(self, carrier: Carrier, func: Callable[..., Any],
                 args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.carrier = carrier
        self.func = func
        self.args = args
        self.kwargs = kwargs

    def __call__(self) -> Any:
        return self.carrier.call(self.func, self.args, self.kwargs)


class Named:
    """A call named in logs after ``func``, which it may wrap (futurist's
    runners hand the pool their own wrapper, not the user's function)."""

    __slots__ = ("func", "call", "args", "kwargs")

    def __init__(self, func: object, call: Callable[..., Any],
                 args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.func = func
        self.call = call
        self.args = args
        self.kwargs = kwargs

    def __call__(self) -> Any:
        return self.call(*self.args, **self.kwargs)
