"""cellsched's scheduler driven directly, without RPC: CPU per request.

The A/B harness measures the whole service. This isolates the part that
differs between the modes, the scheduler's database work under
concurrency, so a change to it can be measured in seconds::

    OFFRAMP_CONCURRENCY=threading python bench/bench_scheduler.py -c 10
    OFFRAMP_CONCURRENCY=eventlet  python bench/bench_scheduler.py -c 10
    python bench/bench_scheduler.py --mysql root@127.0.0.1 -c 5

Each run seeds fresh cells (SQLite files in a temporary directory, or
MariaDB databases ``bench_sched_cellN`` that are dropped at the end), sends
a warm-up, then ``-n`` requests from ``-c`` callers, and prints throughput,
latency and the process's CPU time per request. The process pins itself
with ``offramp.pin_worker()``, as a cellsched worker does.
"""

import offramp

offramp.bootstrap()

import argparse  # noqa: E402  (after bootstrap: the rule for every entry point)
import contextlib  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

from cellsched import cells as cells_mod  # noqa: E402
from cellsched import config, inventory, load, rpc, schema  # noqa: E402
from cellsched.cells import CellEngines  # noqa: E402
from cellsched.scheduler import Scheduler  # noqa: E402


@contextlib.contextmanager
def _cell_urls(mysql: str | None, count: int):
    if not mysql:
        with tempfile.TemporaryDirectory(prefix="bench-sched-") as tmp:
            yield cells_mod.sqlite_cells(tmp, count)
        return
    import sqlalchemy as sa
    names = [f"bench_sched_cell{i}" for i in range(1, count + 1)]
    admin = sa.create_engine(f"mysql+pymysql://{mysql}/",
                             isolation_level="AUTOCOMMIT",
                             poolclass=sa.pool.NullPool)

    def sql(*statements):
        with admin.connect() as conn:
            for stmt in statements:
                conn.execute(sa.text(stmt))

    sql(*(stmt for n in names
          for stmt in (f"DROP DATABASE IF EXISTS `{n}`",
                       f"CREATE DATABASE `{n}`")))
    try:
        yield {f"cell{i}": f"mysql+pymysql://{mysql}/{n}"
               for i, n in enumerate(names, 1)}
    finally:
        sql(*(f"DROP DATABASE IF EXISTS `{n}`" for n in names))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", type=int, default=3)
    p.add_argument("--hosts", type=int, default=20, help="hosts per cell")
    p.add_argument("-n", "--requests", type=int, default=600)
    p.add_argument("-c", "--concurrency", type=int, default=10)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--mysql", metavar="USER[:PASS]@HOST[:PORT]",
                   help="MariaDB cells instead of SQLite files")
    args = p.parse_args()
    # Pinned like a cellsched worker (offramp's default: threading only).
    pinned_cpu = offramp.pin_worker()

    with _cell_urls(args.mysql, args.cells) as urls:
        cells = [cells_mod.cell_from_entry(name, url)
                 for name, url in urls.items()]
        engines = CellEngines(cells)
        for cell in cells:
            schema.create_schema(engines[cell.name])
            inventory.seed_cell(engines[cell.name], cell.name, args.hosts,
                                16, 32768, 1024, ("az1", "az2"))
        conf = config.make_conf(None)
        scheduler = Scheduler(cells, config.weighers(conf), 5.0, 1, engines)

        def call(spec):
            # A new instance uuid per request, as cellsched's client sends.
            return scheduler.select_destinations(
                {**spec, "instance_uuids": [str(uuid.uuid4())]})

        def run(requests):
            return load.run_load(call, rpc.classify, requests=requests,
                                 concurrency=args.concurrency)

        if args.warmup:
            run(args.warmup)
        lost = scheduler.counters["lost_races"]
        cpu = time.process_time()
        result = run(args.requests)
        cpu_ms = (time.process_time() - cpu) * 1000 / args.requests
        lost = scheduler.counters["lost_races"] - lost
        engines.dispose()
    offramp.shutdown_executors()
    kind = "MariaDB" if args.mysql else "SQLite"
    print(f"{offramp.current_mode().value} mode, {args.cells} {kind} cells x "
          f"{args.hosts} hosts, "
          f"{'any CPU' if pinned_cpu is None else f'pinned to CPU {pinned_cpu}'}, "
          f"{args.requests} requests, "
          f"{args.concurrency} callers: {result.throughput:.0f} req/s, "
          f"CPU {cpu_ms:.2f} ms/request, p50 {result.percentile(50):.1f} "
          f"ms, p99 {result.percentile(99):.1f} ms, outcomes "
          f"{dict(result.outcomes)}, claims lost to concurrent requests "
          f"{lost}")


if __name__ == "__main__":
    main()
