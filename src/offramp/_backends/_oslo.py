"""Select the oslo.service backend that matches offramp's mode.

oslo.service picks its backend once, on first use, and defaults to
eventlet; importing oslo.service or oslo.messaging is first use. So the
choice must be made by bootstrap, before anything else imports them.
"""

from __future__ import annotations

import sys

from offramp._errors import ModeError

ORDERING_RULE = (
    "oslo.service picks its backend once, the first time anything imports "
    "oslo.service (oslo.messaging does too), and cannot change it later. "
    "Call offramp.bootstrap() as the first statement of the entry point, "
    "before importing oslo.service, oslo.messaging or any module that "
    "imports them."
)


def check_not_chosen_otherwise(mode: str) -> None:
    """Fail if oslo.service already runs a backend other than ``mode``."""
    backend = sys.modules.get("oslo_service.backend")
    if backend is None:
        return
    chosen = backend.get_backend_type()
    if chosen is not None and chosen.value != mode:
        raise ModeError(
            f"offramp is bootstrapping {mode} mode, but oslo.service has "
            f"already selected its {chosen.value} backend. {ORDERING_RULE}"
        )


def select(mode: str) -> str | None:
    """Initialise oslo.service's backend for ``mode``; None if not installed."""
    check_not_chosen_otherwise(mode)
    try:
        from oslo_service import backend
    except ImportError:
        return None
    backend.init_backend(backend.BackendType(mode))
    return backend.get_backend_type().value
