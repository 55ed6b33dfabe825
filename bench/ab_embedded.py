"""One embedded cellsched run for the A/B harness (``bench/ab.py``).

Scheduler, RPC server and load client share one process over
oslo.messaging's in-process ``fake://`` transport and SQLite cells -- what
``cellsched demo`` does -- but paced by the harness over stdin/stdout, so
memory can be sampled at fixed points from outside:

1. seed fresh cells in ``--data-dir``, start serving, send ``--warmup``
   requests, print ``{"phase": "warm"}`` and wait for a line on stdin;
2. send the measured load, print its result as one JSON line and wait for
   a line on stdin (the harness takes the "end" sample meanwhile);
3. stop cleanly and exit.

The mode comes from ``OFFRAMP_CONCURRENCY`` like in any offramp process.
"""

import offramp

offramp.bootstrap()

import argparse  # noqa: E402  (after bootstrap: the rule for every entry point)
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402

from cellsched import demo, load, rpc  # noqa: E402


def _say(obj: dict) -> None:
    print(json.dumps(obj), flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True)
    p.add_argument("--cells", type=int, default=3)
    p.add_argument("--hosts", type=int, default=20)
    p.add_argument("--host-vcpus", type=int, default=16)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("-n", "--requests", type=int, default=300)
    p.add_argument("-c", "--concurrency", type=int, default=10)
    args = p.parse_args()

    data_dir = os.path.abspath(args.data_dir)
    # This process is the service's one worker: it pins itself as every
    # ``cellsched serve`` worker does.
    offramp.pin_worker()
    with demo.embedded(data_dir, args.cells, args.hosts,
                       host_vcpus=args.host_vcpus) as system:
        client = system.client
        if args.warmup:
            load.run_load(client.select_destinations, rpc.classify,
                          requests=args.warmup, concurrency=args.concurrency)
        _say({"phase": "warm", "pid": os.getpid(),
              "mode": offramp.current_mode().value})
        sys.stdin.readline()
        result = load.run_load(client.select_destinations, rpc.classify,
                               requests=args.requests,
                               concurrency=args.concurrency)
        _say({"phase": "done", "load": result.as_dict()})
        sys.stdin.readline()
    system.engines.dispose()
    offramp.shutdown_executors()
    shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
