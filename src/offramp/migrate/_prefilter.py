"""Which files are worth parsing, decided at memory-scan speed.

The rules' needles (``_registry.needles``) say which byte strings a file
must hold to be parsed.  Most files hold none, and each needle is one pass
over the file, so needles are looked for through *gates*: a substring of
the lowered needles that several share (``event`` stands for ``'Event'``,
``threading.Event`` and ``eventlet`` in any case), looked for in the
lowered file, which ``scan`` makes anyway to count lines.  A file holding
no gate costs a pass per gate; the needles themselves are looked for only
in the few files that hold one.
"""

from __future__ import annotations

from collections.abc import Iterable

# Shorter gates would match too often to save anything.
MIN_GATE = 5


class Prefilter:
    def __init__(self, needles: Iterable[bytes]) -> None:
        written: dict[bytes, list[bytes]] = {}  # lowered needle -> needles as written
        for needle in dict.fromkeys(needles):
            written.setdefault(needle.lower(), []).append(needle)
        # (gate, ((lowered needle, its needles as written), ...)), all lowered.
        self.groups = [(gate, tuple((low, tuple(written[low])) for low in members))
                       for gate, members in gates(tuple(written))]

    def gates_in(self, lowered: bytes) -> list[bytes]:
        """The gates ``lowered`` holds: a pass each.  ``scan`` asks first,
        because the absence of a gate also tells it of other strings
        (no ``event``, no ``eventlet`` to count)."""
        return [gate for gate, _ in self.groups if gate in lowered]

    def wants(self, data: bytes, lowered: bytes | None = None,
              gates: list[bytes] | None = None) -> bool:
        """Whether ``data`` holds any needle (``lowered``: ``data.lower()``,
        and ``gates``: :meth:`gates_in`, when the caller has them already)."""
        lowered = data.lower() if lowered is None else lowered
        gates = self.gates_in(lowered) if gates is None else gates
        for gate, members in self.groups:
            if gate in gates:
                for low, as_written in members:
                    if low in lowered and any(n in data for n in as_written):
                        return True
        return False


def gates(needles: tuple[bytes, ...]) -> list[tuple[bytes, tuple[bytes, ...]]]:
    """``(gate, needles containing it)``, greedily: the substring shared by
    the most needles first, the longest among equals."""
    groups = []
    left = list(needles)
    while left:
        best, members = left[0], (left[0],)
        for needle in left:
            for size in range(MIN_GATE, len(needle) + 1):
                for start in range(len(needle) - size + 1):
                    gate = needle[start:start + size]
                    holders = tuple(n for n in left if gate in n)
                    if (len(holders), len(gate)) > (len(members), len(best)):
                        best, members = gate, holders
        groups.append((best, members))
        left = [n for n in left if n not in members]
    return groups
