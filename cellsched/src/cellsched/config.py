"""Configuration through oslo.config: the ``[cellsched]`` group.

Only oslo.config is imported here (never oslo.messaging/oslo.service), so
the CLI can build its configuration before ``offramp.bootstrap()`` decided
the concurrency backend.
"""

from __future__ import annotations

import os

from oslo_config import cfg

from cellsched import cells as cells_mod
from cellsched.weighers import DEFAULT_WEIGHERS, parse_weighers

GROUP = "cellsched"
DEFAULT_DATA_DIR = ".cellsched-data"

OPTS = [
    cfg.StrOpt("data_dir", default=DEFAULT_DATA_DIR,
               help="Directory for the embedded SQLite cells and their "
                    "cells file."),
    cfg.StrOpt("cells_file",
               help="JSON file mapping cell names to database URLs. "
                    "Default: <data_dir>/cells.json."),
    cfg.StrOpt("topic", default="cellsched",
               help="RPC topic the scheduler consumes."),
    cfg.StrOpt("transport_url", default="fake://", secret=True,
               help="oslo.messaging transport, e.g. "
                    "rabbit://guest:guest@127.0.0.1:5672/; fake:// is the "
                    "in-process transport (single-process demo only)."),
    cfg.IntOpt("workers", default=1, min=1, max=64,
               help="Scheduler worker processes."),
    cfg.FloatOpt("scatter_gather_timeout", default=5.0, min=0.05,
                 help="Seconds to wait for each cell's host states; slower "
                      "cells are skipped for that request."),
    cfg.ListOpt("weighers", default=list(DEFAULT_WEIGHERS),
                help="Weighers as name or name:multiplier (ram, cpu, disk); "
                     "ram:1.0 spreads by free RAM, ram:-1.0 stacks."),
    cfg.IntOpt("host_subset_size", default=1, min=1,
               help="Pick randomly among the best N hosts, to reduce "
                    "claim races between concurrent requests."),
    cfg.FloatOpt("connect_timeout", default=cells_mod.DEFAULT_CONNECT_TIMEOUT,
                 min=0.1, help="Default per-cell DB connect timeout (s)."),
    cfg.FloatOpt("read_timeout", default=cells_mod.DEFAULT_READ_TIMEOUT,
                 min=0.1, help="Default per-cell DB client read timeout (s)."),
    cfg.FloatOpt("statement_timeout",
                 default=cells_mod.DEFAULT_STATEMENT_TIMEOUT, min=0.1,
                 help="Default per-cell server-side statement timeout (s)."),
    cfg.IntOpt("warm_connections", default=2, min=0, max=10,
               help="Connections each worker opens to every cell before it "
                    "takes its first request (at start and after a "
                    "respawn), so no request pays for connecting; 0 "
                    "connects on first use."),
    cfg.FloatOpt("stats_interval", default=30.0, min=0,
                 help="Seconds between pool statistics log lines; 0 logs "
                      "only at stop."),
    cfg.IntOpt("rpc_timeout", default=60, min=1,
               help="Client-side RPC call timeout (s)."),
]


def list_opts():
    return [(GROUP, OPTS)]


def make_conf(config_files: list[str] | None = None) -> cfg.ConfigOpts:
    """The global ConfigOpts, cleared, with our group and files parsed.

    It has to be the global ``cfg.CONF``: oslo.messaging registers some of
    its options (tracing) only there and looks them up on whatever conf it
    is given.  Clearing first drops overrides left by an earlier in-process
    run (tests, demo).
    """
    conf = cfg.CONF
    conf.clear()
    conf.register_opts(OPTS, group=GROUP)
    for path in config_files or []:
        if not os.path.isfile(path):
            raise ValueError(f"config file {path!r} does not exist")
    conf(args=[], project="cellsched",
         default_config_files=list(config_files or []))
    return conf


def cells_file(conf: cfg.ConfigOpts) -> str:
    g = conf[GROUP]
    return g.cells_file or os.path.join(g.data_dir, "cells.json")


def timeout_defaults(conf: cfg.ConfigOpts) -> dict:
    g = conf[GROUP]
    return {"connect_timeout": g.connect_timeout,
            "read_timeout": g.read_timeout,
            "statement_timeout": g.statement_timeout}


def load_cells(conf: cfg.ConfigOpts) -> list[cells_mod.Cell]:
    return cells_mod.load_cells_file(cells_file(conf),
                                     timeout_defaults(conf))


def weighers(conf: cfg.ConfigOpts):
    return parse_weighers(conf[GROUP].weighers)
