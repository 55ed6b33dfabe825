"""Choosing the concurrency mode, once per process, before anything else.

The mode is a deployment decision, so it comes from the environment, with
the application's own switch, its config file and its code default below
that. Every source is validated, even one that a higher source shadows:
a typo in a deployment must fail the start, not silently mean eventlet.
"""

from __future__ import annotations

import enum
import logging
import os
import sys
import threading
from collections.abc import Mapping

from offramp import _backends, _config, _runtime, _shutdown
from offramp._errors import ModeError, invalid

LOG = logging.getLogger("offramp")

ENV_VAR = "OFFRAMP_CONCURRENCY"
_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")

_bootstrap_lock = threading.Lock()


class Mode(str, enum.Enum):
    THREADING = "threading"
    EVENTLET = "eventlet"

    def __str__(self) -> str:
        return self.value


def bootstrap(
    default: Mode | str = Mode.THREADING,
    env_var: str | None = None,
    config_file: str | None = None,
    *,
    name: str | None = None,
    pool_defaults: Mapping[str, Mapping[str, int]] | None = None,
) -> Mode:
    """Decide this process's concurrency mode and make the process fit it.

    Call it as the first statement of a service's entry point. Precedence,
    highest first: ``OFFRAMP_CONCURRENCY`` (threading, eventlet or auto),
    the application's boolean ``env_var`` (true selects threading, false
    eventlet), ``concurrency`` in the ``[offramp]`` group of
    ``config_file``, then ``default``. ``name`` names the process in pool
    names; it defaults to the program name.

    Eventlet mode monkey-patches the stdlib; threading mode makes
    ``import eventlet`` fail. Both select the matching oslo.service backend.
    A second call that reaches the same mode does nothing; one that would
    change it raises :class:`ModeError`.
    """
    try:
        settings = _config.load(config_file, pool_defaults)
        mode, source = _resolve(default, env_var, settings)
        with _bootstrap_lock:
            current = _runtime.peek()
            if current is not None:
                if current.mode == mode.value:
                    return mode
                raise ModeError(
                    f"this process already runs in {current.mode} mode; "
                    f"bootstrap cannot switch it to {mode.value} (asked by "
                    f"{source}). The mode is chosen once per process."
                )
            backend = _backends.load(mode.value)
            backend.prepare(settings)
            runtime = _runtime.Runtime(mode.value, backend, settings, name or _program_name())
            _runtime.install(runtime)
    except BaseException as exc:
        _runtime.record_failure(exc)
        raise
    _shutdown.install_exit_hook()
    runtime.banner = f"offramp: running in {mode.value} mode, chosen by {source}"
    announce(runtime)
    return mode


def announce(runtime: _runtime.Runtime) -> None:
    """Log bootstrap's INFO line once the process can show it.

    Bootstrap comes first, usually before the service configures logging,
    when an INFO line would go nowhere. So the line waits until a handler
    exists, and is logged by the first pool created after that (or by
    ``log_executor_stats()``).
    """
    banner = runtime.banner
    if banner is not None and LOG.hasHandlers():
        runtime.banner = None
        LOG.info("%s", banner)


def current_mode() -> Mode:
    """The mode chosen by bootstrap; it always matches oslo.service's backend."""
    return Mode(_runtime.get("offramp.current_mode()").mode)


def _resolve(default, env_var, settings) -> tuple[Mode, str]:
    candidates = []
    raw = os.environ.get(ENV_VAR, "")
    if raw.strip():
        source = f"environment variable {ENV_VAR}"
        value = _config.choice(source, raw, _config.MODE_CHOICES)
        if value != "auto":
            candidates.append((Mode(value), source))
    if env_var:
        raw = os.environ.get(env_var, "")
        if raw.strip():
            source = f"environment variable {env_var}"
            value = raw.strip().lower()
            if value in _TRUE:
                candidates.append((Mode.THREADING, source))
            elif value in _FALSE:
                candidates.append((Mode.EVENTLET, source))
            else:
                raise invalid(
                    source, raw,
                    "true, 1 or yes (threading); false, 0 or no (eventlet); "
                    "case-insensitive",
                )
    if settings.concurrency not in (None, "auto"):
        candidates.append(
            (Mode(settings.concurrency), f"config file {settings.config_file}")
        )
    default_value = getattr(default, "value", default)
    value = _config.choice("bootstrap(default=...)", default_value, ("threading", "eventlet"))
    candidates.append((Mode(value), "the default"))
    return candidates[0]


def _program_name() -> str:
    base = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    base = base.removesuffix(".py")
    return base if base and base not in ("-c", "-m") else "python"
