"""Exceptions offramp raises, in one place so callers can catch them."""

from __future__ import annotations


class ConfigurationError(ValueError):
    """A setting has a value offramp does not accept.

    The message always names where the value came from (env var, config
    file, argument), the value itself and what is accepted, because a
    process that starts half-configured is worse than one that refuses to
    start.
    """


class ModeError(RuntimeError):
    """The concurrency mode cannot be set up as asked.

    Raised when bootstrap would change an already chosen mode, when
    something chose a backend before bootstrap ran, or when the process is
    already in a state the requested mode cannot recover from.
    """


class NotBootstrappedError(RuntimeError):
    """An offramp runtime call was made before ``offramp.bootstrap()``."""

    def __init__(self, what: str, failure: str | None = None) -> None:
        if failure is None:
            super().__init__(
                f"{what} needs the concurrency mode, but offramp.bootstrap() has "
                "not run in this process yet. Call offramp.bootstrap() as the "
                "first statement of the service's entry point."
            )
        else:
            super().__init__(
                f"{what} needs the concurrency mode, but offramp.bootstrap() "
                f"failed in this process ({failure}). Fix that error first: "
                "nothing in offramp runs until bootstrap has succeeded."
            )


class PoolDeadlockError(RuntimeError):
    """A task blocked on a child queued behind it on the same full pool."""


def invalid(source: str, value: object, accepted: str) -> ConfigurationError:
    """Build the one error message shape used for every bad setting."""
    return ConfigurationError(
        f"{source} has invalid value {value!r}; accepted: {accepted}"
    )
