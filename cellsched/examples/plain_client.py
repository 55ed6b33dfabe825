"""Ask cellsched for hosts with nothing but oslo.messaging.

This is the whole client side of the RPC contract in cellsched/README.md
("RPC contract"): no cellsched code is imported.  Run it against a
running ``cellsched serve``::

    python plain_client.py \\
        --transport-url rabbit://guest:guest@127.0.0.1:5672/ \\
        --topic cellsched --vcpus 2 --memory-mb 2048 --disk-gb 20 \\
        --num-instances 2 --availability-zone nova

It prints one JSON line per placed instance and exits 0, or prints the
error reply's type and message and exits 1 (NoValidHost, InvalidRequest,
...) or 2 (no answer within the timeout).
"""

import argparse
import json
import sys
import uuid

import oslo_messaging
from oslo_config import cfg

API_VERSION = "1.0"  # the server's target version; no namespace


def make_conf():
    """A private ConfigOpts, so the client leaves ``cfg.CONF`` alone."""
    conf = cfg.ConfigOpts()
    conf(args=[], project="plain-client")
    return conf


def register_missing_switches(conf):
    """oslo.messaging (18.x) reads ``[oslo_messaging_tracing]
    tracing_enabled`` and ``[oslo_messaging_metrics] metrics_enabled`` from
    the conf it is given, but registers them only on the global
    ``cfg.CONF``: on a private ConfigOpts every call failed with
    NoSuchOptError.  Register the two switches (off) where they are
    missing; call this after get_rpc_transport(), so that a release that
    registers them itself keeps its own definitions."""
    for group, name in (("oslo_messaging_tracing", "tracing_enabled"),
                        ("oslo_messaging_metrics", "metrics_enabled")):
        try:
            conf[group][name]
        except (cfg.NoSuchOptError, cfg.NoSuchGroupError):
            conf.register_opt(cfg.BoolOpt(name, default=False), group=group)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--transport-url", required=True)
    p.add_argument("--topic", default="cellsched")
    p.add_argument("--vcpus", type=int, default=1)
    p.add_argument("--memory-mb", type=int, default=512)
    p.add_argument("--disk-gb", type=int, default=10)
    p.add_argument("--num-instances", type=int, default=1)
    p.add_argument("--availability-zone")
    p.add_argument("--timeout", type=int, default=30)
    args = p.parse_args(argv)

    conf = make_conf()
    transport = oslo_messaging.get_rpc_transport(conf, url=args.transport_url)
    register_missing_switches(conf)
    target = oslo_messaging.Target(topic=args.topic, version=API_VERSION)
    client = oslo_messaging.get_rpc_client(transport, target,
                                           timeout=args.timeout)
    request_spec = {
        "flavor": {"vcpus": args.vcpus, "memory_mb": args.memory_mb,
                   "disk_gb": args.disk_gb},
        "num_instances": args.num_instances,
        "availability_zone": args.availability_zone,
        # Naming the instances makes a retry after a timeout safe: the
        # scheduler returns an existing claim instead of claiming again.
        "instance_uuids": [str(uuid.uuid4())
                           for _ in range(args.num_instances)],
    }
    try:
        # The request context is a plain dict; cellsched reads nothing in
        # it, so {} will do.
        selections = client.call({}, "select_destinations",
                                 request_spec=request_spec)
    except oslo_messaging.RemoteError as exc:
        # exc_type: NoValidHost, InvalidRequest, NoSuchMethod,
        # UnsupportedVersion (or another name for a server fault).
        print(f"{exc.exc_type}: {exc.value}", file=sys.stderr)
        return 1
    except oslo_messaging.MessagingTimeout:
        print(f"no answer within {args.timeout}s", file=sys.stderr)
        return 2
    finally:
        transport.cleanup()
    for selection in selections:
        print(json.dumps(selection, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
