"""The ``cellsched`` command line.

``offramp.bootstrap()`` is the first statement of ``main()``; every module
that pulls in oslo.messaging or oslo.service (rpc, service, demo) is
imported inside the subcommand that needs it, after the mode is set.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys

import offramp
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from cellsched.cells import CellConfigError
from cellsched.provision import DatabaseMissing

LOG = logging.getLogger("cellsched")

# --- shared option plumbing -------------------------------------------------

_OVERRIDES = {  # argparse dest -> [cellsched] option
    "data_dir": "data_dir", "cells_file": "cells_file", "topic": "topic",
    "transport_url": "transport_url", "workers": "workers",
    "scatter_gather_timeout": "scatter_gather_timeout",
    "weighers": "weighers", "host_subset_size": "host_subset_size",
    "stats_interval": "stats_interval", "rpc_timeout": "rpc_timeout",
    "warm_connections": "warm_connections",
}


def _common() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--config-file", action="append", default=[],
                   metavar="PATH", help="oslo.config file ([cellsched] "
                   "group); may be repeated")
    p.add_argument("--data-dir", help="directory of the embedded SQLite "
                   "cells (default .cellsched-data)")
    p.add_argument("--cells-file", help="JSON cells file (default "
                   "<data-dir>/cells.json)")
    p.add_argument("--debug", action="store_true", help="debug logging")
    return p


def _rpc_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--transport-url", help="e.g. "
                   "rabbit://guest:guest@127.0.0.1:5672/")
    p.add_argument("--topic", help="RPC topic (default cellsched)")


def _flavor_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--vcpus", type=int, default=1)
    p.add_argument("--memory-mb", type=int, default=512)
    p.add_argument("--disk-gb", type=int, default=10)
    p.add_argument("--az", dest="availability_zone", default=None,
                   help="availability zone to schedule into")


def _conf(args):
    from cellsched import config
    conf = config.make_conf(args.config_file)
    for dest, opt in _OVERRIDES.items():
        value = getattr(args, dest, None)
        if value is not None:
            if opt == "weighers" and isinstance(value, str):
                value = [v for v in value.split(",") if v.strip()]
            conf.set_override(opt, value, group=config.GROUP)
    return conf


def _flavor(args) -> dict:
    return {"vcpus": args.vcpus, "memory_mb": args.memory_mb,
            "disk_gb": args.disk_gb}


# --- subcommands ------------------------------------------------------------

def cmd_init(args) -> int:
    from cellsched import cells, config, provision, schema
    conf = _conf(args)
    path = config.cells_file(conf)
    if not os.path.exists(path):
        if args.cells_file:
            raise CellConfigError(f"cells file {path!r} does not exist")
        cells.mark_scratch_dir(conf.cellsched.data_dir)
        cells.write_cells_file(path, cells.sqlite_cells(
            conf.cellsched.data_dir, args.cells))
        print(f"wrote {path} with {args.cells} SQLite cells")
    for cell in config.load_cells(conf):
        if args.create_database and provision.create_database(cell):
            print(f"{cell.name}: database created ({cell.masked_url})")
        engine = cells.create_engine(cell)
        try:
            schema.create_schema(engine)
        except OperationalError:
            provision.check_database_exists(cell)
            raise
        finally:
            engine.dispose()
        print(f"{cell.name}: schema ready ({cell.masked_url})")
    return 0


def cmd_seed(args) -> int:
    from cellsched import cells, config, inventory
    conf = _conf(args)
    zones = [z.strip() for z in args.availability_zones.split(",")
             if z.strip()]
    total = 0
    for cell in config.load_cells(conf):
        engine = cells.create_engine(cell)
        try:
            n = inventory.seed_cell(engine, cell.name, args.hosts,
                                    args.vcpus, args.memory_mb,
                                    args.disk_gb, zones)
        finally:
            engine.dispose()
        total += args.hosts
        LOG.debug("%s: now %d hosts", cell.name, n)
    print(f"seeded {total} hosts ({args.hosts} per cell)")
    return 0


def cmd_check(args) -> int:
    from cellsched import cells, config, inventory
    conf = _conf(args)
    problems, report = [], {}
    for cell in config.load_cells(conf):
        engine = cells.create_engine(cell)
        try:
            problems += inventory.check_cell(engine, cell.name)
            report[cell.name] = inventory.cell_summary(engine)
        except Exception as exc:
            problems.append(f"{cell.name}: cannot check "
                            f"({type(exc).__name__}: {exc})")
        finally:
            engine.dispose()
    if args.json:
        print(json.dumps({"ok": not problems, "cells": report,
                          "violations": problems}, sort_keys=True))
    else:
        for name, s in report.items():
            print(f"{name}: {s['nodes']} nodes, {s['allocations']} "
                  f"allocations, vcpus {s['vcpus_used']}/{s['vcpus']}, "
                  f"memory_mb {s['memory_mb_used']}/{s['memory_mb']}")
        for p in problems:
            print(f"VIOLATION: {p}")
        print("check: OK" if not problems
              else f"check: FAILED ({len(problems)} violations)")
    return 0 if not problems else 1


def cmd_serve(args) -> int:
    import faulthandler
    import signal
    from cellsched import service
    # Operators' first question about a stuck worker is "where?":
    # kill -USR2 <pid> prints every thread's stack to the log.
    faulthandler.register(signal.SIGUSR2, all_threads=True)
    service.exit_now(service.serve(_conf(args)))


def cmd_schedule(args) -> int:
    from cellsched import rpc
    conf = _conf(args)
    client = rpc.SchedulerClient(conf)
    spec = {"flavor": _flavor(args), "num_instances": args.num_instances}
    if args.availability_zone:
        spec["availability_zone"] = args.availability_zone
    try:
        selections = client.select_destinations(spec)
    except Exception as exc:
        outcome = rpc.classify(exc)
        if args.json:
            print(json.dumps({"error": outcome,
                              "message": rpc.error_message(exc)}))
        else:
            print(f"{outcome}: {rpc.error_message(exc)}")
        return 1
    finally:
        client.close()
    if args.json:
        print(json.dumps(selections, sort_keys=True))
    else:
        for s in selections:
            print(f"{s['instance_uuid']} -> {s['cell']}/{s['host']} "
                  f"(zone {s['availability_zone']})")
    return 0


def cmd_load(args) -> int:
    from cellsched import load, rpc
    conf = _conf(args)
    client = rpc.SchedulerClient(conf)
    progress = args.progress if args.progress is not None \
        else sys.stderr.isatty()
    try:
        result = load.run_load(
            client.select_destinations, rpc.classify,
            requests=args.requests, concurrency=args.concurrency,
            flavor=_flavor(args),
            availability_zone=args.availability_zone, progress=progress)
    finally:
        client.close()
    print(result.to_json() if args.json else result.render())
    return 0


def cmd_demo(args) -> int:
    from cellsched import demo
    return demo.run(args)


# --- parser -----------------------------------------------------------------

def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="cellsched",
        description="Multi-cell VM scheduler (offramp reference service). "
                    "Mode from OFFRAMP_CONCURRENCY=threading|eventlet.",
        epilog="Exit codes: 0 done; 1 'check' found a violation or "
               "'schedule' got an error reply; 2 bad input (options, config "
               "or cells file); 3 a database error (server unreachable, "
               "access denied, database missing).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("init", parents=[common],
                       help="create the cells' schemas")
    p.add_argument("--cells", type=_positive_int, default=3,
                   help="number of SQLite cells when no cells file exists "
                        "yet (default 3)")
    p.add_argument("--create-database", action="store_true",
                   help="create each cell's database first if it is "
                        "missing (MariaDB, PostgreSQL; needs the right to "
                        "create databases)")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("seed", parents=[common],
                       help="add compute nodes to every cell")
    p.add_argument("--hosts", type=_positive_int, default=20,
                   help="hosts to add per cell (default 20)")
    p.add_argument("--vcpus", type=_positive_int, default=16)
    p.add_argument("--memory-mb", type=_positive_int, default=32768)
    p.add_argument("--disk-gb", type=_positive_int, default=1024)
    p.add_argument("--availability-zones", default="nova",
                   help="comma-separated zones, assigned round-robin")
    p.set_defaults(func=cmd_seed)

    p = sub.add_parser("check", parents=[common],
                       help="verify invariants; non-zero exit on violation")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("serve", parents=[common],
                       help="run the RPC scheduler service")
    _rpc_opts(p)
    p.add_argument("--workers", type=_positive_int)
    p.add_argument("--scatter-gather-timeout", type=float)
    p.add_argument("--weighers", help="e.g. ram:1.0,cpu:0.5")
    p.add_argument("--host-subset-size", type=_positive_int)
    p.add_argument("--stats-interval", type=float)
    p.add_argument("--warm-connections", type=int, metavar="N",
                   help="connections per cell each worker opens before "
                        "serving (default 2; 0: on first use)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("schedule", parents=[common],
                       help="send one request and print the selection")
    _rpc_opts(p)
    _flavor_opts(p)
    p.add_argument("--num-instances", type=_positive_int, default=1)
    p.add_argument("--rpc-timeout", type=_positive_int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_schedule)

    p = sub.add_parser("load", parents=[common],
                       help="send N requests, C at a time")
    _rpc_opts(p)
    _flavor_opts(p)
    p.add_argument("-n", "--requests", type=_positive_int, default=100)
    p.add_argument("-c", "--concurrency", type=_positive_int, default=10)
    p.add_argument("--rpc-timeout", type=_positive_int)
    p.add_argument("--json", action="store_true")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction,
                   default=None, help="rich progress bar (default: on a "
                   "terminal)")
    p.set_defaults(func=cmd_load)

    p = sub.add_parser("demo", parents=[common],
                       help="seed SQLite cells, serve in-process over "
                            "fake://, send a load, print results")
    p.add_argument("-n", "--requests", type=_positive_int, default=1000)
    p.add_argument("-c", "--concurrency", type=_positive_int, default=20)
    p.add_argument("--cells", type=_positive_int, default=3)
    p.add_argument("--hosts", type=_positive_int, default=20)
    p.set_defaults(func=cmd_demo)
    return parser


def setup_logging(debug: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO, stream=sys.stderr,
        format="%(asctime)s %(process)d %(levelname)s %(name)s: "
               "%(message)s")
    for noisy in ("amqp", "kombu", "stevedore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # A load client deliberately opens more calls than the default
    # connection pool size; oslo.messaging warns on every call then.
    for noisy in ("oslo.messaging._drivers.pool",
                  "oslo_messaging._drivers.amqpdriver"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


def _first_config_file(argv: list[str]) -> str | None:
    """The first --config-file, so its [offramp] group (pool sizes, mode)
    reaches bootstrap, which has to run before anything else."""
    for i, arg in enumerate(argv):
        if arg == "--config-file" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--config-file="):
            return arg.split("=", 1)[1]
    return None


_OSLO_BAD_VALUE = re.compile(
    r"Value for option (?P<opt>\w+) from LocationInfo\(.*detail='"
    r"(?P<file>[^']*)'\) is not valid: (?P<why>.*)", re.S)


def _with_value(exc: Exception) -> str:
    """oslo.config says which option and file are wrong, but for a value out
    of range not the value itself: add it, read from that file."""
    m = _OSLO_BAD_VALUE.match(str(exc))
    if not m:
        return str(exc)
    import configparser
    parser = configparser.RawConfigParser(strict=False)
    try:
        parser.read(m["file"], encoding="utf-8")
        raw = parser.get("cellsched", m["opt"])
    except (configparser.Error, UnicodeDecodeError):
        return str(exc)
    return (f"[cellsched] {m['opt']} = {raw!r} in {m['file']} is not "
            f"valid: {m['why']}")


def main(argv: list[str] | None = None) -> int:
    try:
        offramp.bootstrap(config_file=_first_config_file(
            sys.argv[1:] if argv is None else argv))
    except (offramp.ConfigurationError, offramp.ModeError) as exc:
        print(f"cellsched: error: {exc}", file=sys.stderr)
        return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    setup_logging(args.debug)
    try:
        return int(args.func(args) or 0)
    except (CellConfigError, ValueError) as exc:
        print(f"cellsched {args.command}: error: {_with_value(exc)}",
              file=sys.stderr)
        return 2
    except DatabaseMissing as exc:
        print(f"cellsched {args.command}: database error: {exc}",
              file=sys.stderr)
        return 3
    except SQLAlchemyError as exc:
        # Driver messages carry host/port, never the password.
        print(f"cellsched {args.command}: database error: "
              f"{type(exc).__name__}: {exc.args[0] if exc.args else exc}",
              file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130
