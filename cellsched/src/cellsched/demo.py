"""``cellsched demo``: the whole system in one process, no broker.

Seeds SQLite cells under a data directory, serves ``select_destinations``
over oslo.messaging's in-process ``fake://`` transport with the executor of
the current mode, drives a load through a real RPC client on the same
transport, then prints the results, the invariant check and offramp's pool
statistics lines.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import sys
import time

import offramp

from cellsched import cells as cells_mod
from cellsched import config, inventory, load, rpc, schema
from cellsched.cells import CellEngines
from cellsched.scheduler import Scheduler

LOG = logging.getLogger(__name__)
DEFAULT_DEMO_DIR = ".cellsched-demo"


@dataclasses.dataclass
class Embedded:
    """A scheduler serving fresh SQLite cells in this process."""

    cells: list
    engines: CellEngines
    client: rpc.SchedulerClient


@contextlib.contextmanager
def embedded(data_dir: str, n_cells: int, hosts: int, config_files=None,
             host_vcpus: int = 16):
    """Seed fresh SQLite cells under ``data_dir``, serve them over the
    in-process ``fake://`` transport, and yield a client on it.

    The server stops on exit; the engines stay open so that the caller can
    still check the cells, and are the caller's to dispose of.
    """
    # Always from empty cells, so that runs are comparable.
    shutil.rmtree(data_dir, ignore_errors=True)
    cells_mod.mark_scratch_dir(data_dir)
    cells_path = os.path.join(data_dir, "cells.json")
    cells_mod.write_cells_file(
        cells_path, cells_mod.sqlite_cells(data_dir, n_cells))
    conf = config.make_conf(config_files)
    conf.set_override("data_dir", data_dir, group=config.GROUP)
    conf.set_override("cells_file", cells_path, group=config.GROUP)
    conf.set_override("transport_url", "fake://", group=config.GROUP)
    cells = config.load_cells(conf)
    engines = CellEngines(cells)
    for cell in cells:
        schema.create_schema(engines[cell.name])
        inventory.seed_cell(engines[cell.name], cell.name, hosts,
                            host_vcpus, 32768, 1024, ("az1", "az2"))
    scheduler = Scheduler(cells, config.weighers(conf),
                          conf.cellsched.scatter_gather_timeout,
                          conf.cellsched.host_subset_size, engines)
    transport = rpc.get_transport(conf)
    server = rpc.get_server(conf, transport, scheduler)
    server.start()
    try:
        yield Embedded(cells, engines, rpc.SchedulerClient(conf, transport=transport))
    finally:
        server.stop()
        server.wait()
        transport.cleanup()


def run(args) -> int:
    started = time.perf_counter()
    data_dir = os.path.abspath(args.data_dir or DEFAULT_DEMO_DIR)
    print(f"cellsched demo: mode={offramp.current_mode().value}, executor="
          f"{rpc.executor_for_mode()}, {args.cells} cells x {args.hosts} "
          f"hosts (16 vCPU, 32 GiB, 1 TiB each) in {data_dir}")
    with embedded(data_dir, args.cells, args.hosts, args.config_file) as demo:
        client, cells, engines = demo.client, demo.cells, demo.engines
        # Flavor sized so the load over-subscribes the cells: some requests
        # must come back NoValidHost, which exercises the claim races.
        flavor = {"vcpus": 2, "memory_mb": 2048, "disk_gb": 20}
        print(f"sending {args.requests} select_destinations requests, "
              f"{args.concurrency} at a time, flavor {flavor}")
        result = load.run_load(client.select_destinations, rpc.classify,
                               requests=args.requests,
                               concurrency=args.concurrency, flavor=flavor,
                               progress=sys.stderr.isatty())
        print(result.render())

    problems = []
    for cell in cells:
        problems += inventory.check_cell(engines[cell.name], cell.name)
    allocated = sum(inventory.cell_summary(engines[c.name])["allocations"]
                    for c in cells)
    print(f"check: {'OK' if not problems else 'FAILED'}: "
          f"{allocated} allocations in the cells, "
          f"{len(result.selections)} selections returned")
    for p in problems:
        print(f"VIOLATION: {p}")
    print("pool statistics:")
    _print_pool_stats()
    engines.dispose()
    offramp.shutdown_executors()
    print(f"demo finished in {time.perf_counter() - started:.1f}s")
    ok = not problems and allocated == len(result.selections) and \
        sum(result.outcomes.values()) == args.requests
    return 0 if ok else 1


def _print_pool_stats() -> None:
    """Show offramp's own statistics lines on stdout (and only there)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("  %(message)s"))
    offramp_log = logging.getLogger("offramp")
    propagate = offramp_log.propagate
    offramp_log.addHandler(handler)
    offramp_log.propagate = False
    try:
        offramp.log_executor_stats()
    finally:
        offramp_log.removeHandler(handler)
        offramp_log.propagate = propagate
