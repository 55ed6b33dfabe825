"""Host weighers: order the candidates, best first.

Every weigher scores hosts by one quantity; the scores are normalised to
[0, 1] over the candidate list and multiplied by the weigher's multiplier,
so weighers with different units can be summed.  A positive multiplier on
free RAM spreads instances; a negative one stacks them.

Configured as a list of ``name`` or ``name:multiplier`` entries, e.g.
``ram``, ``ram:1.0,cpu:0.5`` or ``ram:-1`` (stack).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Iterable, Sequence

from cellsched.inventory import HostState

WEIGHERS: dict[str, Callable[[HostState], float]] = {
    "ram": lambda h: h.free_memory_mb,
    "cpu": lambda h: h.free_vcpus,
    "disk": lambda h: h.free_disk_gb,
}
DEFAULT_WEIGHERS = ("ram:1.0",)


@dataclasses.dataclass(frozen=True)
class Weigher:
    name: str
    multiplier: float

    def __str__(self) -> str:
        return f"{self.name}:{self.multiplier:g}"


def parse_weighers(entries: Iterable[str]) -> tuple[Weigher, ...]:
    """Parse ``name[:multiplier]`` entries, naming what is accepted."""
    result = []
    for entry in entries:
        name, sep, mult = str(entry).strip().partition(":")
        name = name.strip().lower()
        if name not in WEIGHERS:
            raise ValueError(
                f"unknown weigher {entry!r}; accepted: "
                f"{', '.join(sorted(WEIGHERS))} as name or name:multiplier")
        try:
            multiplier = float(mult) if sep else 1.0
        except ValueError:
            raise ValueError(
                f"weigher {entry!r}: multiplier {mult!r} is not a number "
                f"(e.g. ram:1.0 to spread, ram:-1.0 to stack)") from None
        result.append(Weigher(name, multiplier))
    if not result:
        raise ValueError(
            f"at least one weigher is needed; accepted: "
            f"{', '.join(sorted(WEIGHERS))}")
    return tuple(result)


def weigh_hosts(hosts: Sequence[HostState], weighers: Sequence[Weigher]
                ) -> list[tuple[float, HostState]]:
    """Return (weight, host) pairs sorted best first (stable on ties)."""
    if not hosts:
        return []
    totals = [0.0] * len(hosts)
    for w in weighers:
        raw = [WEIGHERS[w.name](h) for h in hosts]
        lo, hi = min(raw), max(raw)
        span = hi - lo
        for i, value in enumerate(raw):
            norm = (value - lo) / span if span else 0.0
            totals[i] += w.multiplier * norm
    order = sorted(range(len(hosts)), key=lambda i: -totals[i])
    return [(totals[i], hosts[i]) for i in order]
