"""Each file's analysis, kept on disk by content, so a second run skips it.

``trend`` keeps its per-blob line counts here too, so a second run over the
same history reads only the trees.

An entry is keyed by the file's git blob id (what ``git hash-object``
prints, so a file and its committed blob share one entry) and lives in a
directory named after a fingerprint of this package's own source: a
changed rule or resolver never reads an older engine's findings.

The store is a plain directory, ``$OFFRAMP_CACHE_DIR`` or
``$XDG_CACHE_HOME/offramp`` (``~/.cache/offramp``); ``OFFRAMP_NO_CACHE=1``
or ``--no-cache`` turn it off.  Entries are written to a temporary file and
renamed into place, so a reader sees a whole entry or none; an entry that
does not load (truncated, foreign, from a bug) counts as missing and is
written again.  Engine directories unused for ``STALE_DAYS`` are removed.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import pickle
import sys
import time

from offramp.migrate._analyze import Analysis
from offramp.migrate._registry import Rule, rule_of_kind

ENV_DIR = "OFFRAMP_CACHE_DIR"
ENV_OFF = "OFFRAMP_NO_CACHE"
STALE_DAYS = 30
_PREFIX = "analyses-"
_TMP_NAMES = itertools.count()


def blob_id(data: bytes) -> str:
    """The git blob id of ``data`` (SHA-1 object format)."""
    digest = hashlib.sha1(b"blob %d\0" % len(data))
    digest.update(data)
    return digest.hexdigest()


def engine_fingerprint() -> str:
    """A hash of every source file of ``offramp.migrate``, and the Python
    version (its ``ast`` and pickles differ between versions)."""
    import offramp.migrate

    root = os.path.dirname(os.path.abspath(offramp.migrate.__file__))
    digest = hashlib.sha1(sys.version.encode())
    for dirpath, dirnames, names in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(n for n in names if n.endswith(".py")):
            path = os.path.join(dirpath, name)
            digest.update(os.path.relpath(path, root).encode() + b"\0")
            with open(path, "rb") as fh:
                digest.update(hashlib.sha1(fh.read()).digest())
    return digest.hexdigest()[:20]


# -- what an entry holds ---------------------------------------------------------

def _registry_rule(kind: str) -> Rule:
    rule = rule_of_kind(kind)
    if rule is None:
        raise pickle.UnpicklingError(f"no rule of kind {kind!r}")
    return rule


class _Pickler(pickle.Pickler):
    # Rules are registry singletons, stored by kind and loaded as the same
    # object; a rule refined for one use (its own suggestion or message,
    # Rule.refined) keeps those texts.
    def persistent_id(self, obj):
        if not isinstance(obj, Rule):
            return None
        base = _registry_rule(obj.kind)
        own = tuple(getattr(obj, text) if getattr(obj, text) != getattr(base, text) else None
                    for text in ("suggestion", "message"))
        return ("rule", obj.kind, *own)


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid):
        _, kind, suggestion, message = pid
        return _registry_rule(kind).refined(suggestion, message)


def dumps(analysis: Analysis) -> bytes:
    out = io.BytesIO()
    _Pickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(analysis)
    return out.getvalue()


def loads(payload: bytes) -> Analysis:
    analysis = _Unpickler(io.BytesIO(payload)).load()
    if not isinstance(analysis, Analysis):
        raise pickle.UnpicklingError(f"not an Analysis: {type(analysis).__name__}")
    return analysis


# -- the store ---------------------------------------------------------------------

def entry_key(module: str, wrappers: tuple = ()) -> str:
    """What besides the content an analysis depends on: the module name,
    and the other files' wrappers it was given (``_returns``)."""
    if not wrappers:
        return module
    return "\0".join([module, *(f"{name}={made}" for name, made in wrappers)])


def default_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.environ.get(ENV_DIR) or os.path.join(base, "offramp")


def disabled_by_env() -> bool:
    return os.environ.get(ENV_OFF, "").strip().lower() not in ("", "0", "false", "no")


class Cache:
    """Analyses by ``(blob id, entry_key(...))``, and ``trend``'s line
    counts by blob id, for one engine fingerprint."""

    def __init__(self, directory: str | None = None, fingerprint: str | None = None) -> None:
        self.base = directory or default_dir()
        self._fingerprint = fingerprint
        self.dir = ""  # known once used: a run that analyses nothing reads no source
        self.hits = self.misses = 0

    @classmethod
    def from_env(cls, enabled: bool = True) -> Cache | None:
        """The user's cache, or None when ``--no-cache`` or the environment
        turns it off."""
        return cls() if enabled and not disabled_by_env() else None

    def _path(self, blob: str, module: str) -> str:
        # One flat directory: a cold scan writes an entry per analysed file,
        # and a directory made for each would cost more than the writes.
        key = blob if not module else hashlib.sha1(f"{blob}\0{module}".encode()).hexdigest()
        return os.path.join(self.dir, key)

    def get(self, blob: str, module: str = "") -> Analysis | None:
        entry = self._entry(blob, module)
        return None if entry is None else entry[1]

    def payload(self, blob: str, module: str = "") -> bytes | None:
        """The entry as stored (``dumps`` output), for a worker to send on."""
        entry = self._entry(blob, module)
        return None if entry is None else entry[0]

    def _entry(self, blob: str, module: str) -> tuple[bytes, Analysis] | None:
        self.open()
        try:
            with open(self._path(blob, module), "rb") as fh:
                payload = fh.read()
            analysis = loads(payload)
        except Exception:  # missing, unreadable or corrupt: all mean "analyse again"
            self.misses += 1
            return None
        self.hits += 1
        return payload, analysis

    def put(self, blob: str, module: str, payload: bytes) -> None:
        """Store one entry (``dumps`` output)."""
        self.open()
        self._write(self._path(blob, module), payload)

    def load_counts(self, mode: str) -> dict:
        """``trend``'s per-blob line counts for one counting ``mode`` (the
        locale and binary-file rules), or an empty table."""
        self.open()
        try:
            with open(os.path.join(self.dir, f"counts-{mode}"), "rb") as fh:
                counts = pickle.load(fh)
        except Exception:  # missing or corrupt: count again
            return {}
        return counts if isinstance(counts, dict) else {}

    def save_counts(self, mode: str, counts: dict) -> None:
        self.open()
        self._write(os.path.join(self.dir, f"counts-{mode}"),
                    pickle.dumps(counts, pickle.HIGHEST_PROTOCOL))

    @staticmethod
    def _write(path: str, payload: bytes) -> None:
        """Whole or not at all: a temporary file renamed into place.  A
        cache that cannot be written is skipped, never an error of the run."""
        try:
            # Named by process and a counter, not by tempfile (whose import
            # alone costs a cold scan more than all its writes).
            tmp = os.path.join(os.path.dirname(path), f".tmp-{os.getpid()}-{next(_TMP_NAMES)}")
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
            try:
                fd = os.open(tmp, flags, 0o600)
            except FileNotFoundError:  # the directory went away since open()
                os.makedirs(os.path.dirname(path), exist_ok=True)
                fd = os.open(tmp, flags, 0o600)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(payload)
                os.replace(tmp, path)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError:
            pass

    def open(self) -> None:
        """Once per run: mark this engine's directory used, and drop the
        directories of other engines unused for ``STALE_DAYS``."""
        if self.dir:
            return
        self.dir = os.path.join(self.base, _PREFIX + (self._fingerprint or engine_fingerprint()))
        try:
            os.makedirs(self.dir, exist_ok=True)
            os.utime(self.dir)
            cutoff = time.time() - STALE_DAYS * 86400
            with os.scandir(self.base) as it:
                stale = [e.path for e in it if e.name.startswith(_PREFIX)
                         and e.path != self.dir and e.stat().st_mtime < cutoff]
        except OSError:
            return
        if stale:
            import shutil  # rarely needed, and costly to import

            for path in stale:
                shutil.rmtree(path, ignore_errors=True)
