"""offramp's settings: oslo.config options, overridable from the environment.

Every setting has three sources, highest first: an ``OFFRAMP_*`` environment
variable, the ``[offramp]`` group of the config file given to
``bootstrap()``, and the code default. Values are validated when read, and a
bad one raises :class:`ConfigurationError` naming its source.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping

from oslo_config import cfg

from offramp._errors import ConfigurationError, invalid

GROUP = "offramp"

MODE_CHOICES = ("threading", "eventlet", "auto")
PIN_POLICIES = ("auto", "always", "never")

# Threads cost a stack and an OS thread each, green threads almost nothing;
# nova sized its pools the same way. A pool starts a thread only when no
# idle one can take the task, so a size is a cap. Scatter-gather's 8 met
# the A/B goals with remote cells (which want more readers in flight) and
# with in-process SQLite (where each extra reader only adds GIL hand-offs)
# alike: docs/performance.md.
DEFAULT_POOL_SIZES = {
    "threading": {"default": 10, "scatter_gather": 8},
    "eventlet": {"default": 1000, "scatter_gather": 1000},
}
FALLBACK_POOL_SIZE = {"threading": 10, "eventlet": 1000}
# oslo.messaging's RPC executor threads (set_rpc_defaults): eventlet mode
# keeps oslo.messaging's 64 green threads.
DEFAULT_RPC_EXECUTOR_THREADS = {"threading": 4}
MAX_POOL_SIZE = {"threading": 1024, "eventlet": 100_000}

# Long enough for a request in flight to finish, short enough that a stuck
# task does not hold a stopping service for long.
DEFAULT_SHUTDOWN_TIMEOUT = 5.0

# Below 1 MiB a deep recursion overflows the C stack and segfaults before
# Python's recursion limit (1000 frames) can raise RecursionError.
MIN_THREAD_STACK_KIB = 1024
MAX_THREAD_STACK_KIB = 1024 * 1024
MAX_MALLOC_ARENAS = 1024

OPTS = [
    cfg.StrOpt(
        "concurrency",
        help="Concurrency mode: threading, eventlet or auto (auto leaves the "
        "choice to the application's own switch and default). The "
        "OFFRAMP_CONCURRENCY environment variable overrides it.",
    ),
    cfg.DictOpt(
        "threading_pool_sizes",
        default={},
        help="Worker threads per named pool in threading mode, e.g. "
        "default:10,scatter_gather:8. OFFRAMP_THREADING_POOL_<NAME> "
        "overrides one pool.",
    ),
    cfg.DictOpt(
        "eventlet_pool_sizes",
        default={},
        help="Green threads per named pool in eventlet mode, e.g. "
        "default:1000. OFFRAMP_EVENTLET_POOL_<NAME> overrides one pool.",
    ),
    cfg.FloatOpt(
        "stats_period",
        default=0.0,
        help="Seconds between pool statistics log lines; 0 disables.",
    ),
    cfg.FloatOpt(
        "saturation_warning_interval",
        default=60.0,
        help="Minimum seconds between two saturation warnings of one pool.",
    ),
    cfg.ListOpt(
        "hung_task_thresholds",
        default=["60", "300", "900"],
        help="Seconds of run time after which a task is reported as hung, "
        "once per threshold crossed; empty disables the watchdog.",
    ),
    cfg.FloatOpt(
        "watchdog_period",
        default=5.0,
        help="Seconds between two watchdog checks for hung tasks.",
    ),
    cfg.FloatOpt(
        "shutdown_timeout",
        default=DEFAULT_SHUTDOWN_TIMEOUT,
        help="Seconds shutdown_executors() (and interpreter exit) waits for "
        "running pool tasks before it logs their stacks and leaves them; "
        "tasks abandoned by scatter_gather are never waited for.",
    ),
    cfg.IntOpt(
        "thread_stack_size",
        default=0,
        help="Threading mode: stack size in KiB of the threads started after "
        "bootstrap; 0 keeps the platform default (the stack ulimit, usually "
        f"8 MiB). At least {MIN_THREAD_STACK_KIB}: smaller stacks segfault on "
        "deep recursion instead of raising RecursionError.",
    ),
    cfg.IntOpt(
        "malloc_arena_max",
        default=0,
        help="Threading mode, glibc only: most malloc arenas the process may "
        "create (mallopt M_ARENA_MAX, as MALLOC_ARENA_MAX does); 0 keeps "
        "glibc's default of 8 per core. Fewer arenas, less RSS from "
        "per-thread heaps.",
    ),
    cfg.StrOpt(
        "pin_workers",
        default="auto",
        help="Whether offramp.pin_worker() pins a worker process to one "
        "CPU: auto (in threading mode, where GIL hand-offs across cores cost "
        "CPU), always, or never.",
    ),
    cfg.StrOpt(
        "deadlock_action",
        default="log",
        help="What to do when a pool task blocks on a child queued on the "
        "same full pool: log (an ERROR) or raise (PoolDeadlockError).",
    ),
]


def list_opts():
    """Entry point for oslo-config-generator."""
    return [(GROUP, OPTS)]


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register the ``[offramp]`` options on an application's ConfigOpts."""
    conf.register_opts(OPTS, group=GROUP)


@dataclasses.dataclass(frozen=True)
class Settings:
    """The validated settings of one process."""

    config_file: str | None = None
    concurrency: str | None = None
    pool_sizes: Mapping[str, Mapping[str, int]] = dataclasses.field(
        default_factory=lambda: {"threading": {}, "eventlet": {}}
    )
    app_pool_sizes: Mapping[str, Mapping[str, int]] = dataclasses.field(
        default_factory=lambda: {"threading": {}, "eventlet": {}}
    )
    stats_period: float = 0.0
    saturation_warning_interval: float = 60.0
    hung_task_thresholds: tuple[float, ...] = (60.0, 300.0, 900.0)
    watchdog_period: float = 5.0
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT
    deadlock_action: str = "log"
    thread_stack_size: int = 0  # KiB; 0: platform default
    malloc_arena_max: int = 0  # 0: glibc default
    pin_workers: str = "auto"

    def pool_size(self, mode: str, name: str) -> int:
        """Size of pool ``name`` (canonical: see ``pool_key``): env, then
        config, then the application's ``pool_defaults``, then offramp's
        defaults."""
        env_name = f"OFFRAMP_{mode.upper()}_POOL_{_env_key(name)}"
        raw = os.environ.get(env_name)
        if raw is not None and raw.strip():
            return _pool_size(mode, env_name, raw)
        for sizes in (self.pool_sizes[mode], self.app_pool_sizes[mode]):
            if name in sizes:
                return sizes[name]
        return DEFAULT_POOL_SIZES[mode].get(name, FALLBACK_POOL_SIZE[mode])


def load(config_file: str | None = None, pool_defaults=None) -> Settings:
    """Read and validate every setting, so a bad one fails at bootstrap.

    ``pool_defaults`` is the application's own sizing, e.g.
    ``{"threading": {"scatter_gather": 15}}``: it ranks below the operator's
    env and config, above offramp's defaults.
    """
    values = _read_config_file(config_file) if config_file else {}
    where = f"[{GROUP}] in {config_file}"

    def pick(key: str, default):
        env_name = f"OFFRAMP_{key.upper()}"
        raw = os.environ.get(env_name)
        if raw is not None and raw.strip():
            return env_name, raw
        if values.get(key) is not None:
            return f"{key} {where}", values[key]
        return None, default

    # OFFRAMP_CONCURRENCY is read by bootstrap, which ranks it above the
    # application's own switch; here only the config file's value counts.
    concurrency = values.get("concurrency")
    if concurrency is not None:
        concurrency = choice(f"concurrency {where}", concurrency, MODE_CHOICES)

    sizes = {}
    for mode in ("threading", "eventlet"):
        # A pool is created on first use, perhaps at the first request of
        # a worker: check its OFFRAMP_<MODE>_POOL_<NAME> now, so a typo
        # stops the start instead of failing every request later.
        prefix = f"OFFRAMP_{mode.upper()}_POOL_"
        for env_name, raw in sorted(os.environ.items()):
            if env_name.startswith(prefix) and raw.strip():
                _pool_size(mode, env_name, raw)
        key = f"{mode}_pool_sizes"
        sizes[mode] = _by_pool_key(f"{key} {where}", {
            name: _pool_size(mode, f"{key} {where} (pool {name!r})", raw)
            for name, raw in (values.get(key) or {}).items()
        })

    app_sizes = _app_pool_sizes(pool_defaults or {})

    def number(key: str, default: float, minimum: float = 0.0) -> float:
        source, raw = pick(key, default)
        return _number(source, raw, minimum) if source else default

    source, raw_thresholds = pick("hung_task_thresholds", None)
    thresholds = (
        _thresholds(source, raw_thresholds)
        if source
        else Settings.hung_task_thresholds
    )
    source, raw = pick("thread_stack_size", 0)
    stack_kib = _whole(source, raw, MIN_THREAD_STACK_KIB, MAX_THREAD_STACK_KIB,
                       "0 (platform default) or KiB") if source else 0
    source, raw = pick("malloc_arena_max", 0)
    arenas = _whole(source, raw, 1, MAX_MALLOC_ARENAS,
                    "0 (glibc default) or a number of arenas") if source else 0
    source, action = pick("deadlock_action", "log")
    pin_source, pin = pick("pin_workers", "auto")
    return Settings(
        config_file=config_file,
        concurrency=concurrency,
        pool_sizes=sizes,
        app_pool_sizes=app_sizes,
        stats_period=number("stats_period", 0.0),
        saturation_warning_interval=number("saturation_warning_interval", 60.0),
        hung_task_thresholds=thresholds,
        watchdog_period=number("watchdog_period", 5.0, minimum=0.0),
        shutdown_timeout=number("shutdown_timeout", DEFAULT_SHUTDOWN_TIMEOUT),
        deadlock_action=choice(source, action, ("log", "raise"))
        if source
        else "log",
        thread_stack_size=stack_kib,
        malloc_arena_max=arenas,
        pin_workers=choice(pin_source, pin, PIN_POLICIES)
        if pin_source
        else "auto",
    )


def _app_pool_sizes(pool_defaults) -> dict:
    source = "bootstrap(pool_defaults=...)"
    if not isinstance(pool_defaults, Mapping) or not set(pool_defaults) <= {"threading", "eventlet"}:
        raise invalid(source, pool_defaults,
                      "a mapping with keys 'threading' and/or 'eventlet', each "
                      "mapping pool names to sizes")
    sizes: dict[str, dict[str, int]] = {"threading": {}, "eventlet": {}}
    for mode, pools in pool_defaults.items():
        if not isinstance(pools, Mapping):
            raise invalid(f"{source}[{mode!r}]", pools, "a mapping of pool name to size")
        given = {}
        for name, raw in pools.items():
            if isinstance(raw, bool):
                raise invalid(f"{source} (pool {name!r}, {mode} mode)", raw, "a whole number")
            given[name] = _pool_size(mode, f"{source} (pool {name!r}, {mode} mode)", raw)
        sizes[mode] = _by_pool_key(f"{source}[{mode!r}]", given)
    return sizes


def pool_key(name: str) -> str:
    """The one spelling of a pool name, the one its environment variable
    has: lower case, with ``_`` for ``-`` and ``.``."""
    return re.sub(r"[-.]", "_", name).lower()


def _by_pool_key(source: str, sizes: Mapping[str, int]) -> dict[str, int]:
    keyed: dict[str, int] = {}
    spelled: dict[str, str] = {}
    for name, size in sizes.items():
        key = pool_key(str(name))
        if key in keyed and keyed[key] != size:
            raise invalid(
                source, dict(sizes),
                f"one size per pool; {spelled[key]!r} and {name!r} are the same "
                f"pool {key!r} (names ignore case, and '-' and '.' count as '_')")
        keyed[key], spelled[key] = size, str(name)
    return keyed


def _read_config_file(path: str) -> dict:
    if not os.path.isfile(path):
        raise ConfigurationError(
            f"config file {path!r} does not exist or is not a file; "
            "bootstrap(config_file=...) needs a readable oslo.config file"
        )
    conf = cfg.ConfigOpts()
    # Read as plain strings: offramp validates them itself, so every bad
    # value gets the same clear message whatever its source.
    conf.register_opts(
        [
            cfg.StrOpt(o.name) if not isinstance(o, cfg.DictOpt)
            else cfg.DictOpt(o.name)
            for o in OPTS
        ],
        group=GROUP,
    )
    try:
        conf(args=[], default_config_files=[path], use_env=False)
        group = conf[GROUP]
        return {o.name: group[o.name] for o in OPTS}
    except (cfg.Error, ValueError) as exc:
        raise ConfigurationError(f"config file {path!r}: {exc}") from exc
    finally:
        conf.reset()


def _env_key(name: str) -> str:
    return pool_key(name).upper()


def choice(source: str, raw: str, accepted: tuple[str, ...]) -> str:
    value = str(raw).strip().lower()
    if value not in accepted:
        raise invalid(source, raw, ", ".join(accepted) + " (case-insensitive)")
    return value


def _pool_size(mode: str, source: str, raw) -> int:
    limit = MAX_POOL_SIZE[mode]
    accepted = f"a whole number from 1 to {limit} ({mode} mode)"
    try:
        size = int(str(raw).strip())
    except ValueError:
        raise invalid(source, raw, accepted) from None
    if not 1 <= size <= limit:
        raise invalid(source, raw, accepted)
    return size


def _whole(source: str, raw, low: int, high: int, what: str) -> int:
    """0 (keep the default), or a whole number from ``low`` to ``high``."""
    accepted = f"{what} from {low} to {high}"
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise invalid(source, raw, accepted) from None
    if value != 0 and not low <= value <= high:
        raise invalid(source, raw, accepted)
    return value


def _number(source: str, raw, minimum: float) -> float:
    accepted = f"a number >= {minimum:g}"
    try:
        value = float(str(raw).strip())
    except ValueError:
        raise invalid(source, raw, accepted) from None
    if not value >= minimum or value == float("inf"):
        raise invalid(source, raw, accepted)
    return value


def _thresholds(source: str, raw) -> tuple[float, ...]:
    items = raw if isinstance(raw, list) else str(raw).split(",")
    items = [str(i).strip() for i in items if str(i).strip()]
    values = []
    for item in items:
        try:
            value = float(item)
        except ValueError:
            value = -1.0
        if not value > 0 or value == float("inf"):
            raise invalid(
                source, raw, "a comma-separated list of positive seconds"
            )
        values.append(value)
    return tuple(sorted(set(values)))
