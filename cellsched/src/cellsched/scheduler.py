"""The scheduling algorithm: gather, filter, weigh, claim.

Host states are read fresh from every cell on every request with
``offramp.scatter_gather``; a cell that fails or is too slow is skipped
with a WARNING (the request is served from the cells that answered) and
never holds the request longer than the scatter-gather timeout.  The
snapshot is only a guide: the conditional-update claim decides.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import Counter

import offramp

from cellsched import claims
from cellsched.cells import Cell, CellEngines
from cellsched.filters import filter_hosts, rejection
from cellsched.inventory import read_cell
from cellsched.request import Flavor, InvalidRequest, parse_request_spec
from cellsched.weighers import Weigher, weigh_hosts

LOG = logging.getLogger(__name__)


class NoValidHost(Exception):
    """No host could take (all of) the request; the message says why."""


class Scheduler:
    """Stateless between requests apart from counters and DB engines."""

    def __init__(self, cells: list[Cell], weighers: tuple[Weigher, ...],
                 scatter_gather_timeout: float = 5.0,
                 host_subset_size: int = 1,
                 engines: CellEngines | None = None):
        if not cells:
            raise ValueError("the scheduler needs at least one cell")
        self.cells = list(cells)
        self.weighers = tuple(weighers)
        self.timeout = scatter_gather_timeout
        self.host_subset_size = max(1, host_subset_size)
        self.engines = engines or CellEngines(self.cells)
        self._lock = threading.Lock()
        self.counters: Counter = Counter()

    def _count(self, **deltas: int) -> None:
        with self._lock:
            self.counters.update(deltas)

    def _read_cell(self, cell_name: str, consumers=()):
        return read_cell(self.engines[cell_name], cell_name, consumers)

    def connect(self, count: int, timeout: float) -> dict:
        """Before serving: open ``count`` pooled connections to every cell,
        all cells at once, and run each statement a request runs once, so
        the first requests pay neither the connections (with the dialect's
        set-up queries) nor the statements' compilation.  Waits at most
        ``timeout`` seconds; a cell still busy then finishes on its own.

        Returns ``{cell: connections opened, or the failure}`` (an exception
        or ``offramp.DID_NOT_RESPOND``).
        """
        names = [c.name for c in self.cells]
        results = offramp.scatter_gather(names, self._connect_cell, count,
                                         timeout=timeout)
        return {n: results.get(n, offramp.DID_NOT_RESPOND) for n in names}

    def _connect_cell(self, name: str, count: int) -> int:
        opened = self.engines.open_connections(name, count)
        engine = self.engines[name]
        nobody = "00000000-0000-0000-0000-000000000000"
        # One read, in the form a caller naming its instances gets (the
        # bare form costs a compile of about 1 ms at its first use): a
        # second read would double the time a slow cell holds this task.
        read_cell(engine, name, (nobody,))
        # Node ids start at 1: this claim updates nothing, but its
        # statement is compiled now.
        claims.claim(engine, 0, nobody, Flavor(1, 1, 0))
        return opened

    def gather(self, consumers=()) -> tuple[list, list[str], dict]:
        """All host states from the cells that answered, the cells that did
        not (failed or timed out; logged and skipped), and the existing
        allocations of ``consumers`` in the cells that answered."""
        names = [c.name for c in self.cells]
        results = offramp.scatter_gather(names, self._read_cell,
                                         tuple(consumers),
                                         timeout=self.timeout)
        hosts, skipped, existing = [], [], {}
        for name in names:
            value = results.get(name, offramp.DID_NOT_RESPOND)
            if offramp.is_failure(value):
                skipped.append(name)
                if value is offramp.DID_NOT_RESPOND:
                    LOG.warning("Cell %s did not respond within %.1fs; "
                                "skipping it for this request", name,
                                self.timeout)
                else:
                    LOG.warning("Cell %s failed (%s: %s); skipping it for "
                                "this request", name,
                                type(value).__name__, value)
            else:
                hosts.extend(value[0])
                existing.update(value[1])
        if skipped:
            self._count(cells_skipped=len(skipped))
        return hosts, skipped, existing

    def select_destinations(self, request_spec) -> list[dict]:
        """Place every instance of the request, or raise.

        Raises InvalidRequest (bad input, nothing claimed) or NoValidHost
        (claims made for this request are released first).
        """
        self._count(requests=1)
        try:
            spec = parse_request_spec(request_spec)
        except InvalidRequest:
            self._count(invalid=1)
            raise
        hosts, skipped, existing = self.gather(
            spec.instance_uuids if spec.uuids_from_caller else ())
        candidates, rejected = filter_hosts(hosts, spec)
        # Equal weights are common (identical hosts); shuffling before the
        # stable sort breaks ties randomly, so concurrent requests do not
        # all race for the same first host.
        random.shuffle(candidates)
        selections: list[dict] = []
        lost_races = errors = 0
        try:
            for instance_uuid in spec.instance_uuids:
                if instance_uuid in existing:
                    # A retry of a request whose reply was lost: the claim
                    # was made, hand it back instead of claiming twice.
                    selections.append(self._reuse(
                        existing[instance_uuid], spec.flavor))
                    continue
                placed = False
                while candidates and not placed:
                    ordered = [h for _, h in
                               weigh_hosts(candidates, self.weighers)]
                    k = min(self.host_subset_size, len(ordered))
                    host = ordered[random.randrange(k)] if k > 1 \
                        else ordered[0]
                    try:
                        won = claims.claim(self.engines[host.cell], host.id,
                                           instance_uuid, spec.flavor)
                    except claims.ConsumerAlreadyAllocated:
                        raise InvalidRequest(
                            f"request_spec.instance_uuids: {instance_uuid} "
                            f"already has an allocation in cell "
                            f"{host.cell}; use a new UUID") from None
                    except Exception as exc:
                        errors += 1
                        LOG.warning("Claim on %s/%s failed (%s: %s); trying "
                                    "the next host", host.cell, host.host,
                                    type(exc).__name__, exc)
                        won = False
                    else:
                        if not won:
                            lost_races += 1
                    if won:
                        placed = True
                        selections.append({
                            "instance_uuid": instance_uuid,
                            "cell": host.cell, "host": host.host,
                            "node_uuid": host.uuid,
                            "availability_zone": host.availability_zone})
                        # Only this host changed: check it alone again.
                        host.consume(spec.flavor)
                        reason = rejection(host, spec)
                        if reason is not None:
                            candidates.remove(host)
                            rejected[reason] += 1
                    else:
                        candidates.remove(host)
                if not placed:
                    raise NoValidHost(self._reason(
                        spec, len(hosts), skipped, rejected, lost_races,
                        errors, len(selections),
                        zones={h.availability_zone for h in hosts}))
        except Exception as exc:
            self._release(selections)
            if isinstance(exc, NoValidHost):
                self._count(no_valid_host=1)
            elif isinstance(exc, InvalidRequest):
                self._count(invalid=1)
            else:
                self._count(errors=1)
            raise
        finally:
            self._count(lost_races=lost_races, claim_errors=errors)
        self._count(selected=1, instances=len(selections))
        return selections

    def _reuse(self, found: dict, flavor) -> dict:
        wanted = (flavor.vcpus, flavor.memory_mb, flavor.disk_gb)
        sel = found["selection"]
        if tuple(found["resources"]) != wanted:
            raise InvalidRequest(
                f"request_spec.instance_uuids: {sel['instance_uuid']} "
                f"already has an allocation of {found['resources']} "
                f"(vcpus, memory_mb, disk_gb) in cell {sel['cell']}, not "
                f"{wanted}; use a new UUID")
        self._count(reused=1)
        return dict(sel)

    def _release(self, selections: list[dict]) -> None:
        for sel in selections:
            try:
                claims.release(self.engines[sel["cell"]],
                               sel["instance_uuid"])
            except Exception:
                LOG.exception("Could not release the claim of %s on %s/%s; "
                              "'cellsched check' will report it",
                              sel["instance_uuid"], sel["cell"], sel["host"])

    def _reason(self, spec, nhosts, skipped, rejected, lost_races, errors,
                placed, zones=None) -> str:
        zone = spec.availability_zone
        # An unknown zone is a typo more often than a full zone: say which
        # zones exist (a few), and name the asked-for zone only there.
        unknown_zone = zones is not None and zone and zone not in zones
        parts = [f"No valid host for {spec.num_instances} x "
                 f"(vcpus={spec.flavor.vcpus}, "
                 f"memory_mb={spec.flavor.memory_mb}, "
                 f"disk_gb={spec.flavor.disk_gb})"
                 + (f" in zone {zone!r}" if zone and not unknown_zone
                    else "")
                 + f": {nhosts} hosts considered"]
        if placed:
            parts.append(f"only {placed} could be placed (released)")
        if rejected:
            parts.append("rejected: " + ", ".join(
                f"{n} {r}" for r, n in rejected.most_common()))
        if unknown_zone:
            known = sorted(zones)
            more = f" and {len(known) - 10} more" if len(known) > 10 else ""
            parts.append(f"no host is in zone {zone!r}; zones with hosts: "
                         f"{', '.join(known[:10]) or 'none'}{more}")
        if lost_races:
            parts.append(f"{lost_races} claims lost to concurrent requests")
        if errors:
            parts.append(f"{errors} claims failed with database errors")
        if skipped:
            parts.append("cells skipped (failed or timed out): "
                         + ", ".join(skipped))
        return "; ".join(parts)
