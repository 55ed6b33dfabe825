"""Validating ``request_spec`` before anything touches a database.

RPC payloads arrive from any client; a malformed one must produce an
error reply that names the bad field and what is accepted, never a crash
of the worker and never a half-made claim.
"""

from __future__ import annotations

import dataclasses
import uuid

MAX_INSTANCES = 1000
#: The longest availability zone name (the column holds 255 characters).
MAX_ZONE_CHARS = 255
#: No error reply (or the log line about it) is longer than this.
MAX_ERROR_CHARS = 1000
_FLAVOR_FIELDS = ("vcpus", "memory_mb", "disk_gb")
_SPEC_FIELDS = {"flavor", "num_instances", "availability_zone",
                "instance_uuids"}


class InvalidRequest(ValueError):
    """The request_spec is malformed; the message names the field."""


def shown(value, limit: int = 60) -> str:
    """``repr(value)`` for an error message, cut to ``limit`` characters:
    a client controls the value, and must not control the reply's size."""
    try:
        text = repr(value)
    except Exception:  # e.g. an int beyond Python's digit limit
        return f"<{type(value).__name__}>"
    return text if len(text) <= limit else \
        f"{text[:limit]}... ({len(text)} characters)"


def bounded(message: str, limit: int = MAX_ERROR_CHARS) -> str:
    """An error message cut to ``limit`` characters, saying so."""
    if len(message) <= limit:
        return message
    return f"{message[:limit]}... ({len(message) - limit} more characters)"


def _names(keys, most: int = 5) -> str:
    """A few of the client's (unknown) field names, each cut short."""
    names = sorted(shown(str(k), 40) for k in keys)
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return f"[{', '.join(names[:most])}]{more}"


@dataclasses.dataclass(frozen=True)
class Flavor:
    vcpus: int
    memory_mb: int
    disk_gb: int


@dataclasses.dataclass(frozen=True)
class RequestSpec:
    flavor: Flavor
    num_instances: int
    availability_zone: str | None
    instance_uuids: tuple[str, ...]
    #: True when the caller chose the uuids: a retry may then find some of
    #: them already placed by an earlier attempt whose reply was lost.
    uuids_from_caller: bool = False


def _int_field(value, name: str, minimum: int, maximum: int | None = None
               ) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(
            f"{name} must be an integer >= {minimum}, got "
            f"{type(value).__name__} {shown(value)}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None \
            else f">= {minimum}"
        raise InvalidRequest(f"{name} must be an integer {bound}, got "
                             f"{shown(value)}")
    return value


def parse_request_spec(spec) -> RequestSpec:
    """Turn a wire dict into a RequestSpec, or raise InvalidRequest."""
    if not isinstance(spec, dict):
        raise InvalidRequest(
            f"request_spec must be an object with 'flavor' (vcpus, "
            f"memory_mb, disk_gb), 'num_instances' and optional "
            f"'availability_zone' and 'instance_uuids'; got "
            f"{type(spec).__name__}")
    unknown = set(spec) - _SPEC_FIELDS
    if unknown:
        raise InvalidRequest(
            f"request_spec has {len(unknown)} unknown fields "
            f"{_names(unknown)}; "
            f"accepted: {', '.join(sorted(_SPEC_FIELDS))}")
    flavor = spec.get("flavor")
    if not isinstance(flavor, dict):
        raise InvalidRequest(
            f"request_spec.flavor must be an object with integer "
            f"{', '.join(_FLAVOR_FIELDS)}; got {type(flavor).__name__}")
    missing = [f for f in _FLAVOR_FIELDS if f not in flavor]
    if missing:
        raise InvalidRequest(
            f"request_spec.flavor is missing {', '.join(missing)}; "
            f"required: {', '.join(_FLAVOR_FIELDS)}")
    extra = set(flavor) - set(_FLAVOR_FIELDS)
    if extra:
        raise InvalidRequest(
            f"request_spec.flavor has {len(extra)} unknown fields "
            f"{_names(extra)}; accepted: {', '.join(_FLAVOR_FIELDS)}")
    fl = Flavor(
        vcpus=_int_field(flavor["vcpus"], "request_spec.flavor.vcpus", 1),
        memory_mb=_int_field(flavor["memory_mb"],
                             "request_spec.flavor.memory_mb", 1),
        disk_gb=_int_field(flavor["disk_gb"], "request_spec.flavor.disk_gb",
                           0))
    num = _int_field(spec.get("num_instances", 1),
                     "request_spec.num_instances", 1, MAX_INSTANCES)
    az = spec.get("availability_zone")
    if az is not None and (not isinstance(az, str) or not az.strip()):
        raise InvalidRequest(
            f"request_spec.availability_zone must be a non-empty string or "
            f"null, got {shown(az)}")
    if az is not None and len(az) > MAX_ZONE_CHARS:
        raise InvalidRequest(
            f"request_spec.availability_zone is {len(az)} characters long; "
            f"zone names have at most {MAX_ZONE_CHARS}")
    uuids = spec.get("instance_uuids")
    from_caller = uuids is not None
    if uuids is None:
        uuids = tuple(str(uuid.uuid4()) for _ in range(num))
    else:
        if not isinstance(uuids, (list, tuple)):
            raise InvalidRequest(
                f"request_spec.instance_uuids must be a list of "
                f"num_instances UUID strings, got {type(uuids).__name__}")
        if len(uuids) != num:
            raise InvalidRequest(
                f"request_spec.instance_uuids has {len(uuids)} entries but "
                f"num_instances is {num}; they must match")
        canon = []
        for i, u in enumerate(uuids):
            try:
                canon.append(str(uuid.UUID(str(u))) if isinstance(u, str)
                             else None)
            except ValueError:
                canon.append(None)
            if canon[-1] is None:
                raise InvalidRequest(
                    f"request_spec.instance_uuids[{i}] is not a UUID: "
                    f"{shown(u)}")
        if len(set(canon)) != len(canon):
            raise InvalidRequest(
                "request_spec.instance_uuids contains duplicates; each "
                "instance needs its own UUID")
        uuids = tuple(canon)
    return RequestSpec(fl, num, az, uuids, from_caller)
