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


def get_server(conf, transport, scheduler: Scheduler):
    """An RPC server on the configured topic with the mode's executor and
    the ClientErrorDispatcher."""
    target = oslo_messaging.Target(
        topic=conf.cellsched.topic,
        server=f"{socket.gethostname()}-{os.getpid()}")
    # What get_rpc_server() does, with our dispatcher in place of its own.
    dispatcher = ClientErrorDispatcher([SchedulerEndpoint(scheduler)], None)
    return RPCServer(transport, target, dispatcher, executor_for_mode())


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
