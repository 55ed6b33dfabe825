"""``cellsched serve``: the scheduler as an oslo.service service.

Lifecycle per worker process:

* start(): pin the worker to one CPU (``offramp.pin_worker``); build
  engines, scheduler, transport and RPC server *in the worker* (sockets
  and pools must not cross a fork); connect to every cell and run a
  request's statements once (warm_connections); start consuming; start
  the periodic pool-statistics logger;
* stop(): stop consuming, wait for the in-flight requests to finish and be
  answered (drain, rpc.DrainingRPCServer), log final statistics, then close
  everything;
* reset(): used by the eventlet launcher on SIGHUP after the config files
  were re-read; the threading launcher (cotyledon) restarts the worker
  instead.  Either way a SIGHUP picks up the new configuration.

Imported only after ``offramp.bootstrap()``.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time

import offramp
from oslo_service import service as oslo_service

from cellsched import config, rpc
from cellsched.cells import CellEngines, mask_url
from cellsched.scheduler import Scheduler

LOG = logging.getLogger(__name__)


def log_stats(scheduler: Scheduler | None) -> None:
    offramp.log_executor_stats()
    if scheduler is not None:
        with scheduler._lock:
            counters = dict(scheduler.counters)
        LOG.info("Scheduler counters (pid %d): %s", os.getpid(),
                 ", ".join(f"{k}={v}" for k, v in sorted(counters.items()))
                 or "none yet")


class SchedulerService(oslo_service.ServiceBase):
    def __init__(self, conf):
        super().__init__()
        self.conf = conf
        self.scheduler = None
        self.server = None
        self.transport = None
        self._stopped = threading.Event()   # tells the stats loop to end
        self._done = threading.Event()      # set once drained
        self._stats_thread = None

    def start(self):
        # Before the RPC server starts its threads; see offramp.pin_worker.
        cpu = offramp.pin_worker()
        cells = config.load_cells(self.conf)
        g = self.conf.cellsched
        self.scheduler = Scheduler(
            cells, config.weighers(self.conf),
            scatter_gather_timeout=g.scatter_gather_timeout,
            host_subset_size=g.host_subset_size,
            engines=CellEngines(cells))
        self._connect_cells(g.warm_connections)
        rpc.limit_prefetch(self.conf)
        self.transport = rpc.get_transport(self.conf)
        self.server = rpc.get_server(self.conf, self.transport,
                                     self.scheduler)
        self._stopped.clear()
        self._done.clear()
        self.server.start()
        LOG.info("cellsched worker %d serving topic %r in %s mode "
                 "(executor %s, %s) over %d cells: %s; weighers %s",
                 os.getpid(), g.topic, offramp.current_mode().value,
                 rpc.executor_for_mode(),
                 "any CPU" if cpu is None else f"CPU {cpu}", len(cells),
                 ", ".join(str(c) for c in cells),
                 ",".join(str(w) for w in self.scheduler.weighers))
        if g.stats_interval > 0:
            self._stats_thread = threading.Thread(
                target=self._stats_loop, args=(g.stats_interval,),
                name="cellsched-stats", daemon=True)
            self._stats_thread.start()

    def _connect_cells(self, count: int) -> None:
        """Connect to the cells before the first message is taken, so that
        no request pays for it (a respawned worker included).  A cell that
        has not answered within the scatter-gather timeout (or its connect
        timeout, if longer) is left to the requests."""
        if count <= 0:
            return
        timeout = max(self.scheduler.timeout,
                      *(c.connect_timeout for c in self.scheduler.cells))
        start = time.monotonic()
        results = self.scheduler.connect(count, timeout)
        failed = {n: r for n, r in results.items() if offramp.is_failure(r)}
        LOG.info("cellsched worker %d connected to %d of %d cells in %.0f ms "
                 "before serving (%d connections each)", os.getpid(),
                 len(results) - len(failed), len(results),
                 (time.monotonic() - start) * 1000, count)
        for name, failure in failed.items():
            LOG.warning(
                "Cell %s not connected before serving (%s); requests will "
                "connect to it", name,
                f"no answer within {timeout:g}s"
                if failure is offramp.DID_NOT_RESPOND
                else f"{type(failure).__name__}: {failure}")

    def _stats_loop(self, interval: float) -> None:
        while not self._stopped.wait(interval):
            try:
                log_stats(self.scheduler)
            except Exception:
                LOG.exception("Could not log pool statistics")

    def stop(self, graceful=True):
        if self.server is None:
            return
        LOG.info("cellsched worker %d stopping: draining in-flight "
                 "requests", os.getpid())
        self._stopped.set()
        server, self.server = self.server, None
        # No new messages; the requests already taken finish and reply.
        server.stop_and_drain()
        log_stats(self.scheduler)
        LOG.info("cellsched worker %d drained", os.getpid())
        self.transport.cleanup()
        self.scheduler.engines.dispose()
        self._done.set()

    def wait(self):
        self._done.wait()

    def reset(self):
        LOG.info("cellsched worker %d reloading configuration",
                 os.getpid())


def serve(conf) -> int:
    """Launch ``workers`` processes and block until they are gone."""
    # Validate in the parent so a bad cells file fails fast with one
    # clear message instead of N crashing workers.
    cells = config.load_cells(conf)
    config.weighers(conf)
    workers = conf.cellsched.workers
    LOG.info("Starting cellsched: %d worker(s), %d cells, topic %r, "
             "transport %s, mode %s", workers, len(cells),
             conf.cellsched.topic, mask_url(conf.cellsched.transport_url),
             offramp.current_mode().value)
    # Pools own threads; threads do not survive fork.  Start clean.
    offramp.shutdown_executors()
    launcher = oslo_service.launch(conf, SchedulerService(conf),
                                   workers=workers, restart_method="reload")
    try:
        rc = launcher.wait()
    except SystemExit as exc:  # cotyledon's master ends with sys.exit(0)
        rc = exc.code
    return int(rc or 0)


def exit_now(rc: int) -> None:
    """End the process once the workers are gone, without the interpreter's
    teardown of every imported module: that alone took the master 0.2-0.3 s
    of an idle stop (0.1 s in all without it).  Logs and stdio are flushed
    first; the master holds no database or broker connection."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(rc)
