"""The oslo.messaging side: the ``select_destinations`` endpoint, the RPC
server and a small client.

Imported only after ``offramp.bootstrap()``: importing oslo.messaging
earlier would pin its concurrency backend before the mode is known.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import uuid

import offramp
import oslo_messaging
from oslo_messaging.rpc.server import RPCServer

from cellsched.request import InvalidRequest, bounded, shown
from cellsched.scheduler import NoValidHost, Scheduler

LOG = logging.getLogger(__name__)

API_VERSION = "1.0"
#: Error types a caller should expect; anything else is a server bug.
EXPECTED_ERRORS = ("InvalidRequest", "NoValidHost")


def executor_for_mode() -> str:
    """The oslo.messaging executor that matches the offramp mode."""
    return "eventlet" if offramp.current_mode() == offramp.Mode.EVENTLET \
        else "threading"


def get_transport(conf, url: str | None = None):
    # oslo.messaging's own options go into the same ConfigOpts object.
    return oslo_messaging.get_rpc_transport(
        conf, url=url or conf.cellsched.transport_url)


class SchedulerEndpoint:
    """RPC methods.  Every failure becomes an error reply, never a crash."""

    target = oslo_messaging.Target(version=API_VERSION)

    def __init__(self, scheduler: Scheduler):
        self.scheduler = scheduler

    # ctxt is positional-only: a client argument named "ctxt" lands in
    # ``unexpected`` instead of failing the call with a TypeError.
    @oslo_messaging.expected_exceptions(InvalidRequest, NoValidHost)
    def select_destinations(self, ctxt, /, request_spec=None, **unexpected):
        if unexpected:
            names = sorted(shown(k, 40) for k in unexpected)
            raise InvalidRequest(
                f"select_destinations got {len(names)} unexpected arguments "
                f"[{', '.join(names[:5])}]"
                f"{' and more' if len(names) > 5 else ''}; it accepts only "
                f"request_spec")
        if request_spec is None:
            raise InvalidRequest(
                "select_destinations needs request_spec: {'flavor': "
                "{'vcpus', 'memory_mb', 'disk_gb'}, 'num_instances', "
                "optional 'availability_zone', 'instance_uuids'}")
        try:
            return self.scheduler.select_destinations(request_spec)
        except (InvalidRequest, NoValidHost):
            raise
        except Exception:
            LOG.exception("select_destinations failed unexpectedly")
            raise


def limit_prefetch(conf) -> None:
    """Default the RabbitMQ prefetch to 1 for the server's consumer.

    oslo.messaging acknowledges an RPC request as soon as it is received,
    and with the default unlimited prefetch the broker pushes every queued
    request to a consumer at once.  When a worker stops (SIGTERM, SIGHUP
    restart) requests pushed during the consumer cancel were lost: 8 of
    the calls in flight in a stress run, 2 with prefetch 1.  Concurrency is
    unaffected, since the ack happens on receipt.  A config file can still
    set ``[oslo_messaging_rabbit] rabbit_qos_prefetch_count``.
    """
    import oslo_messaging.opts
    for group, opts in oslo_messaging.opts.list_opts():
        if group == "oslo_messaging_rabbit":
            conf.register_opts(opts, group=group)
            conf.set_default("rabbit_qos_prefetch_count", 1, group=group)


_VERSION = re.compile(r"^[0-9]{1,9}\.[0-9]{1,9}$")
#: Cast by a stopping worker to itself; does nothing (DrainingRPCServer).
WAKE_METHOD = "_cellsched_wake_listener"


def _expected(exc: Exception) -> oslo_messaging.ExpectedException:
    """``exc`` as the server's "expected" failure: replied to the client
    as it is, logged by oslo.messaging at DEBUG only."""
    try:
        raise exc
    except Exception:
        return oslo_messaging.ExpectedException()


class ClientErrorDispatcher(oslo_messaging.RPCDispatcher):
    """The RPC dispatcher, with errors a client causes kept out of the
    ERROR log and every error reply bounded in size.

    oslo.messaging's server logs an unknown method, an unsupported version
    and a malformed message (a method or version that is not a string) as
    "Exception during message handling" at ERROR with a traceback, so any
    client could fill the log.  Here they are answered with the same
    exception (NoSuchMethod, UnsupportedVersion) or InvalidRequest, through
    oslo.messaging's own ExpectedException path, and logged in one WARNING
    line.  Any other exception is untouched: a real fault still gets
    oslo.messaging's ERROR and traceback.  Doing it here, and not with a
    filter on oslo.messaging's logger, also bounds what the client gets
    back, and does not depend on how oslo.messaging words its log lines.
    """

    def dispatch(self, incoming):
        message = incoming.message
        method = message.get("method")
        if method == WAKE_METHOD:
            return None
        try:
            self._check_message(message)
            return super().dispatch(incoming)
        except (oslo_messaging.NoSuchMethod,
                oslo_messaging.UnsupportedVersion, InvalidRequest) as exc:
            bounded_exc = self._bounded(exc)
            self._log_refusal(method, bounded_exc)
            raise _expected(bounded_exc) from None
        except oslo_messaging.ExpectedException as expected:
            exc = expected.exc_info[1]
            bounded_exc = self._bounded(exc)
            if isinstance(exc, InvalidRequest):
                self._log_refusal(method, bounded_exc)
            if bounded_exc is exc:
                raise
            raise _expected(bounded_exc) from None

    @staticmethod
    def _check_message(message) -> None:
        """What oslo.messaging's dispatcher would fail on with a TypeError
        or ValueError (and an ERROR traceback) if a client sent it."""
        method = message.get("method")
        if not isinstance(method, str) or not method:
            raise oslo_messaging.NoSuchMethod(shown(method))
        version = message.get("version", "1.0")
        if not isinstance(version, str) or not _VERSION.match(version):
            raise oslo_messaging.UnsupportedVersion(shown(version),
                                                    method=shown(method))
        if not isinstance(message.get("args", {}), dict):
            raise InvalidRequest(
                f"the arguments of {shown(method)} must be keyword "
                f"arguments (an object), got "
                f"{type(message.get('args')).__name__}")

    @staticmethod
    def _bounded(exc: Exception) -> Exception:
        """``exc``, or one of its type with a message cut to
        MAX_ERROR_CHARS (a 1 MB method name or zone is the client's, not
        the reply's)."""
        text = str(exc)
        if len(text) == len(bounded(text)):
            return exc
        if isinstance(exc, oslo_messaging.NoSuchMethod):
            return oslo_messaging.NoSuchMethod(shown(exc.method, 200))
        if isinstance(exc, oslo_messaging.UnsupportedVersion):
            return oslo_messaging.UnsupportedVersion(
                shown(exc.version, 40), method=shown(exc.method, 200))
        return type(exc)(bounded(text))

    @staticmethod
    def _log_refusal(method, exc: Exception) -> None:
        LOG.warning("Refused a request for %s: %s: %s (a client error; "
                    "no traceback)", shown(method, 80), type(exc).__name__,
                    bounded(str(exc), 300))


def server_target(conf) -> oslo_messaging.Target:
    """This worker's target: the shared topic, and a server name of its
    own (which also names a queue only this worker consumes)."""
    return oslo_messaging.Target(
        topic=conf.cellsched.topic,
        server=f"{socket.gethostname()}-{os.getpid()}")


class DrainingRPCServer(RPCServer):
    """oslo.messaging's RPC server with a prompt, complete stop.

    ``stop_and_drain()`` stops taking messages, waits until every request
    already taken has been answered, and closes the listener.  Two waits
    of oslo.messaging's own stop/wait are cut short, neither of which
    guards a request:

    * the RabbitMQ listener notices a stop only between two waits for the
      broker, and an idle listener waits up to 5 s at a time; a no-op
      message cast to this worker's own queue ends that wait at once;
    * ``wait()`` then shuts down the threading executor, whose idle threads
      each notice the shutdown only when their 1 s wait for work ends.
      Here the requests are counted instead, from the listener's hand-over
      to the end of their reply, and ``wait()`` finishes in the background.
    """

    #: The two methods of oslo.messaging's server that receive (listener
    #: thread) and handle (executor) a request; without them, count
    #: nothing and stop the way oslo.messaging does.
    _HOOKS = ("_on_incoming", "_process_incoming")

    def __init__(self, transport, target, dispatcher, executor):
        super().__init__(transport, target, dispatcher, executor)
        self.own_target = target
        self._counting = all(callable(getattr(RPCServer, h, None))
                             for h in self._HOOKS)
        self._taken = 0
        self._answered = threading.Condition()

    def _on_incoming(self, incoming):
        with self._answered:
            self._taken += 1
        try:
            super()._on_incoming(incoming)
        except BaseException:
            self._done_with_one()
            raise

    def _process_incoming(self, incoming):
        try:
            super()._process_incoming(incoming)   # dispatch, then reply
        finally:
            self._done_with_one()

    def _done_with_one(self) -> None:
        with self._answered:
            self._taken -= 1
            self._answered.notify_all()

    def wake_listener(self) -> None:
        """Cast a no-op to this worker's own queue; the dispatcher answers
        it as a no-op whether it arrives before or after the stop.  One
        attempt (retry=0): with the broker unreachable the stop must not
        wait for it to come back."""
        oslo_messaging.get_rpc_client(
            self.transport, oslo_messaging.Target(
                topic=self.own_target.topic, server=self.own_target.server),
            retry=0,
        ).cast({}, WAKE_METHOD)

    def stop_and_drain(self) -> None:
        """Stop consuming; return once every request taken is answered and
        the listener's connection is closed."""
        try:
            self.wake_listener()
        except Exception as exc:  # the stop still ends, only later
            LOG.warning("Could not wake the RPC listener (%s: %s); the stop "
                        "waits for its next poll", type(exc).__name__, exc)
        self.stop()   # the listener has handed over everything it took
        if not self._counting:
            self.wait()
            return
        with self._answered:
            self._answered.wait_for(lambda: self._taken <= 0)
        self.listener.cleanup()
        # Only idle threads are left; wait() repeats the cleanup harmlessly.
        threading.Thread(target=self.wait, name="rpc-executor-shutdown",
                         daemon=True).start()


def get_server(conf, transport, scheduler: Scheduler) -> DrainingRPCServer:
    """An RPC server on the configured topic with the mode's executor and
    the ClientErrorDispatcher."""
    offramp.set_rpc_defaults(conf)  # sized for the mode; an operator's setting still wins
    # What get_rpc_server() does, with our dispatcher and server class.
    dispatcher = ClientErrorDispatcher([SchedulerEndpoint(scheduler)], None)
    return DrainingRPCServer(transport, server_target(conf), dispatcher,
                             executor_for_mode())


class SchedulerClient:
    """Thin client: calls select_destinations, maps errors to outcomes."""

    def __init__(self, conf, transport=None, timeout: int | None = None):
        self._own_transport = transport is None
        self.transport = transport or get_transport(conf)
        target = oslo_messaging.Target(topic=conf.cellsched.topic,
                                       version=API_VERSION)
        self.client = oslo_messaging.get_rpc_client(
            self.transport, target,
            timeout=timeout or conf.cellsched.rpc_timeout)

    def select_destinations(self, request_spec, retries: int = 1
                            ) -> list[dict]:
        """Call the scheduler; on a timeout, retry with the same uuids.

        oslo.messaging acknowledges a request when a worker receives it, so
        one caught in a worker restart can vanish.  The client names the
        instances itself, which makes a retry safe: the scheduler hands back
        what an earlier attempt already claimed instead of claiming twice.
        """
        spec = request_spec
        if isinstance(spec, dict) and "instance_uuids" not in spec:
            num = spec.get("num_instances", 1)
            if isinstance(num, int) and not isinstance(num, bool) \
                    and 1 <= num <= 1000:
                spec = {**spec, "instance_uuids": [
                    str(uuid.uuid4()) for _ in range(num)]}
        for attempt in range(retries + 1):
            try:
                return self.client.call({}, "select_destinations",
                                        request_spec=spec)
            except oslo_messaging.MessagingTimeout:
                if attempt == retries:
                    raise
                LOG.warning("select_destinations timed out; retrying with "
                            "the same instance uuids (%d/%d)", attempt + 1,
                            retries)

    def close(self) -> None:
        if self._own_transport:
            self.transport.cleanup()


def classify(exc: BaseException) -> str:
    """Outcome name for an RPC failure: NoValidHost, InvalidRequest, ..."""
    if isinstance(exc, oslo_messaging.RemoteError):
        return exc.exc_type or "RemoteError"
    if isinstance(exc, oslo_messaging.MessagingTimeout):
        return "Timeout"
    return type(exc).__name__


def error_message(exc: BaseException) -> str:
    if isinstance(exc, oslo_messaging.RemoteError):
        return str(exc.value)
    return str(exc)
